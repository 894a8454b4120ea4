"""The numbers behind each figure of ``report html``, as pure functions of the
score / cost matrices ((dataset, problem) x model), the samples table, or the rows of
``route compare``. The figures draw exactly these, and the tables under them print
them; every statistic comes from ``routers.analysis``."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from routers import analysis as A

from ..metrics import pass_at_k

STATUSES = ("passed", "failed", "timeout", "runtime_error", "oom", "output_limit", "syntax_error",
            "sandbox_error", "not executed")
# Suffixes that name a model's tuning or format, not the model: dropped in figures.
_SUFFIX = re.compile(r"[-_.](instruct|chat|hf|it|v\d+(\.\d+)*)$", re.I)


def short_names(models: list[str]) -> dict[str, str]:
    """Model -> the name figures show: no organisation prefix, no ``-Instruct``,
    ``-hf``, ``-v0.1``... suffixes. A name that would collide with another's stays whole."""
    def shorten(name: str) -> str:
        out = name.rsplit("/", 1)[-1]
        while (cut := _SUFFIX.sub("", out)) != out and cut:
            out = cut
        return out

    short = {m: shorten(m) for m in models}
    taken = pd.Series(list(short.values())).value_counts()
    return {m: s if taken[s] == 1 else m for m, s in short.items()}


def datasets_of(scores: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(scores.index.get_level_values(0)))


def ci(values) -> tuple[float, float]:
    """The report's one interval: 95 % percentile bootstrap over problems, seed 0."""
    return A.bootstrap_ci(np.asarray(values, dtype=float))


def model_points(scores: pd.DataFrame, costs: pd.DataFrame, prices: dict[str, float]) -> dict:
    """The single-model cost-quality plane of a complete matrix (problems x models):
    each model's mean quality and $ per problem with CIs (models in price order), the
    SBS, the oracle (its quality, and the cost of its per-problem choice, the
    cheapest best model), and the Pareto front over the models (the oracle peeks: not
    on it) with its area over the models' cost range (NaN when they all cost the same)."""
    costs = costs.loc[scores.index, scores.columns]
    points = [{"model": m, "quality": float(scores[m].mean()), "quality_ci": ci(scores[m]),
               "cost": float(costs[m].mean()), "cost_ci": ci(costs[m])} for m in A.by_price(scores.columns, prices)]
    oracle_quality = scores.max(axis=1)
    oracle_cost = A.routed(costs, A.oracle_choice(scores, prices))
    front = A.pareto_front([(p["model"], p["cost"], p["quality"]) for p in points])
    lo, hi = min(p["cost"] for p in points), max(p["cost"] for p in points)
    return {"points": points, "sbs": A.sbs(scores, prices, costs)[0],
            "oracle": {"quality": float(oracle_quality.mean()), "quality_ci": ci(oracle_quality),
                       "cost": float(oracle_cost.mean()), "cost_ci": ci(oracle_cost)},
            "front": [name for name, _, _ in front],
            "front_area": A.front_area(front, lo, hi) if hi > lo else float("nan")}


def gap_bars(scores: pd.DataFrame, prices: dict[str, float] | None, costs: pd.DataFrame | None = None) -> dict:
    """One dataset's oracle-gap panel (a complete matrix): every model's mean score
    with its CI (price order), the SBS, the oracle with its CI, and the oracle gap
    with a CI that resamples problems jointly (oracle and SBS on the same draw; the
    SBS is the full sample's)."""
    sbs_model, sbs_mean = A.sbs(scores, prices, costs)
    best = scores.max(axis=1).to_numpy()
    sbs_row = scores[sbs_model].to_numpy()
    # bootstrap_ci resamples values: resample the problems' positions, pass them as floats
    og_ci = A.bootstrap_ci(np.arange(len(scores)),
                           lambda ix: float(best[ix.astype(int)].mean() - sbs_row[ix.astype(int)].mean()))
    return {"n": len(scores), "bars": [{"model": m, "mean": float(scores[m].mean()), "ci": ci(scores[m])}
                                       for m in A.by_price(scores.columns, prices)],
            "sbs": sbs_model, "sbs_mean": sbs_mean, "oracle": A.oracle_mean(scores), "oracle_ci": ci(best),
            "og": A.oracle_gap(scores), "og_ci": og_ci, "wcr": A.wcr(scores, prices, costs),
            "wcr_strict": A.wcr_strict(scores, prices, costs)}


def matrix_picture(scores: pd.DataFrame, prices: dict[str, float] | None) -> pd.DataFrame:
    """One dataset's pass matrix as drawn: problems (rows) from easiest to hardest by
    mean pass over the models that have a score there (ties keep the problems' order),
    models (columns) cheapest first; missing cells stay NaN."""
    ordered = scores[A.by_price(scores.columns, prices)]
    ease = ordered.mean(axis=1, skipna=True).fillna(-1.0)  # a problem no model has: last
    return ordered.iloc[np.argsort(-ease.to_numpy(), kind="stable")]


