"""``route train|eval|compare`` and ``report oracle-gap``: routers and the analysis
over a run, a wide matrix file, an imported routing data set (``routers.formats``), or
the bundled AdaptiveLLM artifact."""

from __future__ import annotations

import ast
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

FORMATS = ("md", "csv", "json")


def load_data(source: str, sandbox: str | None = None, prices: str | None = None):
    """The routers' complete data (``routers.data.RouterData``): the bundled artifact's,
    an imported data set's (``imported``; ``prices``: a price table file) or run
    directories' (``from_runs.from_run``; ``harness.store.sources``), its executions through the cache, in
    ``sandbox`` unless a router names its own (default: docker if ready, else local)."""
    from .exec_cache import with_cache

    if sandbox == "ray" and os.environ.get("RAY_ADDRESS"):
        from sandboxes.ray_sandbox import check_address

        # Before any router runs, and even when every verdict the cascade needs is cached.
        check_address(os.environ["RAY_ADDRESS"])
    from ..store.sources import ARTIFACT, IMPORTED, parse

    src = parse(source)
    if src.kind == IMPORTED:
        data = imported(src, prices)
        if not data.has_costs:
            raise UserError(f"{source}: the file records no costs, and routers are scored on cost: give --prices FILE "
                            "(JSON/YAML, model -> USD per problem; one number for every model compares quality "
                            "alone; docs/formats.md)")
        return with_cache(data, sandbox)
    no_prices(source, prices)
    if src.kind == ARTIFACT:
        from routers.data import adaptivellm

        return with_cache(adaptivellm(), sandbox)
    if src.kind != "run":
        raise UserError(f"{source}: routers need run directories, an imported file or 'adaptivellm'; a matrix "
                        "file has no costs, prompts or programs")
    from .from_runs import from_run

    try:
        return with_cache(from_run(src.paths), sandbox)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def imported(src, prices: str | None = None, log=lambda m: print(m, file=sys.stderr)):
    """An imported routing data set (``routers.formats.load``) as ``RouterData``, with the
    price table ``prices`` (a file) for its costs when given; its notes (rows matched,
    the split used...) logged; one UserError for a bad file or table."""
    from routers.formats import load

    try:
        data = load(list(src.paths), src.spec, prices)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    for note in data.notes:
        log(f"note: {note}")
    return data


def no_prices(source: str, prices: str | None) -> None:
    if prices:
        raise UserError(f"--prices is for imported routing files (docs/formats.md): {source} has its own costs")


def make_router(name: str, params: list[str]):
    kwargs = {}
    for p in params:
        key, sep, value = p.partition("=")
        if not sep:
            raise UserError(f"--param {p!r}: expected key=value")
        try:
            kwargs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key] = value
    return build_router(name, kwargs)


def build_router(name: str, params: dict):
    """The router with these parameters, each checked against the type of its default
    (a number where a number is expected...), so a typo fails here, in one line, not
    minutes into training."""
    import inspect

    from routers import ROUTERS

    if name not in ROUTERS:
        raise UserError(f"unknown router {name!r}; choose from {', '.join(ROUTERS)}")
    cls = ROUTERS[name]
    if not isinstance(params, dict):
        raise UserError(f"router {name!r}: parameters must be a mapping, got {type(params).__name__}")
    signature = inspect.signature(cls.__init__).parameters
    for key, value in params.items():
        if key not in signature or key == "self":
            known = ", ".join(k for k in signature if k != "self") or "none"
            raise UserError(f"router {name!r}: bad --param {key!r} (its parameters: {known})")
        default = signature[key].default
        want = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}.get(type(default))
        if want and (not isinstance(value, want) or (isinstance(value, bool) and bool not in want)):
            raise UserError(f"router {name!r}: --param {key}={value!r}: expected {type(default).__name__} "
                            f"(default {default!r})")
    try:
        return cls(**params)
    except ValueError as exc:
        raise UserError(f"router {name!r}: {exc}") from None


def _split(data, name: str):
    try:
        part = data.split(name)
    except KeyError as exc:
        raise UserError(str(exc).strip("'\"")) from None
    if part.scores.empty:
        raise UserError(f"split {name!r} of {data.name} has no problems")
    return part


def train(name: str, params: list[str], source: str, split: str, out: str, sandbox: str | None = None,
          prices: str | None = None) -> Path:
    router = make_router(name, params)
    router.fit(_split(load_data(source, sandbox, prices), split))
    return router.save(out)


def score(name: str, make, data, train_split: str = "train", test_split: str = "test", cv: int | None = None,
          seed: int = 0, variants=({},), fitted: bool = False) -> list[dict]:
    """Rows of router ``name`` (``make()`` builds one), one per routing-time setting in
    ``variants``: fitted on ``train_split`` (``fitted``: as it is) and scored on
    ``test_split``, or with ``cv=K`` by K-fold CV over all problems (folds seeded by
    ``seed``; ``routers.cv``). A router the data cannot feed is a UserError naming it."""
    from routers.cv import cross_validate, run_variants

    try:
        if cv:
            return cross_validate(make, variants, data, cv, seed)
        train = None if fitted else _split(data, train_split)
        return run_variants(make(), variants, train, _split(data, test_split))
    except ValueError as exc:
        raise UserError(f"router {name!r}: {exc}") from None


