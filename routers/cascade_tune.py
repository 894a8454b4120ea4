"""The sample-then-escalate cascade as pure functions of ``Evidence`` (what executing
every sample taught, ``cascade_exec``): play a plan (a chain of models, cheapest
first, and a sample budget per model), tune one under a cost cap, and the numbers
that bound it (public-test false-accept rates, the perfect-filter upper bound).

Playing a plan on a problem with public tests: per model, its samples one after
another up to its budget; the first that passes the public tests is kept; when none
of the chain's does, the last model's sample 0 is (as a plain call to it would).
On a problem with example inputs only (``agree``): per model, its budget of samples
run on those inputs; the model is trusted when they all give the same outputs (one
sample: when it runs without failing), and its answer is the sample in the largest
group of equal outputs (MBR-exec); the last model's such answer is kept anyway.
A problem with nothing to execute gets one model's sample 0. Every sample generated
is paid for; the last model's single sample needs no execution. A plan is given per
group of problems: the kind of check (public tests, example inputs, none), and the
dataset when tuned per dataset (the dataset is known when routing); a problem whose
group has no plan goes to the fallback model's sample 0."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .cascade_exec import Evidence


@dataclass(frozen=True)
class Plan:
    chain: tuple[str, ...]  # models, cheapest first
    budgets: tuple[int, ...]  # samples tried per model (at most)


@dataclass
class Played:
    """Per problem: the kept (model, sample), its score, the $ of every sample
    generated, what was generated (model names, one per sample), the sandbox runs."""

    model: list[str]
    sample: np.ndarray
    quality: np.ndarray
    cost: np.ndarray
    generated: list[tuple[str, ...]]
    executions: np.ndarray
    escalated: np.ndarray


def _step(ev: Evidence, rows: np.ndarray, j: int, k: int, agree: bool, last: bool) -> dict:
    """Model ``j`` with budget ``k`` on problems ``rows``: trusted or not, the sample it
    would answer with, how many samples it generates, their $ and runs."""
    avail = ev.avail[rows, j, :k]
    if agree:
        sig = np.where(avail, ev.agree[rows, j, :k], -1)
        # Group sizes of equal signatures among the samples; failures form no group.
        size = np.where(sig >= 0, (sig[:, :, None] == sig[:, None, :]).sum(2), 0)
        pick = size.argmax(1)  # the first of the largest group (sample 0 when all failed)
        trusted = (size.max(1) == avail.sum(1)) & (avail.sum(1) > 0)
        tried = np.full(len(rows), k)
    else:
        ok = ev.passed[rows, j, :k] & avail
        trusted = ok.any(1)
        pick = np.where(trusted, ok.argmax(1), 0)
        tried = np.where(trusted, pick + 1, k)
    upto = np.arange(k)[None, :] < tried[:, None]
    runs = 0 if last and k == 1 else (ev.runs[rows, j, :k] * upto).sum(1)
    return {"trusted": trusted, "pick": pick, "quality": ev.score[rows, j, :k][np.arange(len(rows)), pick],
            "generated": (avail & upto).sum(1), "cost": (ev.cost[rows, j, :k] * upto).sum(1), "runs": runs}


def groups(ev: Evidence, by_dataset: bool) -> list[tuple[str, str]]:
    """The (kind, dataset) groups of problems a plan is tuned for: per kind of check
    (public tests, example inputs, none), and per dataset too or for all (``*``)."""
    return sorted({(k, d if by_dataset else "*") for k, d in zip(ev.kind, ev.datasets, strict=True)})


def _rows(ev: Evidence, group: tuple[str, str]) -> np.ndarray:
    kind, dataset = group
    return np.flatnonzero((ev.kind == kind) & ((ev.datasets == dataset) | (dataset == "*")))


def play(ev: Evidence, plans: dict[tuple[str, str], Plan], fallback: str) -> Played:
    """Every problem of ``ev`` routed: those of a group (``groups``) by its plan, the
    rest (a group without one) to ``fallback``'s sample 0. On problems with nothing to
    execute (``none``) a plan of one model with one sample is that model's sample 0."""
    n = len(ev.ids)
    fb = ev.models.index(fallback)
    out = Played([fallback] * n, np.zeros(n, int), ev.score[:, fb, 0].copy(), ev.cost[:, fb, 0].copy(),
                 [(fallback,)] * n, np.zeros(n, int), np.zeros(n, bool))
    for group, p in plans.items():
        rows, kind = _rows(ev, group), group[0]
        if not len(rows):
            continue
        pending = np.ones(len(rows), bool)
        out.cost[rows], tried = 0.0, [[] for _ in rows]
        for step, (model, k) in enumerate(zip(p.chain, p.budgets, strict=True)):
            last = step == len(p.chain) - 1
            s = _step(ev, rows, ev.models.index(model), k, kind == "agree", last)
            take = pending & (s["trusted"] | last)
            at = rows[pending]
            out.cost[at] += s["cost"][pending]
            out.executions[at] += np.broadcast_to(s["runs"], pending.shape)[pending]
            out.escalated[at] |= step > 0
            for r in np.flatnonzero(pending):
                tried[r] += [model] * int(s["generated"][r])
            for r in np.flatnonzero(take):
                sample = 0 if last and kind == "public" and not s["trusted"][r] else int(s["pick"][r])
                out.model[rows[r]], out.sample[rows[r]] = model, sample
                out.quality[rows[r]] = ev.score[rows[r], ev.models.index(model), sample]
            pending &= ~take
        for r, models in zip(rows, tried, strict=True):
            out.generated[r] = tuple(models)
    return out