def headroom(picture: pd.DataFrame) -> dict:
    """What the pass-matrix picture shows, counted: problems no model ever passes,
    problems every model always passes, the rest (where choosing the model matters),
    and the missing cells."""
    lo, hi = picture.min(axis=1), picture.max(axis=1)
    never, always = int((hi == 0).sum()), int((lo == 1).sum())
    return {"problems": len(picture), "no_model_passes": never, "every_model_always_passes": always,
            "model_choice_matters": len(picture) - never - always - int(hi.isna().sum()),
            "missing_cells": int(picture.isna().sum().sum())}


def status_counts(samples: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Model (given order) x status: samples with that verdict (``not executed``: no
    verdict yet); the known statuses in their fixed order, then any other, sorted."""
    status = samples["status"].fillna("not executed")
    counts = pd.crosstab(samples["model"], status).reindex(index=models, fill_value=0)
    order = [s for s in STATUSES if s in counts.columns] + sorted(set(counts.columns) - set(STATUSES))
    counts = counts.reindex(columns=order).fillna(0).astype(int)
    counts.index.name = counts.columns.name = None
    return counts


def pass_at_k_curves(samples: pd.DataFrame, models: list[str]) -> dict[str, pd.DataFrame]:
    """Per dataset, model x k (1 .. the most samples any problem has there): mean
    unbiased pass@k over the problems with a scored sample (``harness.metrics``);
    NaN beyond the fewest scored samples a problem of that model has."""
    scored = samples[samples["status"].notna() & (samples["status"] != "sandbox_error")]
    out = {}
    for dataset, part in scored.groupby("dataset", sort=False):
        outcomes = {m: {p: list(g["passed"].astype(bool)) for p, g in rows.groupby("problem", sort=False)}
                    for m, rows in part.groupby("model", sort=False)}
        top = max((len(v) for o in outcomes.values() for v in o.values()), default=0)
        ks = range(1, top + 1)
        table = pd.DataFrame(np.nan, index=[m for m in models if m in outcomes], columns=list(ks))
        for m in table.index:
            for key, value in pass_at_k(outcomes[m], ks).items():
                table.loc[m, int(key[5:])] = value
        out[dataset] = table
    return {d: out[d] for d in samples["dataset"].drop_duplicates() if d in out}


def per_sample(samples: pd.DataFrame, models: list[str], column: str) -> dict[str, np.ndarray]:
    """Model -> its samples' values of ``column`` (tokens_out, cost), missing ones left out."""
    return {m: samples.loc[samples["model"] == m, column].dropna().to_numpy(dtype=float) for m in models}


def quantiles(values: np.ndarray) -> dict:
    """What a box plot draws (median, quartiles, extremes) and the mean."""
    if len(values) == 0:
        return {"n": 0}
    q = np.quantile(values, [0, 0.25, 0.5, 0.75, 1])
    return {"n": len(values), "min": q[0], "q1": q[1], "median": q[2], "q3": q[3], "max": q[4],
            "mean": float(np.mean(values))}


def router_points(rows: list[dict]) -> list[dict]:
    """``route compare`` rows as points of the cost-quality plane: ``base`` is the
    router without its variant (``codyn(cost_weight=0.25)`` -> ``codyn``); ``kind``
    model, oracle (a router that reads the answers) or router. CIs are None where the
    row has none (compare scores single models without)."""
    out = []
    for r in rows:
        name = r["router"]
        model = name.startswith("model:")
        out.append({"name": name, "base": name.split("(", 1)[0], "kind": "model" if model else
                    "oracle" if r.get("peeks") else "router", "quality": float(r["quality"]),
                    "cost": float(r["cost_per_problem"]),
                    "quality_ci": _interval(r.get("quality_ci")), "cost_ci": _interval(r.get("cost_ci")),
                    "on_front": bool(r.get("on_front")), "partial": bool(r.get("partial"))})
    return out


def _interval(value) -> tuple[float, float] | None:
    """A row's CI, None when it has none (null in JSON: undefined)."""
    if not value or any(v is None or not np.isfinite(v) for v in value):
        return None
    return float(value[0]), float(value[1])


def router_curves(points: list[dict]) -> dict[str, list[dict]]:
    """Routers with several variants (CoDyn's lambdas, the cascade's chains): base ->
    its points by cost, drawn as one curve."""
    groups: dict[str, list[dict]] = {}
    for p in points:
        if p["kind"] == "router":
            groups.setdefault(p["base"], []).append(p)
    return {b: sorted(ps, key=lambda p: (p["cost"], p["quality"])) for b, ps in groups.items() if len(ps) > 1}


def router_usage(rows: list[dict], models: list[str], prices: dict[str, float] | None) -> list[dict]:
    """Per router (not the single models): the share of problems routed to each model
    (``models`` order), and for routers that executed (the cascade) the executions, per
    problem, and the escalation rate: the row's own (``escalation_rate``, the cascade
    reports it), else the share routed past the pool's cheapest model (problems
    without public tests go to the SBS, and count)."""
    cheapest = A.by_price(models, prices)[0]
    out = []
    for r in rows:
        if r["router"].startswith("model:"):
            continue
        shares = {m: float(r.get("shares", {}).get(m, 0.0)) for m in models}
        row = {"router": r["router"], "shares": shares}
        if r.get("executions") is not None:
            row.update(executions=int(r["executions"]), executions_per_problem=r["executions"] / r["problems"],
                       escalation=float(r.get("escalation_rate", 1.0 - shares[cheapest])))
        out.append(row)
    return out
