"""What ``report html`` draws, read from its SOURCE (run directories and wide matrix
files, comma-separated: ``harness.store.sources``; an imported routing data set; or the
bundled AdaptiveLLM artifact) and
its routers (``route compare`` run now, or its JSON output): one ``ReportData``,
checked, so that bad input is one error line before anything is rendered."""

from __future__ import annotations

import json
import math
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError


@dataclass
class ReportData:
    name: str
    kind: str  # run | matrix | adaptivellm | imported
    scores: pd.DataFrame  # (dataset, problem) x model: mean pass over samples; NaN = no scored sample
    costs: pd.DataFrame | None  # same shape: mean $ per sample (None: a matrix file has none)
    prices: dict[str, float] | None  # model -> output $ per Mtok (orders models, breaks ties)
    samples: pd.DataFrame | None  # one row per sample (a run only)
    summary: list[tuple[str, str]]  # the run summary, label -> value
    routers: list[dict] | None = None  # `route compare` rows (``on_front`` marks its Pareto front)
    notes: list[str] = field(default_factory=list)  # what was left out, and why
    # problems in each split routers are scored on (all, train, test): a compare file's must be one
    split_sizes: set[int] = field(default_factory=set)
    input_prices: dict[str, float] | None = None  # model -> input $ per Mtok (a run's; the artifact has none)


def load(source: str, routers: list[str] | None = None, compare: str | None = None, log=None,
         prices: str | None = None) -> ReportData:
    if routers is not None and compare is not None:
        raise UserError("--routers and --compare both add routers: give one")
    from ..route.experiments import no_prices
    from ..store.sources import ARTIFACT, IMPORTED, parse

    src = parse(source)
    if src.kind != IMPORTED:
        no_prices(source, prices)
    data = _imported(src, prices) if src.kind == IMPORTED else _artifact() if src.kind == ARTIFACT \
        else _run(src.paths) if src.kind == "run" else _matrix_file(src)
    if data.scores.empty or not data.scores.notna().any().any():
        raise UserError(f"{source}: no scored sample (an empty run? run `harness run` on it first)")
    if routers is not None:
        if data.kind == "matrix":
            raise UserError("--routers trains routers on run directories or 'adaptivellm', not a matrix file")
        from ..route.experiments import compare as run_compare

        data.routers = run_compare(source, "train", "test", routers, log=log, prices=prices).rows
    elif compare is not None:
        data.routers = _compare_file(compare, data)
    if data.routers is not None:
        data.notes += [f"router {r['router']!r} was scored on {r['coverage']} test problems only (partial "
                       "coverage): not comparable, never on the front" for r in data.routers if r.get("partial")]
    return data