@dataclass
class Comparison:
    """``compare``'s answer: how it was scored (``cv`` folds and their ``seed``, None on
    a split), the Pareto front (router names), its area and AIQ with their CIs, and
    one row per router and single model (in ``route compare --format json``, the head
    fields, then ``rows``)."""

    cv: int | None
    seed: int | None
    front_area: float
    front_area_ci: tuple[float, float]
    aiq: float
    aiq_ci: tuple[float, float]
    front: list[str]
    rows: list[dict]


def compare(source: str, train_split: str, test_split: str, names: list[str] | None = None,
            log=None, cv: int | None = None, seed: int = 0, sandbox: str | None = None,
            prices: str | None = None) -> Comparison:
    """Every router with its default parameters, sorted by quality at equal cost
    (quality desc, then $ asc); rows scored on part of the test problems only
    (``partial``: a model without recordings on some) come after the full-coverage
    ones, their quality being over other problems. Each row's paired differences to
    the SBS and the best other router, APGR and CPT(50 %) (``against_references``);
    the Pareto front over routers and single models, its area and AIQ. ``cv=K``:
    K-fold CV over all problems instead of the split. ``sandbox``: what the cascade
    executes in (``load_data``; ``prices``: an imported file's price table). A router
    the data cannot feed (no CoT lengths in a run...) is skipped with a note."""
    import pandas as pd

    from routers import ROUTERS, Routing
    from routers import analysis as A
    from routers.baselines import Cheapest, Published, SingleBest
    from routers.scoring import against_references, evaluate

    data = load_data(source, sandbox, prices)
    test = data if cv else _split(data, test_split)
    if not cv:
        _split(data, train_split)  # a bad split name is an error, not a note per router
    unknown = sorted(set(names or ()) - set(ROUTERS))
    if unknown:
        raise UserError(f"unknown router {unknown[0]!r}; choose from {', '.join(ROUTERS)}")
    from tqdm import tqdm

    from sandboxes.progress import progress

    log = log or (lambda m: tqdm.write(m, file=sys.stderr))  # a line of its own, not glued to the bar
    chosen = [(name, cls) for name, cls in ROUTERS.items() if not names or name in names]
    if any(cls is Published for _, cls in chosen) and data.name != "adaptivellm":
        log(f"note: skipped: router {Published.name!r}: it replays the AdaptiveLLM authors' decisions "
            "(--data adaptivellm only)")
        chosen = [(name, cls) for name, cls in chosen if cls is not Published]

    def rows_of(cls) -> list[dict]:
        return score(cls.name, cls, data, train_split, test_split, cv, seed, getattr(cls, "route_variants", ({},)))

    rows, skipped = [], []
    bar = progress(chosen, desc="routers", unit="router")
    for name, cls in bar:
        bar.set_postfix_str(name)
        try:
            rows += rows_of(cls)
        except UserError as exc:
            log(f"note: skipped: {exc}")
            skipped.append(str(exc))
    if names and not rows:  # every router asked for was skipped: a table of single models answers nothing asked
        raise UserError("no router asked for can run: " + "; ".join(skipped or ["--data adaptivellm only"]))
    for model in data.models:  # single models as points of the cost-quality plane
        choices = pd.Series(model, index=test.scores.index)
        if test.scores[model].notna().any():
            rows.append({"router": f"model:{model}", "peeks": False, **evaluate(Routing(choices), test, ci=False)})
    # The front compares like with like: deployable routers and models scored on every
    # test problem (a model or a published router with partial coverage is listed, not ranked).
    for r in rows:
        r["partial"] = r["covered"] < r["problems"]
    against_references(rows, *(next((r for r in rows if r["router"] == cls.name), None) or rows_of(cls)[0]
                               for cls in (SingleBest, Cheapest)))
    ranked = [r for r in rows if not r["peeks"] and not r["partial"]]
    points = [(r["router"], r["cost_per_problem"], r["quality"]) for r in ranked]
    front = A.pareto_front(points)
    on_front = {p[0] for p in front}
    for r in rows:
        r["on_front"] = r["router"] in on_front
    (area, aiq), (area_ci, aiq_ci) = _areas(points), _areas_ci(ranked)
    for r in rows:
        for key in [k for k in r if k.startswith("_")]:
            del r[key]
    rows.sort(key=lambda r: (r["partial"], -r["quality"], r["cost_per_problem"]))
    return Comparison(cv=cv, seed=seed if cv else None, front_area=area, front_area_ci=area_ci, aiq=aiq,
                      aiq_ci=aiq_ci, front=[p[0] for p in front], rows=rows)


def _areas(points: list[tuple[str, float, float]]) -> tuple[float, float]:
    """The front's area (a step function) and RouterBench's AIQ (the hull) over the
    points' cost range; NaN when every point costs the same (a single model...): no
    range to average over."""
    from routers import analysis as A

    lo, hi = min(p[1] for p in points), max(p[1] for p in points)
    if hi <= lo:
        return math.nan, math.nan
    return A.front_area(A.pareto_front(points), lo, hi), A.aiq(points)


