"""Score a routing (``base.Routing``, a router's decisions) on a split: quality (mean
score of the routed model), $ per problem, CoDyn's normalized cost, closed gap between
the SBS and the oracle, with bootstrap CIs over problems. Problems whose routed model
has no score there are out of coverage: counted and reported, never scored as
failures. Then each row against the references (``against_references``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import analysis as A
from .base import Router, Routing
from .data import RouterData


def evaluate(routing: Routing, data: RouterData, ci: bool = True) -> dict:
    """The cost counts every model of ``routing.runs`` (default: the chosen one);
    ``routing.outcomes``, when set, are scored instead of the chosen model's cells."""
    choices, runs, outcomes = routing.choices, routing.runs, routing.outcomes
    routed_score = A.routed(data.scores, choices)
    covered = routed_score.notna()
    ids = list(routed_score.index[covered])
    if not ids:
        raise ValueError("the router chose, for every problem, a model without a score there")
    quality = routed_score[covered]
    cost = (A.routed(data.costs, choices) if runs is None else A.paid(data.costs, runs))[covered]
    if outcomes is not None:
        quality, cost = (outcomes[k].loc[ids] for k in ("quality", "cost"))
    # SBS and oracle on the same problems, among the models scored on all of them.
    ref = A.restrict(data.scores.loc[ids], drop="models").scores
    sbs_model, sbs_mean = A.sbs(ref, data.prices, data.costs)
    oracle = A.oracle_mean(ref)
    out = {
        "problems": len(choices), "covered": len(ids), "coverage": f"{len(ids)}/{len(choices)}",
        "quality": float(quality.mean()), "cost_per_problem": float(cost.mean()),
        "cost_per_1k_problems": float(cost.mean() * 1000),
        "normalized_cost": A.codyn_cost(choices[covered], data.prices, runs),
        "sbs_model": sbs_model, "sbs_quality": sbs_mean, "oracle_quality": oracle,
        "closed_gap": A.closed_gap(float(quality.mean()), sbs_mean, oracle),
        "shares": {m: round(float(v), 4) for m, v in choices[covered].value_counts(normalize=True).items()},
    }
    # Per-problem values, for statistics over several routers (the front's CI); not printed.
    out["_per_problem"] = {"ids": ids, "quality": quality.tolist(), "cost": cost.tolist()}
    if ci:
        out["quality_ci"] = A.bootstrap_ci(quality.to_numpy())
        out["cost_ci"] = A.bootstrap_ci(cost.to_numpy())
        # The gap's CI resamples problems jointly: router, SBS and oracle on the same draw.
        oracle_row = ref.max(axis=1).to_numpy()
        sbs_row = ref[sbs_model].to_numpy()
        q = quality.to_numpy()
        rng = np.random.default_rng(0)
        draws = rng.integers(0, len(ids), size=(2000, len(ids)))
        gaps = [A.closed_gap(q[d].mean(), sbs_row[d].mean(), oracle_row[d].mean()) for d in draws]
        gaps = [g for g in gaps if not np.isnan(g)]
        out["closed_gap_ci"] = (float(np.quantile(gaps, 0.025)), float(np.quantile(gaps, 0.975))) if gaps \
            else (float("nan"), float("nan"))
    return out


def train_and_evaluate(router: Router, train: RouterData | None, test: RouterData, ci: bool = True) -> dict:
    """Fit on ``train`` (None: the router is fitted already), route ``test``, score it;
    with what execution feedback cost, for routers that execute (the cascade), and the
    router's report. The routing (``_routing``) rides along, for scoring folds together."""
    if train is not None:
        router.fit(train)
    routing = router.route(test)
    row = {"router": router.name, "peeks": router.peeks, **evaluate(routing, test, ci=ci), "_routing": routing}
    if routing.executions is not None:
        row["executions"] = routing.executions
    row.update(routing.report)
    return row


def against_references(rows: list[dict], strong: dict, weak: dict) -> None:
    """Adds to each row, on that row's own problems: the paired quality difference to
    ``strong`` (the SBS router's row) and to the best other deployable router (the
    best full-coverage row that neither peeks nor is a single model), each with its
    bootstrap CI; and RouteLLM's APGR and CPT(50 %) for the pair strong = the SBS,
    weak = the cheapest model (``weak``: the ``cheapest`` router's row). Rows carry
    their per-problem values (``evaluate``'s ``_per_problem``); NaN where a reference
    has no score on some of the row's problems."""
    def on(row: dict, key: str, ids: list[str]) -> np.ndarray:
        return pd.Series(row["_per_problem"][key], index=row["_per_problem"]["ids"]).reindex(ids).to_numpy()

    deployable = [r for r in rows if not r["peeks"] and not r["partial"] and not r["router"].startswith("model:")]
    for row in rows:
        ids = row["_per_problem"]["ids"]
        quality = np.asarray(row["_per_problem"]["quality"])
        row["diff_vs_sbs"], row["diff_vs_sbs_ci"] = A.paired_diff(quality, on(strong, "quality", ids))
        others = [r for r in deployable if r is not row]
        if others:
            best = max(others, key=lambda r: (r["quality"], -r["cost_per_problem"]))
            row["best_other"] = best["router"]
            row["diff_vs_best_other"], row["diff_vs_best_other_ci"] = A.paired_diff(quality,
                                                                                    on(best, "quality", ids))
        pair = [(float(on(r, "cost", ids).mean()), float(on(r, "quality", ids).mean())) for r in (weak, strong)]
        point = [(row["cost_per_problem"], row["quality"])]
        row["apgr"], row["cpt50"] = A.apgr(point, *pair), A.cpt(point, *pair)