def _points(ev: Evidence, rows: np.ndarray, agree: bool, max_len: int) -> list[tuple[float, float, Plan]]:
    """(total $, total quality, plan) of every plan over ``rows``: chains of up to
    ``max_len`` models in price order, every budget from 1 to the samples there are."""
    n = ev.avail.shape[2]
    tables = {(j, k, last): _step(ev, rows, j, k, agree, last)
              for j in range(len(ev.models)) for k in range(1, n + 1) for last in (False, True)}
    out = []
    for size in range(1, max_len + 1):
        for chain in itertools.combinations(range(len(ev.models)), size):
            for budgets in itertools.product(range(1, n + 1), repeat=size):
                pending, cost, quality = np.ones(len(rows), bool), 0.0, 0.0
                for step, (j, k) in enumerate(zip(chain, budgets, strict=True)):
                    last = step == size - 1
                    t = tables[(j, k, last)]
                    cost += t["cost"][pending].sum()
                    if last:
                        kept = np.where(t["trusted"] | agree, t["quality"], ev.score[rows, j, 0])
                        quality += kept[pending].sum()
                    else:
                        quality += t["quality"][pending & t["trusted"]].sum()
                        pending = pending & ~t["trusted"]
                out.append((cost, quality, Plan(tuple(ev.models[j] for j in chain), budgets)))
    return out


def _front(points: list[tuple]) -> list[tuple]:
    """The (cost, quality, ...) points no cheaper-or-equal one matches in quality,
    cheapest first."""
    front = []
    for point in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or point[1] > front[-1][1] + 1e-9:
            front.append(point)
    return front


def tune(ev: Evidence, max_cost: float, max_len: int = 3, by_dataset: bool = False) -> dict[tuple[str, str], Plan]:
    """A plan per group (``groups``) with the best mean quality over ``ev``'s problems
    at a mean $ per problem <= ``max_cost`` (ties: the cheaper). Problems with nothing
    to execute get one model's sample 0 (the one that fits: not always the SBS). The
    groups' fronts are merged pairwise, pruned to their front at every step: exact, as
    the cost and quality of a choice add up over the groups. Always answers: a cap
    below every choice gets the cheapest."""
    merged: list[tuple] = [(0.0, 0.0, {})]  # (total $, total quality, plans so far)
    for group in groups(ev, by_dataset):
        rows = _rows(ev, group)
        # Nothing to execute: one sample of one model (more samples would only cost more).
        options = _points(ev, rows, group[0] == "agree", max_len if group[0] != "none" else 1)
        merged = _front([(c0 + c1, q0 + q1, {**plans, group: plan})
                         for c0, q0, plans in merged for c1, q1, plan in _front(options)])
    n = len(ev.ids)
    within = [m for m in merged if m[0] / n <= max_cost + 1e-15] or merged[:1]
    return max(within, key=lambda m: (m[1], -m[0]))[2]


def perfect_filter(ev: Evidence, plans: dict[tuple[str, str], Plan], fallback: str) -> tuple[float, float]:
    """Mean quality and $ of ``plans`` if their check were the hidden tests themselves:
    a problem of a group with a plan is solved when any sample within its budgets
    passes them, paid up to that sample; the others get the fallback's sample 0. No
    check does better with these plans (a noisy one may be cheaper: it stops at wrong
    programs)."""
    fb = ev.models.index(fallback)
    quality, cost = ev.score[:, fb, 0].copy(), ev.cost[:, fb, 0].copy()
    for group, plan in plans.items():
        rows = _rows(ev, group)
        if not len(rows):
            continue
        pending, quality[rows], cost[rows] = np.ones(len(rows), bool), 0.0, 0.0
        for model, k in zip(plan.chain, plan.budgets, strict=True):
            j = ev.models.index(model)
            good = (ev.score[rows, j, :k] == 1) & ev.avail[rows, j, :k]
            hit = good.any(1)
            upto = np.arange(k)[None, :] < np.where(hit, good.argmax(1) + 1, k)[:, None]
            cost[rows] += np.where(pending, (ev.cost[rows, j, :k] * upto).sum(1), 0)
            quality[rows] += pending & hit
            pending &= ~hit
    return float(quality.mean()), float(cost.mean())


def false_accepts(ev: Evidence) -> dict[str, dict[str, dict]]:
    """Per model and dataset, over the samples with public tests: how many pass them
    (``accepted``) and the share of those that fail the hidden tests (``rate``, NaN
    with none accepted): what an execution cascade takes for right and is not."""
    out: dict[str, dict[str, dict]] = {}
    for j, model in enumerate(ev.models):
        for d in sorted(set(ev.datasets)):
            rows = (ev.kind == "public") & (ev.datasets == d)
            if rows.any():
                accepted = ev.passed[rows, j] & ev.avail[rows, j]
                n, wrong = int(accepted.sum()), int((accepted & (ev.score[rows, j] < 1)).sum())
                out.setdefault(model, {})[d] = {"accepted": n, "rate": wrong / n if n else float("nan")}
    return out