def _areas_ci(rows: list[dict], n: int = 1000, seed: int = 0) -> tuple[tuple[float, float], tuple[float, float]]:
    """Percentile bootstrap of the front's area and of AIQ: problems resampled jointly
    for every router and model (all cover the same problems), both recomputed."""
    import numpy as np

    q = np.array([r["_per_problem"]["quality"] for r in rows])
    c = np.array([r["_per_problem"]["cost"] for r in rows])
    rng = np.random.default_rng(seed)
    draws = [_areas([(r["router"], c[k, draw].mean(), q[k, draw].mean()) for k, r in enumerate(rows)])
             for draw in rng.integers(0, q.shape[1], size=(n, q.shape[1]))]
    out = []
    for values in zip(*draws, strict=True):
        values = [v for v in values if not math.isnan(v)]
        out.append((float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))) if values
                   else (math.nan, math.nan))
    return out[0], out[1]


def oracle_gap_table(source: str, log=lambda m: print(m, file=sys.stderr), prices: str | None = None) -> list[dict]:
    """Per dataset: SBS, oracle, OG, WCR (CoDyn's and strict), and each model's mean
    score and cost (CoDyn's Table 1 layout). ``source``: a run directory or a wide
    matrix file (CSV/Parquet: ``problem``, optional ``dataset``, one numeric column per
    model in [0, 1]), or an imported routing file (costs: its own, or ``prices``' table;
    none: no costs). A dataset left without a complete matrix (a run's dataset no
    model has a scored sample of...) is dropped with a note saying why."""
    from routers import analysis as A

    scores, costs, prices, datasets = score_matrix(source, prices, log)
    out = []
    for dataset in datasets:
        if dataset not in scores.index.get_level_values(0):
            log(f"note: dataset {dataset!r} dropped: the run has no scored sample of it")
            continue
        r = A.restrict(scores.loc[dataset])
        if r.scores.empty:
            log(f"note: dataset {dataset!r} dropped: no problem is scored by every model that has scores "
                f"({len(scores.loc[dataset])} problems, {len(r.dropped_models)} of {len(scores.columns)} models "
                "without any score)")
            continue
        if r.dropped_problems:
            part = scores.loc[dataset, r.scores.columns]
            fewer = ", ".join(f"{m} ({n})" for m, n in part.notna().sum().items() if n < len(part))
            log(f"note: dataset {dataset!r}: {r.dropped_problems} of {len(part)} problems dropped (n = "
                f"{len(r.scores)}): not scored by every model; models covering fewer (problems scored): "
                f"{fewer}")
        cost = costs.loc[dataset] if costs is not None else None
        sbs_model, sbs_mean = A.sbs(r.scores, prices, cost)
        row = {"dataset": dataset, "n": len(r.scores), "sbs_model": sbs_model, "sbs_mean": sbs_mean,
               "oracle_mean": A.oracle_mean(r.scores), "og": A.oracle_gap(r.scores),
               "wcr": A.wcr(r.scores, prices, cost), "wcr_strict": A.wcr_strict(r.scores, prices, cost),
               "dropped_models": r.dropped_models, "dropped_problems": r.dropped_problems,
               "models": {m: {"score": float(r.scores[m].mean()),
                              "cost": float(cost.loc[r.scores.index, m].mean()) if cost is not None else None}
                          for m in r.scores.columns}}
        out.append(row)
    if not out:
        raise UserError(f"{source}: no dataset with a complete score matrix (see the notes)")
    return out


def score_matrix(source: str, prices: str | None = None, log=lambda m: print(m, file=sys.stderr)):
    """(scores, costs, prices, datasets) of run directories, wide matrix files or an
    imported routing file (``harness.store.sources``; costs and prices None when a matrix
    file is among them or the imported file has no costs and no price table ``prices``
    is given); one UserError for anything unreadable."""
    from ..store.sources import ARTIFACT, IMPORTED, load_runs, matrix_scores, parse

    src = parse(source)
    if src.kind == IMPORTED:
        data = imported(src, prices, log)
        index = imported_index(data)
        costs = data.costs.set_axis(index) if data.has_costs else None
        return (data.scores.set_axis(index), costs, data.prices if data.has_costs else None,
                list(dict.fromkeys(data.datasets)))
    no_prices(source, prices)
    if src.kind == ARTIFACT:
        raise UserError(f"{source}: give run directories or matrix files (the artifact's oracle gap: `route compare`)")
    if src.kind == "run":
        runs = load_runs(src.paths)
        m = runs.matrix
        return m.passes, m.costs, {k: v[1] for k, v in m.prices.items()}, runs.datasets
    scores = matrix_scores(src.paths)
    return scores, None, None, list(dict.fromkeys(scores.index.get_level_values(0)))


def imported_index(data):
    """An imported data set's ids (``dataset/<id>``) as the (dataset, problem) index of a pass matrix."""
    import pandas as pd

    return pd.MultiIndex.from_arrays([list(data.datasets), [pid[len(d) + 1:] for pid, d in data.datasets.items()]],
                                     names=["dataset", "problem"])
