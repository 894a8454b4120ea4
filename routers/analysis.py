"""The numbers routing papers report, as pure functions of a problems x models score
matrix (a DataFrame; scores in [0, 1]) and the models' costs.

Ties: wherever several models are best, the cheapest wins (``prices`` order; without
prices, column order). Missing cells (NaN: a model never run on a problem) are never
read as failures: the functions refuse them; restrict the matrix first
(``restrict``), which also reports what was dropped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Restricted:
    scores: pd.DataFrame
    dropped_models: list[str]  # no score on any problem
    dropped_problems: int  # a kept model had no score there


def restrict(scores: pd.DataFrame, drop: str = "problems") -> Restricted:
    """A complete matrix out of one with missing cells. ``drop="problems"``: models
    with no score at all leave the pool, then problems where a kept model has no score
    leave. ``drop="models"``: every model with a missing cell leaves the pool."""
    gone = [m for m in scores.columns if (scores[m].isna().any() if drop == "models" else scores[m].isna().all())]
    kept = scores.drop(columns=gone)
    complete = kept.dropna()
    return Restricted(complete, gone, len(kept) - len(complete))


def _require_complete(scores: pd.DataFrame) -> None:
    if scores.empty or scores.isna().any().any():
        missing = [m for m in scores.columns if scores[m].isna().any()]
        raise ValueError(f"no complete score matrix: {len(scores)} problems x {len(scores.columns)} models"
                         + (f", missing cells in {', '.join(missing)}" if missing else ""))


def by_price(models: Sequence[str], prices: dict[str, float] | None) -> list[str]:
    """Models cheapest first (stable: column order breaks equal prices)."""
    if not prices:
        return list(models)
    return sorted(models, key=lambda m: prices[m])


def cheapest(costs: pd.DataFrame, models: Sequence[str], prices: dict[str, float] | None) -> str:
    """Of ``models``, the one with the lowest mean measured cost per problem in
    ``costs`` (problem x model, $): what a problem costs depends on how many tokens a
    model writes, not on its list price alone. Equal means go to the lower list price;
    a model without any measured cost is left out; with none measured at all, the
    lowest list price."""
    ordered = by_price(models, prices)
    means = costs.reindex(columns=ordered).mean().dropna()
    if means.empty:
        return ordered[0]
    # equal up to the float noise of a mean (costs are ~1e-5: a relative tolerance)
    return next(m for m in means.index if np.isclose(means[m], means.min(), rtol=1e-9, atol=0))


def sbs(scores: pd.DataFrame, prices: dict[str, float] | None = None,
        costs: pd.DataFrame | None = None) -> tuple[str, float]:
    """Single best system: the model with the highest mean score. Of tied models, the
    one ``cheapest`` picks on the matrix's problems when ``costs`` are given (as the
    `cheapest` router does), else the lowest list price."""
    _require_complete(scores)
    means = scores.mean()
    best = means.max()
    tied = [m for m in by_price(scores.columns, prices) if np.isclose(means[m], best, rtol=0, atol=1e-12)]
    model = tied[0] if costs is None or len(tied) == 1 else cheapest(costs.reindex(scores.index), tied, prices)
    return model, float(means[model])


def oracle_choice(scores: pd.DataFrame, prices: dict[str, float] | None = None) -> pd.Series:
    """Per problem, the cheapest model among those with the best score."""
    _require_complete(scores)
    ordered = scores[by_price(scores.columns, prices)]
    return ordered.idxmax(axis=1)  # idxmax takes the first maximum: the cheapest


def best_per_group(scores: pd.DataFrame, groups: np.ndarray | pd.Series, keys, prices: dict[str, float],
                   costs: pd.DataFrame | None = None) -> dict:
    """For each group key, the SBS of the problems in that group (the SBS of all of
    them for a key with no problem): difficulty levels -> models."""
    groups = np.asarray(groups.reindex(scores.index) if isinstance(groups, pd.Series) else groups)
    overall = sbs(scores, prices, costs)[0]
    return {k: sbs(scores[groups == k], prices, costs)[0] if (groups == k).any() else overall for k in keys}


def oracle_mean(scores: pd.DataFrame) -> float:
    _require_complete(scores)
    return float(scores.max(axis=1).mean())


def oracle_gap(scores: pd.DataFrame) -> float:
    """OG = mean_i max_j s_ij - max_j mean_i s_ij."""
    return oracle_mean(scores) - sbs(scores)[1]


def wcr(scores: pd.DataFrame, prices: dict[str, float] | None = None, costs: pd.DataFrame | None = None) -> float:
    """Winner-change rate (CoDyn): share of problems whose best model is not the SBS,
    the best being the cheapest among the top scorers (``oracle_choice``). Tie rule:
    a problem where a cheaper model ties the SBS counts as a change, and so does a
    problem no model solves (all tie at 0: the cheapest "wins") unless the SBS is the
    cheapest. ``wcr_strict`` counts only problems where the SBS is beaten."""
    return float((oracle_choice(scores, prices) != sbs(scores, prices, costs)[0]).mean())


def wcr_strict(scores: pd.DataFrame, prices: dict[str, float] | None = None,
               costs: pd.DataFrame | None = None) -> float:
    """Share of problems where some model scores strictly higher than the SBS (ties
    and problems nobody solves do not count): how often routing can beat the SBS."""
    best = sbs(scores, prices, costs)[0]
    return float((scores.max(axis=1) > scores[best] + 1e-12).mean())


def closed_gap(router: float, sbs_mean: float, oracle: float) -> float:
    """(router - SBS) / (oracle - SBS): 0 = as good as the SBS, 1 = the oracle; NaN
    when the oracle is no better than the SBS."""
    return (router - sbs_mean) / (oracle - sbs_mean) if oracle > sbs_mean else float("nan")


def routed(values: pd.DataFrame, choices: pd.Series) -> pd.Series:
    """Per problem, the value (score or cost) of the model the router chose."""
    cols = values.columns.get_indexer(choices.loc[values.index])
    if (cols < 0).any():
        raise ValueError(f"router chose models outside the matrix: {sorted(set(choices[cols < 0]))}")
    return pd.Series(values.to_numpy()[np.arange(len(values)), cols], index=values.index)


def codyn_cost(choices: pd.Series, model_cost: dict[str, float], runs: pd.Series | None = None) -> float:
    """CoDyn eq. 2: sum_j share_j * cost_j / max_j cost_j, in [0, 1] (1 = always the
    most expensive model). ``runs``: per problem, the tuple of every model paid for
    (a cascade generates with several; then it can exceed 1); default the chosen one."""
    runs = choices.map(lambda m: (m,)) if runs is None else runs.loc[choices.index]
    return float(np.mean([sum(model_cost[m] for m in r) for r in runs]) / max(model_cost.values()))


def paid(values: pd.DataFrame, runs: pd.Series) -> pd.Series:
    """Per problem, the sum of ``values`` (cost) over every model in ``runs`` there."""
    outside = sorted({m for r in runs for m in r} - set(values.columns))
    if outside:
        raise ValueError(f"router chose models outside the matrix: {outside}")
    return pd.Series([float(np.nansum([values.at[p, m] for m in runs[p]])) for p in values.index],
                     index=values.index)


def pareto_front(points: Sequence[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """(name, cost, quality) points not dominated by a cheaper-or-equal, at-least-as-good
    one; sorted by cost."""
    front: list[tuple[str, float, float]] = []
    for name, cost, quality in sorted(points, key=lambda p: (p[1], -p[2])):
        if not front or quality > front[-1][2]:
            front.append((name, cost, quality))
    return front


def front_area(front: Sequence[tuple[str, float, float]], lo: float, hi: float) -> float:
    """Mean quality over the cost range [lo, hi] of the front (AIQ-style): quality at
    cost c is the best front point costing <= c (a step function: one can always
    spend less), 0 below the cheapest point."""
    if hi <= lo:
        raise ValueError("empty cost range")
    area, costs = 0.0, [min(max(c, lo), hi) for _, c, _ in front] + [hi]
    for (_, _, quality), start, end in zip(front, costs, costs[1:], strict=False):
        area += quality * (end - start)
    return area / (hi - lo)


def aiq(points: Sequence[tuple[str, float, float]]) -> float:
    """RouterBench's AIQ: the area under the non-decreasing convex hull of the
    (name, cost, quality) points, divided by their cost range. Between two points the
    hull is their line (mixing two routers at random reaches it); past the best point
    it stays flat. ``front_area`` is the same average over a step function (no mixing)."""
    pts = sorted(((c, q) for _, c, q in points), key=lambda p: (p[0], -p[1]))
    lo, hi = pts[0][0], pts[-1][0]
    if hi <= lo:
        raise ValueError("empty cost range")
    best = max(q for _, q in pts)
    top = next(i for i, (_, q) in enumerate(pts) if q == best)
    # The upper hull from the cheapest point to the cheapest best one is concave and
    # ends at its maximum, hence non-decreasing (Andrew's monotone chain, upper half).
    hull: list[tuple[float, float]] = []
    for c, q in pts[:top + 1]:
        if hull and c == hull[-1][0]:
            continue  # the same cost, lower quality (sorted so)
        while len(hull) >= 2 and ((hull[-1][0] - hull[-2][0]) * (q - hull[-2][1])
                                  - (hull[-1][1] - hull[-2][1]) * (c - hull[-2][0])) >= 0:
            hull.pop()  # on or below the line from the point before it to this one
        hull.append((c, q))
    area = sum((c1 - c0) * (q0 + q1) / 2 for (c0, q0), (c1, q1) in zip(hull, hull[1:], strict=False))
    return (area + best * (hi - hull[-1][0])) / (hi - lo)


def _pgr_curve(points: Sequence[tuple[float, float]], weak: tuple[float, float],
               strong: tuple[float, float]) -> list[tuple[float, float]] | None:
    """RouteLLM's plane for a strong/weak pair: x = the cost's position from the weak
    model's (0) to the strong one's (1), which is the share of calls to the strong
    model when a router only picks between the two; y = PGR = (quality - weak) /
    (strong - weak). The router's (cost, quality) points joined to (0, 0) and (1, 1)
    (mixing with the weak or the strong model reaches the lines between). None when
    there is no pair (the strong model is not dearer and better) or a point lies
    outside the pair's cost range."""
    (cw, qw), (cs, qs) = weak, strong
    if not (cs > cw and qs > qw):
        return None
    xy = sorted(((c - cw) / (cs - cw), (q - qw) / (qs - qw)) for c, q in points)
    if any(not 0 <= x <= 1 for x, _ in xy):
        return None
    return [(0.0, 0.0), *xy, (1.0, 1.0)]


