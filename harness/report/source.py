"""What ``report html`` draws, read from its SOURCE (a run directory, a wide matrix
file, or the bundled AdaptiveLLM artifact) and its routers (``route compare`` run
now, or its JSON output): one ``ReportData``, checked, so that bad input is one
error line before anything is rendered."""

from __future__ import annotations

import json
import math
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import UserError


@dataclass
class ReportData:
    name: str
    kind: str  # run | matrix | adaptivellm
    scores: pd.DataFrame  # (dataset, problem) x model: mean pass over samples; NaN = no scored sample
    costs: pd.DataFrame | None  # same shape: mean $ per sample (None: a matrix file has none)
    prices: dict[str, float] | None  # model -> output $ per Mtok (orders models, breaks ties)
    samples: pd.DataFrame | None  # one row per sample (a run only)
    summary: list[tuple[str, str]]  # the run summary, label -> value
    routers: list[dict] | None = None  # `route compare` rows (``on_front`` marks its Pareto front)
    notes: list[str] = field(default_factory=list)  # what was left out, and why
    # problems in each split routers are scored on (all, train, test): a compare file's must be one
    split_sizes: set[int] = field(default_factory=set)


def load(source: str, routers: list[str] | None = None, compare: str | None = None, log=None) -> ReportData:
    if routers is not None and compare is not None:
        raise UserError("--routers and --compare both add routers: give one")
    if source == "adaptivellm":
        data = _artifact()
    elif (Path(source) / "run.sqlite").is_file():
        data = _run(source)
    elif Path(source).is_file():
        data = _matrix_file(source)
    else:
        raise UserError(f"{source}: neither 'adaptivellm', a run directory nor a matrix file")
    if data.scores.empty or not data.scores.notna().any().any():
        raise UserError(f"{source}: no scored sample (an empty run? run `harness run` on it first)")
    if routers is not None:
        if data.kind == "matrix":
            raise UserError("--routers trains routers on a run directory or 'adaptivellm', not a matrix file")
        from ..routing import compare as run_compare

        data.routers = run_compare(source, "train", "test", routers, log=log)[1:]
    elif compare is not None:
        data.routers = _compare_file(compare, data)
    if data.routers is not None:
        data.notes += [f"router {r['router']!r} was scored on {r['coverage']} test problems only (partial "
                       "coverage): not comparable, never on the front" for r in data.routers if r.get("partial")]
    return data


def _run(source: str) -> ReportData:
    from .. import load_matrix
    from ..store import connect_readonly, read_meta

    m = load_matrix(source)
    if m.passes.columns.empty:
        raise UserError(f"{source}: the run has no models")
    with closing(connect_readonly(source)) as con:
        first, last = con.execute("SELECT min(generated_at), max(executed_at) FROM samples").fetchone()
        version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    key, env = read_meta(source, "run", {}), read_meta(source, "environment")
    s = m.samples
    per_dataset = s.groupby("dataset", sort=False)["problem"].nunique()
    summary = [("source", f"run directory {Path(source).name}"),
               ("datasets", ", ".join(f"{d} ({n} problems)" for d, n in per_dataset.items())),
               ("split / source", f"{key.get('split', 'test')} / {key.get('source') or 'bundled'}"),
               ("models", f"{len(m.passes.columns)}: " + ", ".join(m.passes.columns)),
               ("samples", str(len(s))),
               ("statuses", ", ".join(f"{k} {v}" for k, v in s["status"].fillna("not executed").value_counts()
                                      .sort_index().items())),
               ("wall time", f"{last - first:.0f} s (first sample generated to last executed)"
                if first is not None and last is not None else "not executed yet"),
               ("store", f"run.sqlite, schema version {version}")]
    if env:
        sandbox = env.get("sandbox", "?") + "".join(f", {k} {env[k]}" for k in ("image", "mode") if k in env)
        summary += [("sandbox", f"{sandbox}, {env.get('workers', '?')} workers"),
                    ("versions", f"codeharness {env.get('codeharness', '?')}, Python {env.get('python', '?')}")]
    else:
        summary.append(("sandbox, versions", "not recorded (the run was made before codeharness stored them)"))
    prices = {name: out for name, (_, out) in m.prices.items()}
    import inspect

    from ..router_data import from_run

    # router_data's seeded split: that share of each dataset's problems, rounded, is the test split
    share = inspect.signature(from_run).parameters["test_fraction"].default
    test = sum(round(share * n) for n in m.passes.index.get_level_values(0).value_counts())
    sizes = {len(m.passes), test, len(m.passes) - test}
    return ReportData(str(source), "run", m.passes, m.costs.reindex(m.passes.index), prices, s, summary,
                      split_sizes=sizes)


