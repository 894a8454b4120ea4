"""The pass matrix of a run, as pandas tables: the long table (one row per sample)
and the wide ones routers read (problem x model: mean pass, mean cost). A cell is
NaN when the model has no scored sample of the problem (never run, or only harness
failures): missing is not failing."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import problem_key

from ..errors import UserError
from .runstore import connect_readonly

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_COLUMNS = ("dataset", "problem", "model", "sample", "status", "passed", "passed_tests", "total_tests",
                  "tokens_in", "tokens_out", "thinking_tokens", "cost", "latency", "wall_time", "timeout",
                  "recorded_passed", "generation_error", "detail", "cpu_time", "max_cpu_time", "limit_kind",
                  "near_limit", "memory_mb", "sandbox", "sandbox_mode", "sandbox_image", "extractor_version")
# A verdict whose slowest run used at least this share of its CPU budget: another
# machine, or load, can tip it over the budget or back (docs/time-limits.md).
NEAR_LIMIT = 0.9
# ``matrix --full``: the texts, which make the table 10-15 x larger (docs/store.md)
FULL_COLUMNS = ("completion", "thinking", "code", "program", "stderr_tail")
FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class RunMatrix:
    samples: pd.DataFrame
    passes: pd.DataFrame  # index (dataset, problem), one column per model: mean pass over samples
    costs: pd.DataFrame  # same shape: mean USD per sample
    prices: dict[str, tuple[float, float]]  # model -> (input, output) USD per Mtok


def load_matrix(run: str | Path, full: bool = False) -> RunMatrix:
    """``full``: the samples table has the texts too (``FULL_COLUMNS``). Problems are
    in natural order (``benchmarks.problem_key``)."""
    import pandas as pd

    with closing(connect_readonly(run)) as con:
        have = {row[1] for row in con.execute("PRAGMA table_info(samples)")}  # a version-2 store: no stderr_tail
        columns = [c if c in have else f"NULL AS {c}" for c in SAMPLE_COLUMNS + (FULL_COLUMNS if full else ())
                   if c != "near_limit"]  # computed below
        samples = pd.read_sql_query(f"SELECT {', '.join(columns)} FROM samples", con)
        models = pd.read_sql_query("SELECT name, price_in, price_out FROM models ORDER BY rowid", con)
    samples["passed"] = samples["passed"].astype("boolean")
    samples["recorded_passed"] = samples["recorded_passed"].astype("boolean")
    samples.insert(SAMPLE_COLUMNS.index("near_limit"), "near_limit", near_limit(samples))
    return from_samples(samples, {r.name: (r.price_in, r.price_out) for r in models.itertuples()})


def from_samples(samples: pd.DataFrame, prices: dict[str, tuple[float, float]]) -> RunMatrix:
    """The matrices of a samples table (one run's, or several pooled: ``harness.store.sources``);
    the columns are ``prices``' models in its order."""
    rank = natural_rank(samples["problem"])
    samples = samples.sort_values(["dataset", "problem", "model", "sample"], ignore_index=True,
                                  key=lambda col: col.map(rank) if col.name == "problem" else col)
    # Only real verdicts score: not yet executed, and harness failures, are missing.
    scored = samples[samples["status"].notna() & (samples["status"] != "sandbox_error")]
    order = list(prices)  # a model with no sample at all is an all-NaN column, not absent
    passes = wide(scored.assign(score=scored["passed"].astype(float)), "score", order)
    costs = wide(samples.dropna(subset=["cost"]), "cost", order)
    return RunMatrix(samples, passes, costs, prices)


def near_limit(samples: pd.DataFrame) -> pd.Series:
    """Per sample: its slowest run's CPU time >= NEAR_LIMIT x its CPU budget, whatever
    the verdict (a pass at 2.97 s of 3 s, a CPU-time timeout); NA where unknown: not
    executed, a harness failure, a wall-clock limit (stores before version 4), or no
    slowest-run time (a stdin/stdout verdict stored before version 5)."""
    import pandas as pd

    known = (samples["limit_kind"] == "cpu") & samples["max_cpu_time"].notna() \
        & ~samples["status"].isin(["sandbox_error", "generation_error"])
    near = (samples["max_cpu_time"] >= NEAR_LIMIT * samples["timeout"]).astype("boolean")
    return near.where(known, pd.NA)


def wide(frame, column: str, models: list[str], how: str = "mean"):
    """Problem (dataset, problem) x model table of ``column`` aggregated over samples."""
    # dropna=False would make every dataset x problem combination a row; models with no
    # value at all come back as all-NaN columns through the reindex.
    wide = frame.pivot_table(index=["dataset", "problem"], columns="model", values=column, aggfunc=how)
    wide = wide.reindex(columns=models)
    wide.columns.name = None
    rank = natural_rank(wide.index.get_level_values("problem"))
    return wide.iloc[sorted(range(len(wide)), key=lambda i: (wide.index[i][0], rank[wide.index[i][1]]))]


def natural_rank(problems) -> dict[str, int]:
    """Problem id -> its place in natural order (HumanEval/2 before HumanEval/10)."""
    return {p: i for i, p in enumerate(sorted(set(problems), key=problem_key))}


def write_matrix(run: str | Path, fmt: str = "parquet", out: str | Path | None = None,
                 full: bool = False) -> list[Path]:
    m = load_matrix(run, full)
    out_dir = Path(out) if out else Path(run)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{out_dir}: cannot create ({exc.strerror or exc})") from None
    written = []
    for name, frame in (("samples", m.samples), ("pass_matrix", m.passes.reset_index()),
                        ("cost_matrix", m.costs.reset_index())):
        target = out_dir / f"{name}.{fmt}"
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            if fmt == "parquet":
                frame.to_parquet(tmp, index=False)
            else:
                frame.to_csv(tmp, index=False)
            tmp.replace(target)
        except OSError as exc:
            raise UserError(f"{target}: cannot write ({exc.strerror or exc})") from None
        written.append(target)
    return written