def apgr(points: Sequence[tuple[float, float]], weak: tuple[float, float], strong: tuple[float, float]) -> float:
    """RouteLLM's APGR: the area under the router's PGR curve over x in [0, 1]
    (``_pgr_curve``). One point (x, p) gives (1 + p - x) / 2; a random mix of the pair
    0.5. NaN where the pair or the point is out of range."""
    curve = _pgr_curve(points, weak, strong)
    if curve is None:
        return float("nan")
    return float(sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(curve, curve[1:], strict=False)))


def cpt(points: Sequence[tuple[float, float]], weak: tuple[float, float], strong: tuple[float, float],
        target: float = 0.5) -> float:
    """RouteLLM's CPT(target): the least x (cost position, ~ share of strong calls) at
    which the router's PGR curve reaches ``target`` (CPT(50 %): 0.5). NaN as ``apgr``,
    and for a target the curve never reaches."""
    curve = _pgr_curve(points, weak, strong)
    if curve is None:
        return float("nan")
    for (x0, y0), (x1, y1) in zip(curve, curve[1:], strict=False):
        if y1 >= target:  # y0 < target here: the curve starts at 0 and earlier segments stayed below
            return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0))
    return float("nan")  # a target above 1 that no point reaches


def paired_diff(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, n: int = 2000,
                seed: int = 0) -> tuple[float, tuple[float, float]]:
    """Mean of a - b over the same problems and its percentile bootstrap CI with the
    problems resampled jointly for both (paired): the interval of the difference, far
    narrower than two overlapping intervals when a and b agree on most problems."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return float(d.mean()), bootstrap_ci(d, n=n, seed=seed)


def bootstrap_ci(values: Sequence[float] | np.ndarray, stat: Callable[[np.ndarray], float] = np.mean,
                 n: int = 2000, alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of ``stat`` over problems (resampled with replacement)."""
    arr = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(arr), size=(n, len(arr)))
    stats = np.array([stat(arr[i]) for i in idx])
    return float(np.quantile(stats, alpha / 2)), float(np.quantile(stats, 1 - alpha / 2))
