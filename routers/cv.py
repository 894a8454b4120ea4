"""Scoring routers on a fixed split or by K-fold cross-validation over every problem
of the data. CV folds are stratified by dataset and seeded; each router is trained K
times, each time on the other folds, so every problem is routed exactly once by a
router that never saw it. The out-of-fold decisions are scored together (CIs over all
problems), with the fold-to-fold spread and the seconds each fold's training took."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from .base import Router, Routing
from .data import RouterData
from .scoring import evaluate, train_and_evaluate


def folds(datasets: pd.Series, k: int, seed: int = 0) -> list[list[str]]:
    """Problem id -> dataset, cut into ``k`` folds (ids in ``datasets`` order): each
    dataset's problems shuffled (``seed``) and dealt round-robin. The deal goes on
    where the previous dataset's stopped, so the remainders land on different folds:
    per dataset and in total, fold sizes differ by at most one."""
    if not 2 <= k <= len(datasets):
        raise ValueError(f"{k}-fold CV: needs 2 <= K <= the {len(datasets)} problems")
    rng = np.random.default_rng(seed)
    fold_of, dealt = {}, 0
    for name in dict.fromkeys(datasets):
        ids = datasets.index[datasets == name]
        fold_of.update({pid: (dealt + i) % k for i, pid in enumerate(rng.permutation(ids))})
        dealt += len(ids)
    return [[pid for pid in datasets.index if fold_of[pid] == f] for f in range(k)]


def run_variants(router: Router, variants: Sequence[dict], train: RouterData | None, test: RouterData,
                 ci: bool = True) -> list[dict]:
    """Fit ``router`` on ``train`` once (None: it is fitted already), then route and
    score ``test`` with each routing-time setting of ``variants`` (CoDyn's cost
    weights...: set as attributes); one row per setting, named after it, with the
    seconds the fit took (shared by the settings) and the routing."""
    start = time.perf_counter()
    if train is not None:
        router.fit(train)
    fit_seconds = time.perf_counter() - start
    rows = []
    for params in variants:
        for key, value in params.items():
            setattr(router, key, value)
        start = time.perf_counter()
        row = train_and_evaluate(router, None, test, ci=ci)
        row.update(fit_seconds=fit_seconds, route_seconds=time.perf_counter() - start)
        if params:
            row["router"] += "(" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")"
        rows.append(row)
    return rows


def cross_validate(make: Callable[[], Router], variants: Sequence[dict], data: RouterData, k: int,
                   seed: int = 0) -> list[dict]:
    """K-fold CV of the routers ``make()`` builds (a fresh one per fold): one row per
    setting of ``variants``, scored over all problems from the out-of-fold decisions."""
    per_fold = []
    for test_ids in folds(data.datasets.loc[data.scores.index], k, seed):
        held_out = set(test_ids)
        train = data.subset([pid for pid in data.scores.index if pid not in held_out])
        per_fold.append(run_variants(make(), variants, train, data.subset(test_ids), ci=False))
    return [_pooled([rows[v] for rows in per_fold], data) for v in range(len(variants))]


def _pooled(fold_rows: list[dict], data: RouterData) -> dict:
    """One setting's folds scored as one routing of every problem, plus the spread."""
    routings = [r["_routing"] for r in fold_rows]
    choices = pd.concat([r.choices for r in routings]).loc[data.scores.index]
    runs = None
    if any(r.runs is not None for r in routings):  # the folds' paid-for models, the chosen one by default
        runs = pd.concat([r.choices.map(lambda m: (m,)) if r.runs is None else r.runs
                          for r in routings]).loc[data.scores.index]
    outcomes = None  # the folds' realized quality and $ (the sampling cascade's), where a router has them
    if all(r.outcomes is not None for r in routings):
        outcomes = pd.concat([r.outcomes for r in routings]).loc[data.scores.index]
    quality = [r["quality"] for r in fold_rows]
    row = {"router": fold_rows[0]["router"], "peeks": fold_rows[0]["peeks"],
           **evaluate(Routing(choices, runs=runs, outcomes=outcomes), data),
           "cv": len(fold_rows), "fold_quality": quality, "fold_quality_std": float(np.std(quality, ddof=1)),
           "fold_quality_range": (min(quality), max(quality)),
           "fit_seconds": float(np.mean([r["fit_seconds"] for r in fold_rows])),
           "fold_fit_seconds": [r["fit_seconds"] for r in fold_rows],
           "route_seconds": float(np.sum([r["route_seconds"] for r in fold_rows]))}
    if any("executions" in r for r in fold_rows):
        row["executions"] = sum(r.get("executions", 0) for r in fold_rows)
    # Each fold's own row (what a router reports beyond the scores shows up here).
    row["folds"] = [{key: v for key, v in r.items() if not key.startswith("_")} for r in fold_rows]
    return row
