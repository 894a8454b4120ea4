"""Execution-feedback cascade (ours, beyond the papers): sample-then-escalate. Per
model of a chain (cheapest first), generate its samples one after another up to a
budget and keep the first whose program passes the problem's public tests (the
examples the model was shown, run in the sandbox); the next model is tried only
when none does, and the last model answers whatever happens. Problems without public
tests but with example inputs trust a model whose samples agree on them
(``cascade_tune``: the rules; ``cascade_exec``: what runs). Every sample generated is
paid for; the kept sample's verdict is the score.

Chains: ``front``, the training split's cost-quality Pareto front of single models (a
dominated model is never worth a try; it ends at the SBS); ``all`` models in price
order (both with ``budget`` samples per model, default 1, and the SBS for problems
without public tests); ``tuned``, chain and per-model budgets searched on the
training split (every price-ordered chain of up to ``max_len`` models, budgets 1 to
the samples there are) for the best training quality at a training $ per problem <=
``max_cost`` (default: the training SBS's), FrugalGPT style, with its own chain for
the example-input problems (or the SBS, when that is better), and with
``by_dataset`` one per dataset. The programs and the
sandbox come with the data (``RouterData.execution``; the harness caches verdicts).
Reports the executions a deployment would run, the escalation rate, the models used,
the public-test false-accept rates and the perfect-filter upper bound."""

from __future__ import annotations

import pandas as pd

from . import analysis as A
from .base import Router, Routing
from .cascade_exec import observe
from .cascade_tune import Plan, false_accepts, perfect_filter, play, tune

CHAINS = ("front", "all", "tuned")


class Cascade(Router):
    name = "cascade"

    route_variants = ({"chain": "front"}, {"chain": "all"}, {"chain": "tuned", "by_dataset": False},
                      {"chain": "tuned", "by_dataset": True})

    def __init__(self, chain: str = "front", budget: int = 1, max_cost: float | None = None, max_len: int = 3,
                 by_dataset: bool = False, sandbox: str | None = None, workers: int | None = None,
                 timeout: float = 1.0) -> None:
        # timeout: CPU seconds per public-test run. The examples are tiny inputs (the
        # artifact's passing programs need ~0.01 s on them), while each looping program
        # (~6 % of its samples) takes the whole budget: most of the executing time.
        if chain not in CHAINS:
            raise ValueError(f"chain must be one of {', '.join(CHAINS)}, got {chain!r}")
        if budget < 1 or max_len < 1:
            raise ValueError(f"budget and max_len must be >= 1, got {budget} and {max_len}")
        self.chain, self.budget, self.max_cost, self.max_len = chain, budget, max_cost, max_len
        self.by_dataset, self.sandbox, self.workers, self.timeout = by_dataset, sandbox, workers, timeout
        self.models: list[str] = []
        self.chains: dict[str, list[str]] = {}
        self.tuned: dict[bool, dict[tuple[str, str], Plan]] = {}
        self.fallback, self.cap = "", 0.0

    def fit(self, data):
        scores = A.restrict(data.scores, drop="models").scores
        cost = data.costs.loc[scores.index, scores.columns].mean()
        front = A.pareto_front([(m, float(cost[m]), float(scores[m].mean())) for m in scores.columns])
        self.models = A.by_price(list(scores.columns), data.prices)
        self.chains = {"front": [m for m, _, _ in front], "all": self.models}
        self.fallback = A.sbs(scores, data.prices, data.costs)[0]
        self.cap = float(cost[self.fallback]) if self.max_cost is None else self.max_cost
        # Both tunings, whatever the variant: one fit serves every routing-time setting
        # (``route_variants``), and the search takes seconds once the verdicts are in.
        ev = self._observe(data)
        self.tuned = {split: tune(ev, self.cap, self.max_len, split) for split in (False, True)}
        return self

    def plans(self) -> dict[tuple[str, str], Plan]:
        """The plan per group of problems (``cascade_tune.groups``; none: the SBS)."""
        if self.chain == "tuned":
            return self.tuned[self.by_dataset]
        chain = tuple(self.chains[self.chain])
        return {("public", "*"): Plan(chain, (self.budget,) * len(chain))}

    def _observe(self, data):
        from sandboxes import Limits

        if data.execution is None:
            raise ValueError(f"{data.name}: no programs to execute (the cascade needs a run or the artifact)")
        ids = list(data.scores.index)
        with data.execution.sandbox(self.sandbox, self.workers) as sandbox:
            return observe(data.execution, ids, list(data.datasets.loc[ids]), self.models, sandbox,
                           Limits(timeout=self.timeout))

    def route(self, data):
        ev = self._observe(data)
        plans = self.plans()
        played = play(ev, plans, self.fallback)
        ids = ev.ids
        chosen = pd.Series(played.model, index=ids)
        generated = pd.Series([m for r in played.generated for m in r]).value_counts()
        best, best_cost = perfect_filter(ev, plans, self.fallback)
        everything = Plan(tuple(self.models), (ev.avail.shape[2],) * len(self.models))
        whole, whole_cost = perfect_filter(ev, {(k, "*"): everything for k in ("public", "agree", "none")},
                                           self.fallback)
        report = {
            "plans": {"/".join(g): {"chain": list(p.chain), "budgets": list(p.budgets)} for g, p in plans.items()},
            "problem_kinds": {k: int((ev.kind == k).sum()) for k in ("public", "agree", "none")},
            "escalation_rate": float(played.escalated.mean()),
            "usage": {m: int(n) for m, n in chosen.value_counts().items()},
            "samples_generated": {m: int(n) for m, n in generated.items()},
            "false_accept": false_accepts(ev),
            "perfect_filter_quality": best, "perfect_filter_cost": best_cost,
            "perfect_filter_all_quality": whole, "perfect_filter_all_cost": whole_cost,
            "max_cost": self.cap,
        }
        return Routing(chosen, runs=pd.Series(played.generated, index=ids, dtype=object),
                       executions=int(played.executions.sum()),
                       outcomes=pd.DataFrame({"quality": played.quality, "cost": played.cost}, index=ids),
                       report=report)

    def state(self, folder):
        tuned = {str(split): [[*g, list(p.chain), list(p.budgets)] for g, p in plans.items()]
                 for split, plans in self.tuned.items()}
        return {"chain": self.chain, "budget": self.budget, "by_dataset": self.by_dataset, "models": self.models,
                "chains": self.chains, "fallback": self.fallback, "cap": self.cap, "max_len": self.max_len,
                "timeout": self.timeout, "tuned": tuned}

    def load_state(self, state, folder):
        for key in ("chain", "budget", "by_dataset", "models", "chains", "fallback", "cap", "max_len", "timeout"):
            setattr(self, key, state[key])
        self.tuned = {split == "True": {(kind, d): Plan(tuple(chain), tuple(budgets))
                                        for kind, d, chain, budgets in plans}
                      for split, plans in state["tuned"].items()}
