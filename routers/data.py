"""What routers are trained and scored on: per problem, each model's score and cost,
the problem's prompt and dataset, and named splits.

Two sources: a run (``harness.load_matrix``: mean pass over samples, mean $ per
sample) and the AdaptiveLLM artifact scored by the authors' rule (pass@1 = the first
sample's recorded verdict; cost = that sample's output tokens x price)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import problem_key
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
    run: str | None = None  # the run directory the data came from (its programs can be executed)
    # problem x reasoning model: median CoT length in tokens (NaN: none recorded there)
    think_lengths: pd.DataFrame | None = None
    # problem x reference model, weakest first: trials passed out of 5 (ComplexityNet's X1..X3)
    trials: pd.DataFrame | None = None

    @property
    def models(self) -> list[str]:
        return list(self.scores.columns)

    def subset(self, ids: list[str]) -> RouterData:
        pick = lambda f: None if f is None else f.reindex(ids)  # noqa: E731
        return RouterData(self.scores.loc[ids], self.costs.loc[ids], self.prices, self.prompts.loc[ids],
                          self.datasets.loc[ids], self.splits, pick(self.pass_rate), pick(self.tokens), self.name,
                          self.run, pick(self.think_lengths), pick(self.trials))

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
                      think_lengths=artifact_think_lengths().reindex(ids), trials=complexitynet_trials().reindex(ids))


def first_responses() -> dict[tuple[str, str], str]:
    """(problem, model) -> the artifact's first response (the sample pass@1 scores)."""
    return {(row["id"], model): row["responses"][0] for model, row in _generations()}


def _generations():
    for model in ADAPTIVELLM_MODELS:
        for path in sorted((ARTIFACT / "generations").glob(f"{model}-output-*.jsonl.gz")):
            for row in read_records(path):
                yield model, row


def from_run(run: str | Path, test_fraction: float = 0.3, seed: int = 0) -> RouterData:
    """A run's pass matrix; problem ids are ``dataset/problem``; a seeded random
    train/test split (stratified by dataset) is provided. CoT lengths: the run's
    models that recorded thinking tokens, and the artifact's reasoners on the problems
    the artifact has (matched through the benchmarks' aliases); ComplexityNet trials:
    the artifact's, on those problems."""
    from contextlib import closing

    from harness import load_matrix
    from harness.matrix import wide
    from harness.store import connect_readonly

    m = load_matrix(run)
    ids = [f"{d}/{p}" for d, p in m.passes.index]
    scores = m.passes.set_axis(ids)
    costs = m.costs.reindex(m.passes.index).set_axis(ids)
    with closing(connect_readonly(run)) as con:
        prompts = {f"{d}/{p}": text for d, p, text in
                   con.execute("SELECT dataset, problem, min(prompt) FROM samples GROUP BY dataset, problem")}
    if not scores.notna().any().any():
        raise ValueError(f"{run}: no scored samples yet (run `harness run` on it first)")
    datasets = pd.Series([d for d, _ in m.passes.index], index=ids)
    rng = np.random.default_rng(seed)
    test = set()
    for d in sorted(set(datasets)):  # the same share of every dataset, drawn with a seed
        members = sorted(datasets.index[datasets == d])  # plain order: the split does not follow the listing's
        test.update(rng.permutation(members)[:round(test_fraction * len(members))])
    splits = {"test": [i for i in ids if i in test], "train": [i for i in ids if i not in test]}
    prices = {name: out for name, (_, out) in m.prices.items()}
    models = list(scores.columns)
    tokens = wide(m.samples.dropna(subset=["tokens_out"]), "tokens_out", models)
    tokens = tokens.reindex(m.passes.index).set_axis(ids)
    thinking = m.samples[m.samples["thinking_tokens"] > 0]
    own = wide(thinking, "thinking_tokens", sorted(set(thinking["model"])), "median")
    own = own.set_axis([f"{d}/{p}" for d, p in own.index])
    to_run = {alias: f"{d}/{p.id}" for alias, (d, _, p) in problem_index(sorted(set(datasets)), run).items()}

    def from_artifact(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame.index.isin(list(to_run))].rename(index=to_run)

    lengths = pd.concat([from_artifact(artifact_think_lengths()), own], axis=1).reindex(ids)
    return RouterData(scores, costs, prices, pd.Series(prompts).reindex(ids).fillna(""), datasets, splits,
                      pass_rate=scores, tokens=tokens, name=str(run), run=str(run), think_lengths=lengths,
                      trials=from_artifact(complexitynet_trials()).reindex(ids))


def problem_index(datasets: list[str], run: str | Path | None = None) -> dict:
    """Every id a problem of these benchmarks goes by (ours, and AdaptiveLLM's
    aliases) -> (dataset, benchmark, problem); loaded from the source and split the
    run used (``run``), else from the bundled copies."""
    import json
    from contextlib import closing

    from benchmarks import DataError, get_benchmark
    from harness.store import connect_readonly

    key = {}
    if run is not None:
        with closing(connect_readonly(run)) as con:
            row = con.execute("SELECT value FROM meta WHERE key = 'run'").fetchone()
        key = json.loads(row[0]) if row else {}
    out = {}
    for dataset in datasets:
        bench = get_benchmark(dataset)
        try:
            loaded = bench.load(key.get("source"), key.get("split", "test"))
        except (DataError, OSError) as exc:
            raise ValueError(f"{run}: cannot load the run's {dataset} problems again ({exc})") from None
        by_id = {p.id: p for p in loaded}
        out.update({i: (dataset, bench, p) for i, p in by_id.items()})
        out.update({alias: (dataset, bench, by_id[i]) for alias, i in bench.aliases(loaded).items()})
    return out


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