def _artifact() -> ReportData:
    from routers.data import adaptivellm

    d = adaptivellm()
    index = pd.MultiIndex.from_arrays([d.datasets.loc[d.scores.index], d.scores.index], names=["dataset", "problem"])
    scores = d.pass_rate.set_axis(index)
    # $ per sample, mean over the 5: mean output tokens x price (the artifact records no input tokens).
    costs = (d.tokens * pd.Series(d.prices)[d.tokens.columns] / 1e6).set_axis(index)
    summary = [("source", "the bundled AdaptiveLLM artifact (recorded generations and verdicts, not re-executed)"),
               ("datasets", ", ".join(f"{k} ({v} problems)" for k, v in d.datasets.value_counts(sort=False).items())),
               ("models", f"{len(d.models)}: " + ", ".join(d.models)),
               ("scores", "mean pass over the 5 recorded verdicts per problem ($: mean output tokens x price)")]
    notes = ["statuses, pass@k curves and token/$ distributions: the artifact records verdicts as pass/fail only "
             "and no per-sample table (a replay run of it has them: `harness run --models "
             "examples/adaptivellm-pool.yaml`)"]
    return ReportData("adaptivellm", "adaptivellm", scores, costs, dict(d.prices), None, summary, notes=notes,
                      split_sizes={len(scores), *(len(ids) for ids in d.splits.values())})


def _matrix_file(source: str) -> ReportData:
    from ..routing import score_matrix

    scores, _, _, _ = score_matrix(source)  # one UserError per bad cell / column, as `report oracle-gap`
    summary = [("source", f"matrix file {Path(source).name}"),
               ("datasets", ", ".join(f"{d} ({n} problems)" for d, n in
                                      scores.index.get_level_values(0).value_counts(sort=False).items())),
               ("models", f"{len(scores.columns)}: " + ", ".join(scores.columns))]
    notes = ["cost-quality plane: a matrix file has no costs", "statuses, pass@k curves and token/$ "
             "distributions: a matrix file has no samples", "models are in column order (a matrix file has no prices)"]
    return ReportData(str(source), "matrix", scores, None, None, None, summary, notes=notes)


def _compare_file(path: str, data: ReportData) -> list[dict]:
    """The rows of a `route compare --format json` file, refused unless its
    single models are the source's (a file of another data set)."""
    try:
        doc = json.loads(Path(path).read_text())
        rows = doc["rows"]
        for r in rows:
            if not (isinstance(r["router"], str) and math.isfinite(r["quality"])
                    and math.isfinite(r["cost_per_problem"])):
                raise ValueError(f"row {r['router']!r}: quality and cost_per_problem must be numbers")
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not the output of `route compare --format json` ({exc})") from None
    theirs = {r["router"][6:] for r in rows if r["router"].startswith("model:")}
    ours = {m for m in data.scores.columns if data.scores[m].notna().any()}
    if theirs != ours:
        extra, missing = sorted(theirs - ours), sorted(ours - theirs)
        raise UserError(f"{path}: a comparison of another data set than {data.name} (its models "
                        + "; ".join(filter(None, [f"not in the source: {', '.join(extra)}" if extra else "",
                                                  f"missing: {', '.join(missing)}" if missing else ""])) + ")")
    sizes = data.split_sizes or set(range(1, len(data.scores) + 1))  # a matrix file has no splits
    if any(r["problems"] not in sizes for r in rows):
        raise UserError(f"{path}: a comparison of another data set than {data.name} (scored on "
                        f"{rows[0]['problems']} problems; its splits have {', '.join(map(str, sorted(sizes)))})")
    return rows
