"""The pass matrix of a run, as pandas tables: the long table (one row per sample)
and the wide ones routers read (problem x model: mean pass, mean cost). A cell is
NaN when the model has no scored sample of the problem (never run, or only harness
failures): missing is not failing."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import UserError
from .store import connect_readonly

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_COLUMNS = ("dataset", "problem", "model", "sample", "status", "passed", "passed_tests", "total_tests",
                  "tokens_in", "tokens_out", "thinking_tokens", "cost", "latency", "wall_time", "timeout",
                  "recorded_passed", "generation_error")
FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class RunMatrix:
    samples: pd.DataFrame
    passes: pd.DataFrame  # index (dataset, problem), one column per model: mean pass over samples
    costs: pd.DataFrame  # same shape: mean USD per sample
    prices: dict[str, tuple[float, float]]  # model -> (input, output) USD per Mtok


def load_matrix(run: str | Path) -> RunMatrix:
    import pandas as pd

    with closing(connect_readonly(run)) as con:
        samples = pd.read_sql_query(f"SELECT {', '.join(SAMPLE_COLUMNS)} FROM samples "
                                    "ORDER BY dataset, problem, model, sample", con)
        models = pd.read_sql_query("SELECT name, price_in, price_out FROM models ORDER BY rowid", con)
    samples["passed"] = samples["passed"].astype("boolean")
    samples["recorded_passed"] = samples["recorded_passed"].astype("boolean")
    # Only real verdicts score: not yet executed, and harness failures, are missing.
    scored = samples[samples["status"].notna() & (samples["status"] != "sandbox_error")]
    order = list(models["name"])  # a model with no sample at all is an all-NaN column, not absent
    passes = wide(scored.assign(score=scored["passed"].astype(float)), "score", order)
    costs = wide(samples.dropna(subset=["cost"]), "cost", order)
    prices = {r.name: (r.price_in, r.price_out) for r in models.itertuples()}
    return RunMatrix(samples, passes, costs, prices)


def wide(frame, column: str, models: list[str], how: str = "mean"):
    """Problem (dataset, problem) x model table of ``column`` aggregated over samples."""
    # dropna=False would make every dataset x problem combination a row; models with no
    # value at all come back as all-NaN columns through the reindex.
    wide = frame.pivot_table(index=["dataset", "problem"], columns="model", values=column, aggfunc=how)
    wide = wide.reindex(columns=models)
    wide.columns.name = None
    return wide


def write_matrix(run: str | Path, fmt: str = "parquet", out: str | Path | None = None) -> list[Path]:
    m = load_matrix(run)
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
