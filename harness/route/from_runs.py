"""Run directories (one, or several pooled: ``harness.store.sources``) as what routers are
trained and scored on (``routers.data.RouterData``), complete: routers are handed it
and never open a run store. Scores (mean pass over samples), costs (mean $ per
sample), output tokens, prompts, a seeded split, CoT lengths, ComplexityNet trials,
and what the cascade executes: the runs' problems (loaded again from the source and
split each run used), their stored samples (every one, with its program, verdict and
$) and a sandbox whose verdicts are cached (``exec_cache``)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pandas as pd

from benchmarks import Benchmark, DataError, Problem, get_benchmark
from routers.data import Execution, RouterData, Sample, artifact_think_lengths, complexitynet_trials, seeded_split

from ..store.matrix import wide
from ..store.runstore import connect_readonly, read_meta
from ..store.sources import load_runs
from .exec_cache import cached_sandbox


def from_run(runs: str | Path | tuple | list, test_fraction: float = 0.3, seed: int = 0) -> RouterData:
    """Run directories' pooled pass matrix (one run, or several: ``harness.store.sources``);
    problem ids are ``dataset/problem``; a seeded random train/test split (stratified
    by dataset) is provided. CoT lengths: the runs' models that recorded thinking
    tokens, and the artifact's reasoners on the problems the artifact has (matched
    through the benchmarks' aliases); ComplexityNet trials: the artifact's, on those
    problems."""
    runs = [str(runs)] if isinstance(runs, (str, Path)) else [str(r) for r in runs]
    name = ",".join(runs)
    m = load_runs(runs).matrix
    ids = [f"{d}/{p}" for d, p in m.passes.index]
    scores = m.passes.set_axis(ids)
    costs = m.costs.reindex(m.passes.index).set_axis(ids)
    prompts = {}
    for run in runs:
        with closing(connect_readonly(run)) as con:
            query = "SELECT dataset, problem, min(prompt) FROM samples GROUP BY dataset, problem"
            for d, p, text in con.execute(query):
                prompts.setdefault(f"{d}/{p}", text)
    if not scores.notna().any().any():
        raise ValueError(f"{name}: no scored samples yet (run `harness run` on it first)")
    datasets = pd.Series([d for d, _ in m.passes.index], index=ids)
    splits = seeded_split(datasets, test_fraction, seed)
    prices = {name: out for name, (_, out) in m.prices.items()}
    models = list(scores.columns)
    tokens = wide(m.samples.dropna(subset=["tokens_out"]), "tokens_out", models)
    tokens = tokens.reindex(m.passes.index).set_axis(ids)
    thinking = m.samples[m.samples["thinking_tokens"] > 0]
    own = wide(thinking, "thinking_tokens", sorted(set(thinking["model"])), "median")
    own = own.set_axis([f"{d}/{p}" for d, p in own.index])
    first = {}  # each dataset loaded once: pooled runs share its split and source
    for run in runs:
        for d in read_meta(run, "run", {}).get("datasets", []):
            first.setdefault(d, run)
    index = {}
    for run in runs:
        index.update(run_problems(run, sorted(d for d in set(datasets) if first.get(d, runs[0]) == run)))
    to_run = {alias: f"{d}/{p.id}" for alias, (d, _, p) in index.items()}
    problems = {f"{d}/{p.id}": (bench, p) for d, bench, p in index.values()}
    problems = {pid: problem for pid, problem in problems.items() if pid in datasets.index}

    def from_artifact(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame.index.isin(list(to_run))].rename(index=to_run)

    lengths = pd.concat([from_artifact(artifact_think_lengths()), own], axis=1).reindex(ids)
    return RouterData(scores, costs, prices, pd.Series(prompts).reindex(ids).fillna(""), datasets, splits,
                      pass_rate=scores, tokens=tokens, name=name,
                      execution=Execution(lambda: (problems, stored_samples(runs)), cached_sandbox),
                      think_lengths=lengths, trials=from_artifact(complexitynet_trials()).reindex(ids))


def run_problems(run: str | Path, datasets: list[str]) -> dict[str, tuple[str, Benchmark, Problem]]:
    """Every id a problem of these datasets goes by (ours, and AdaptiveLLM's aliases)
    -> (dataset, benchmark, problem), loaded from the source and split the run used."""
    key = read_meta(run, "run", {})
    out = {}
    for dataset in datasets:
        bench = get_benchmark(dataset)
        try:
            by_id = bench.by_id(key.get("source"), key.get("split", "test"))
        except (DataError, OSError) as exc:
            raise ValueError(f"{run}: cannot load the run's {dataset} problems again ({exc})") from None
        out.update({i: (dataset, bench, p) for i, p in by_id.items()})
    return out


def stored_samples(runs: list[str]) -> dict[tuple[str, str], list[Sample]]:
    """(``dataset/problem``, model) -> its samples in sample order, the runs' in turn
    (their order when pooled: ``harness.store.sources``): the stored program, our verdict
    (NaN: not executed yet, or a sandbox error: no verdict) and $."""
    out: dict[tuple[str, str], list[Sample]] = {}
    for run in runs:
        with closing(connect_readonly(run)) as con:
            for d, p, m, program, status, passed, cost in con.execute(
                    "SELECT dataset, problem, model, program, status, passed, cost FROM samples ORDER BY sample"):
                scored = status is not None and status != "sandbox_error"
                out.setdefault((f"{d}/{p}", m), []).append(
                    Sample(program, float(passed) if scored else float("nan"), float(cost or 0.0)))
    return out