def _run(paths: tuple[str, ...]) -> ReportData:
    from ..store.runstore import connect_readonly, read_meta
    from ..store.sources import load_runs

    source, runs = ",".join(paths), load_runs(paths)
    m = runs.matrix
    if m.passes.columns.empty:
        raise UserError(f"{source}: the run has no models")
    stamps, versions, latest = [], set(), {}
    for path in paths:
        with closing(connect_readonly(path)) as con:
            stamps += [t for row in con.execute("SELECT generated_at, executed_at FROM samples") for t in row
                       if t is not None]
            versions.add(con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
            latest[path] = con.execute("SELECT max(executed_at) FROM samples").fetchone()[0] or 0.0
    env = read_meta(max(paths, key=latest.get), "environment")  # of the run executed last
    s = m.samples
    per_dataset = s.groupby("dataset", sort=False)["problem"].nunique()
    pooled = " (pooled: models matched by name, problems the union)" if len(paths) > 1 else ""
    summary = [("source", f"run director{'ies' if len(paths) > 1 else 'y'} "
                          f"{', '.join(Path(p).name for p in paths)}{pooled}"),
               ("datasets", ", ".join(f"{d} ({n} problems)" for d, n in per_dataset.items())),
               ("split / source", ", ".join(dict.fromkeys(f"{k.get('split', 'test')} / {k.get('source') or 'bundled'}"
                                                          for k in runs.keys))),
               ("models", f"{len(m.passes.columns)}: " + ", ".join(m.passes.columns)),
               ("samples", str(len(s))),
               ("statuses", ", ".join(f"{k} {v}" for k, v in s["status"].fillna("not executed").value_counts()
                                      .sort_index().items())),
               ("wall time", wall_time(stamps)),
               ("store", f"run.sqlite, schema version {', '.join(sorted(versions))}")]
    summary.append(("sandbox", made_by(s)))
    if env:  # the latest command that executed programs
        summary.append(("versions", f"codeharness {env.get('codeharness', '?')}, Python {env.get('python', '?')} "
                                    f"(latest execution: {env.get('sandbox', '?')}, "
                                    f"{env.get('workers', '?')} workers)"))
    else:
        summary.append(("versions", "not recorded (the run was made before codeharness stored them)"))
    near = s[s["near_limit"].fillna(False)]
    per_model = near["model"].value_counts()
    summary.append(("near the CPU limit", f"{len(near)} verdicts used >= 90 % of their CPU budget, "
                    f"{int((near['status'] == 'timeout').sum())} of them time-outs (docs/time-limits.md): "
                    + ", ".join(f"{name} {per_model.get(name, 0)}" for name in m.passes.columns)))
    prices = {name: out for name, (_, out) in m.prices.items()}
    import inspect

    from ..route.from_runs import from_run

    # from_runs.from_run's seeded split: that share of each dataset's problems, rounded, is the test split
    share = inspect.signature(from_run).parameters["test_fraction"].default
    test = sum(round(share * n) for n in m.passes.index.get_level_values(0).value_counts())
    sizes = {len(m.passes), test, len(m.passes) - test}
    return ReportData(source, "run", m.passes, m.costs.reindex(m.passes.index), prices, s, summary,
                      split_sizes=sizes, input_prices={name: price for name, (price, _) in m.prices.items()})


IDLE_GAP = 600.0  # s: longer between two recorded events of a run, nothing ran (stopped, resumed later)


def wall_time(stamps: list[float]) -> str:
    """The time the runs worked: from their events (each sample's generation and
    verdict, ``generated_at`` / ``executed_at``) in time order, the sum of the gaps
    between consecutive events, leaving out every gap over ``IDLE_GAP`` (a resumed
    run's pause); the time before a command's first event (loading a model) is not in it."""
    if not stamps:
        return "not executed yet"
    gaps = np.diff(np.sort(np.asarray(stamps, dtype=float)))
    busy, idle = gaps[gaps <= IDLE_GAP].sum(), gaps[gaps > IDLE_GAP]
    if not len(idle):
        return f"{busy:.0f} s (first sample generated to last executed)"
    return (f"{busy:.0f} s working (first sample generated to last executed, less {len(idle)} idle "
            f"gap{'s' * (len(idle) > 1)} over {IDLE_GAP / 60:.0f} min between runs: {idle.sum():.0f} s)")


def made_by(samples: pd.DataFrame) -> str:
    """The sandboxes that made the verdicts, with how many each (what a store before
    version 5 did not record: counted apart)."""
    done = samples[samples["status"].notna() & ~samples["status"].isin(["generation_error", "sandbox_error"])]

    def shown(column: str, form: str) -> pd.Series:
        return done[column].map(form.format, na_action="ignore").fillna("")

    labels = done["sandbox"].fillna("not recorded") + shown("sandbox_mode", " ({} mode)") \
        + shown("sandbox_image", ", image {}")
    counts = sorted(labels.value_counts().items(), key=lambda kv: (-kv[1], kv[0]))
    return "; ".join(f"{label}: {n} verdicts" for label, n in counts) or "nothing executed"


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


def _imported(src, prices: str | None) -> ReportData:
    """An imported routing data set (``harness.route.experiments.imported``): its scores
    as recorded, its costs (or the price table's) when it has any, models in the
    order of their mean cost per problem (it has no per-token prices)."""
    from routers.formats import detect

    from ..route.experiments import imported, imported_index

    d = imported(src, prices)
    models = list(d.costs.mean().sort_values(kind="stable").index) if d.has_costs else d.models
    index = imported_index(d)
    scores = d.scores[models].set_axis(index)
    what = f"price table {prices}" if prices else "the file's, USD per problem" if d.has_costs else "none recorded"
    summary = [("source", f"{detect(src.paths[0])} file{'s' * (len(src.paths) > 1)} "
                          f"{', '.join(Path(p).name for p in src.paths)}" + (f" ({src.spec})" if src.spec != ",".join(
                              src.paths) else "")),
               ("datasets", ", ".join(f"{k} ({v} problems)" for k, v in d.datasets.value_counts(sort=False).items())),
               ("models", f"{len(models)}: " + ", ".join(models)),
               ("scores", "as the file records them (not re-executed)"), ("costs", what),
               ("splits", ", ".join(f"{k} {len(v)}" for k, v in d.splits.items()))]
    notes = [*d.notes, "statuses, pass@k curves and token/$ distributions: an imported file has no per-sample table"]
    if not d.has_costs:
        notes.append("cost-quality plane: the file records no costs (give --prices FILE)")
    return ReportData(src.spec, "imported", scores, d.costs[models].set_axis(index) if d.has_costs else None, None,
                      None, summary, notes=notes, split_sizes={len(scores), *(len(ids) for ids in d.splits.values())})


def _matrix_file(src) -> ReportData:
    """Matrix files, and run directories read with them as scores only."""
    from ..store.sources import matrix_scores

    scores = matrix_scores(src.paths)  # one UserError per bad cell / column, as `report oracle-gap`
    names = [f"{'run directory' if (Path(p) / 'run.sqlite').is_file() else 'matrix file'} {Path(p).name}"
             for p in src.paths]
    summary = [("source", ", ".join(names) + (" (models matched by name, problems the union)" if len(names) > 1
                                              else "")),
               ("datasets", ", ".join(f"{d} ({n} problems)" for d, n in
                                      scores.index.get_level_values(0).value_counts(sort=False).items())),
               ("models", f"{len(scores.columns)}: " + ", ".join(scores.columns))]
    notes = ["cost-quality plane: a matrix file has no costs", "statuses, pass@k curves and token/$ "
             "distributions: a matrix file has no samples", "models are in column order (a matrix file has no prices)"]
    return ReportData(src.spec, "matrix", scores, None, None, None, summary, notes=notes)


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
