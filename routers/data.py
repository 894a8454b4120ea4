"""What routers are trained and scored on: per problem, each model's score and cost,
the problem's prompt and dataset, named splits, and what a router that executes
(the cascade) runs. Routers are handed this; they open no run store.

Three sources: a run (``harness.route.from_runs.from_run``: mean pass over samples, mean $
per sample), the routing data sets others published (``routers.formats``: RouterBench,
RouterDC, EmbedLLM, LLMRouterBench) and, here, the AdaptiveLLM artifact scored by the
authors' rule (pass@1 = the first sample's recorded verdict; cost = that sample's output
tokens x price)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from benchmarks import get_benchmark, problem_key
from benchmarks.base import DATA
from benchmarks.io import read_records

ARTIFACT = DATA / "adaptivellm"
# The paper's pool in price order ($ per Mtok), which `predicted_rank` indexes.
ADAPTIVELLM_MODELS = {
    "Yi-Coder-1.5B-Chat": 0.14, "Qwen2.5-Coder-1.5B-Instruct": 0.14, "CodeLlama-7b-Instruct-hf": 0.42,
    "starcoder2-15b-instruct-v0.1": 0.72, "deepseek-coder-v2-lite-instruct": 0.72, "Codestral-22B-v0.1": 0.95,
    "deepseek-coder-33b-instruct": 1.26, "Qwen2.5-Coder-32B-Instruct": 1.26,
}
REASONERS = tuple(f"DeepSeek-R1-Distill-Qwen-{size}" for size in ("1.5B", "7B", "14B", "32B"))
TRIAL_MODELS = ("CodeLlama", "GPT3.5", "GPT4o")  # ComplexityNet's reference models, weakest first


@dataclass(frozen=True)
class Sample:
    """One generation of a model for a problem, as the cascade sees it: its program
    (None: nothing to run, e.g. a generation error), its recorded verdict on the
    hidden tests (NaN: not scored) and what it cost ($)."""

    program: str | None
    score: float
    cost: float


class Execution:
    """What a router may execute, given with the data by whoever made it: per problem
    id its (benchmark, problem) (``problems``) and per (problem id, model) every
    sample in sample order (``samples``; sample 0 is the one pass@1 scores), both from
    ``load()`` on first use; ``sandbox(name, workers)`` opens a sandbox to run them in
    (``sandboxes.get_sandbox``, or the harness's cached one)."""

    def __init__(self, load: Callable[[], tuple[dict, dict]], sandbox: Callable) -> None:
        self.load, self.sandbox = load, sandbox

    @cached_property
    def _loaded(self) -> tuple[dict, dict]:
        return self.load()

    @property
    def problems(self) -> dict:
        return self._loaded[0]

    @property
    def samples(self) -> dict[tuple[str, str], list[Sample]]:
        return self._loaded[1]


@dataclass(frozen=True)
class RouterData:
    scores: pd.DataFrame  # problem x model, in [0, 1]; NaN = no data
    costs: pd.DataFrame  # problem x model, USD per problem
    prices: dict[str, float]  # ordering for ties (cheapest first)
    prompts: pd.Series  # problem -> prompt text
    datasets: pd.Series  # problem -> dataset
    splits: dict[str, list[str]] = field(default_factory=dict)
    pass_rate: pd.DataFrame | None = None  # mean pass over all samples (AdaptiveLLM's score uses it)
    tokens: pd.DataFrame | None = None  # mean output tokens over samples
    name: str = ""
    execution: Execution | None = None  # the programs and a sandbox (None: nothing to execute)
    # problem x reasoning model: median CoT length in tokens (NaN: none recorded there)
    think_lengths: pd.DataFrame | None = None
    # problem x reference model, weakest first: trials passed out of 5 (ComplexityNet's X1..X3)
    trials: pd.DataFrame | None = None
    responses: pd.DataFrame | None = None  # problem x model: the recorded answer text (an imported file's)
    notes: tuple[str, ...] = ()  # what the source left out or assumed, for the user

    @property
    def has_costs(self) -> bool:
        """False when the source records no cost at all (a file without costs, no price table)."""
        return bool(self.costs.notna().any().any())

    @property
    def models(self) -> list[str]:
        return list(self.scores.columns)

    def subset(self, ids: list[str]) -> RouterData:
        pick = lambda f: None if f is None else f.reindex(ids)  # noqa: E731
        return RouterData(self.scores.loc[ids], self.costs.loc[ids], self.prices, self.prompts.loc[ids],
                          self.datasets.loc[ids], self.splits, pick(self.pass_rate), pick(self.tokens), self.name,
                          self.execution, pick(self.think_lengths), pick(self.trials), pick(self.responses),
                          self.notes)

    def split(self, name: str) -> RouterData:
        if name == "all":
            return self
        if name not in self.splits:
            raise KeyError(f"no split {name!r} in {self.name} (has: {', '.join(self.splits) or 'none'})")
        return self.subset(self.splits[name])


def _literal(value):
    return ast.literal_eval(value) if isinstance(value, str) else value


def adaptivellm() -> RouterData:
    """The artifact, every problem it has (589), with its 411/178 split."""
    first, cost, rate, toks, prompts, datasets = {}, {}, {}, {}, {}, {}
    for model, row in _generations():
        pid, price = row["id"], ADAPTIVELLM_MODELS[model]
        first[(pid, model)] = float(bool(row["results"][0]))
        cost[(pid, model)] = row["output_token_counts"][0] * price / 1e6
        rate[(pid, model)] = float(np.mean([bool(r) for r in row["results"]]))
        toks[(pid, model)] = float(np.mean(row["output_token_counts"]))
        prompts.setdefault(pid, row["prompt"])
        datasets.setdefault(pid, pid.split("/")[0].lower().replace("_", ""))
    ids = sorted(prompts, key=problem_key)
    models = list(ADAPTIVELLM_MODELS)

    def frame(values: dict) -> pd.DataFrame:
        return pd.DataFrame([[values.get((i, m), np.nan) for m in models] for i in ids], index=ids, columns=models)

    splits = {name: [r["id"] for r in read_records(ARTIFACT / "splits" / f"{name}_data.jsonl.gz")]
              for name in ("train", "test")}
    return RouterData(frame(first), frame(cost), dict(ADAPTIVELLM_MODELS), pd.Series(prompts).loc[ids],
                      pd.Series(datasets).loc[ids], splits, frame(rate), frame(toks), name="adaptivellm",
                      execution=Execution(lambda: _artifact_samples(set(ids), sorted(set(datasets.values()))),
                                          default_sandbox),
                      think_lengths=artifact_think_lengths().reindex(ids), trials=complexitynet_trials().reindex(ids))


def _artifact_samples(ids: set[str], datasets: list[str]) -> tuple[dict, dict]:
    """The artifact's problems (AdaptiveLLM's ids are aliases of the bundled ones) and
    its five responses per (problem, model), made programs as the replay provider
    does (no program where we lack the problem: 150 of the 589 have no record here),
    with the authors' verdict and cost of each."""
    from benchmarks.extract import program_for, split_thinking

    problems = {}
    for dataset in datasets:
        bench = get_benchmark(dataset)
        problems.update({i: (bench, p) for i, p in bench.by_id(None, "test").items() if i in ids})
    samples = {}
    for model, row in _generations():
        problem, price = problems.get(row["id"]), ADAPTIVELLM_MODELS[model]
        samples[(row["id"], model)] = [
            Sample(program_for(*problem, split_thinking(response)[1])[1] if problem else None, float(bool(passed)),
                   tokens * price / 1e6)
            for response, passed, tokens in zip(row["responses"], row["results"], row["output_token_counts"],
                                                strict=True)]
    return problems, samples


def default_sandbox(name: str | None, workers: int | None):
    from sandboxes import get_sandbox

    return get_sandbox(name, workers)


def seeded_split(datasets: pd.Series, test_fraction: float = 0.3, seed: int = 0) -> dict[str, list[str]]:
    """Problem id -> dataset, split: ``test_fraction`` of each dataset's problems
    (rounded), drawn with ``seed``, for test, the rest for train; ids in ``datasets``
    order. A run's split and that of a file without its own."""
    rng = np.random.default_rng(seed)
    test = set()
    for d in sorted(set(datasets)):  # the same share of every dataset, drawn with a seed
        members = sorted(datasets.index[datasets == d])  # plain order: the split does not follow the listing's
        test.update(rng.permutation(members)[:round(test_fraction * len(members))])
    ids = list(datasets.index)
    return {"test": [i for i in ids if i in test], "train": [i for i in ids if i not in test]}


def _generations():
    for model in ADAPTIVELLM_MODELS:
        for path in sorted((ARTIFACT / "generations").glob(f"{model}-output-*.jsonl.gz")):
            for row in read_records(path):
                yield model, row


def cost_aware_scores(pass_rate: pd.DataFrame, tokens: pd.DataFrame, prices: dict[str, float]) -> pd.DataFrame:
    """AdaptiveLLM's label score (upstream Train/score.py), per problem i and model j:
    ln(max_j avg_tokens_ij x max_j price_j) x pass_rate_ij - ln(avg_tokens_ij x price_j),
    maxima over the models with data for the problem. High = solves it, cheaply."""
    price = pd.Series(prices).reindex(pass_rate.columns)
    have = pass_rate.notna()
    max_tokens = tokens.where(have).max(axis=1)
    max_price = have.mul(price, axis=1).where(have).max(axis=1)
    term1 = np.log(max_tokens * max_price).to_numpy()[:, None] * pass_rate.to_numpy()
    term2 = np.log(tokens.to_numpy() * price.to_numpy()[None, :])
    return pd.DataFrame(term1 - term2, index=pass_rate.index, columns=pass_rate.columns).where(have)


def think_lengths(model: str = "DeepSeek-R1-Distill-Qwen-7B") -> pd.Series:
    """Median CoT length (tokens) of a reasoning model over its samples, per problem."""
    out = {}
    for path in sorted((ARTIFACT / "think_lengths").glob(f"{model}-output-*.jsonl.gz")):
        for row in read_records(path):
            lengths = [x for x in _literal(row["think_lengths"]) if x is not None]  # failed samples are null
            if lengths:
                out[row["id"]] = float(np.median(lengths))
    if not out:
        raise KeyError(f"no think lengths for {model!r} in {ARTIFACT / 'think_lengths'}")
    return pd.Series(out)


def artifact_think_lengths() -> pd.DataFrame:
    """Problem x the artifact's four DeepSeek-R1-Distill-Qwen reasoners."""
    return pd.DataFrame({m: think_lengths(m) for m in REASONERS})


def complexitynet_trials() -> pd.DataFrame:
    """Problem x the artifact's ComplexityNet reference models (CodeLlama, GPT-3.5,
    GPT-4o: weakest first): trials passed out of 5."""
    cols = {}
    for model in TRIAL_MODELS:
        passed = {}
        for path in sorted((ARTIFACT / "complexitynet_baseline").glob(f"{model}-output-*.jsonl.gz")):
            for row in read_records(path):
                passed[row["id"]] = sum(bool(r) for r in _literal(row["results"]))
        cols[model] = pd.Series(passed)
    return pd.DataFrame(cols)


def authors_predictions(name: str = "predictions_1") -> pd.Series:
    """The authors' routed model per test problem (``predicted_rank`` indexes the
    pool in price order)."""
    models = list(ADAPTIVELLM_MODELS)
    rows = read_records(ARTIFACT / "splits" / f"{name}.jsonl.gz")
    return pd.Series({r["id"]: models[int(r["predicted_rank"])] for r in rows})
