"""Execution-feedback cascade (ours, beyond the papers): try the cheapest model,
execute its program on the problem's public tests (the examples the model was shown)
in the sandbox, and escalate to the next model only when they fail; the last model
is kept whatever happens. Problems without public tests go to the training SBS.
Every model tried is paid for (its generation's cost counts). The chain: ``front``,
the training split's cost-quality Pareto front of single models (a dominated model
is never worth a try; it ends at the SBS), or ``all`` models in price order.
The problems, their programs (a run's stored ones, or the AdaptiveLLM artifact's first
responses made programs as the replay provider does) and the sandbox come with the
data (``RouterData.execution``); reports the executions the feedback cost."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from . import analysis as A
from .base import Router


class Cascade(Router):
    name = "cascade"

    route_variants = ({"chain": "front"}, {"chain": "all"})

    def __init__(self, chain: str = "front", sandbox: str | None = None, workers: int | None = None,
                 timeout: float = 10.0) -> None:
        if chain not in ("front", "all"):
            raise ValueError(f"chain must be 'front' or 'all', got {chain!r}")
        self.chain, self.sandbox, self.workers, self.timeout = chain, sandbox, workers, timeout
        self.chains: dict[str, list[str]] = {}
        self.fallback = ""

    def fit(self, data):
        scores = A.restrict(data.scores, drop="models").scores
        cost = data.costs.loc[scores.index, scores.columns].mean()
        front = A.pareto_front([(m, float(cost[m]), float(scores[m].mean())) for m in scores.columns])
        self.chains = {"front": [m for m, _, _ in front], "all": A.by_price(list(scores.columns), data.prices)}
        self.fallback = A.sbs(scores, data.prices)[0]
        return self

    def route(self, data):
        from benchmarks.requests import exec_request
        from sandboxes import Limits

        if data.execution is None:
            raise ValueError(f"{data.name}: no programs to execute (the cascade needs a run or the artifact)")
        ids = set(data.scores.index)
        public = {pid: (p, t) for pid, (bench, p) in data.execution.problems.items()
                  if pid in ids and (t := bench.public_tests(p)) is not None}
        programs = data.execution.programs
        choice = {pid: self.fallback for pid in data.scores.index if pid not in public}
        pending = [pid for pid in data.scores.index if pid not in choice]
        tried: dict[str, list[str]] = {pid: [] for pid in data.scores.index}
        limits = Limits(timeout=self.timeout)
        self.executions = 0
        with data.execution.sandbox(self.sandbox, self.workers) as sandbox:
            order = self.chains[self.chain]
            for step, model in enumerate(order):
                for pid in pending:
                    tried[pid].append(model)
                if step == len(order) - 1:
                    choice.update({pid: model for pid in pending})
                    break
                requests = []
                for pid in pending:
                    problem, tests = public[pid]
                    program = programs.get((pid, model))
                    if program is not None:
                        requests.append(exec_request(replace(problem, tests=tests), program, limits, id=pid))
                passed = {v.id for v in sandbox.run(requests) if v.passed}
                self.executions += len(requests)
                choice.update({pid: model for pid in pending if pid in passed})
                pending = [pid for pid in pending if pid not in passed]
        for pid, model in choice.items():
            tried[pid] = tried[pid] or [model]
        self.runs = pd.Series({pid: tuple(models) for pid, models in tried.items()}).loc[data.scores.index]
        return pd.Series(choice).loc[data.scores.index]

    def state(self, folder):
        return {"chains": self.chains, "chain": self.chain, "fallback": self.fallback, "timeout": self.timeout}

    def load_state(self, state, folder):
        self.chains, self.chain, self.fallback, self.timeout = (state[k] for k in ("chains", "chain", "fallback",
                                                                                    "timeout"))

