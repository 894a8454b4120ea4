"""Execution-feedback cascade (ours, beyond the papers): try the cheapest model,
execute its program on the problem's public tests (the examples the model was shown)
in the sandbox, and escalate to the next model only when they fail; the last model
is kept whatever happens. Problems without public tests go to the training SBS.
Needs a run (its stored programs); reports the executions the feedback cost."""

from __future__ import annotations

from contextlib import closing
from dataclasses import replace

import pandas as pd

from . import analysis as A
from .base import Router


class Cascade(Router):
    name = "cascade"

    def __init__(self, sandbox: str | None = None, workers: int | None = None, timeout: float = 10.0) -> None:
        self.sandbox, self.workers, self.timeout = sandbox, workers, timeout
        self.order: list[str] = []
        self.fallback = ""
        self.executions = 0

    def fit(self, data):
        if data.run is None:
            raise ValueError("the cascade executes the run's programs: give --data RUN_DIR")
        scores = A.restrict(data.scores, drop="models").scores
        self.order = A.by_price(list(scores.columns), data.prices)
        self.fallback = A.sbs(scores, data.prices)[0]
        return self

    def route(self, data):
        from benchmarks import get_benchmark
        from harness.requests import exec_request
        from harness.store import connect_readonly
        from sandboxes import Limits, get_sandbox

        with closing(connect_readonly(data.run)) as con:
            programs = {(f"{d}/{p}", m): prog for d, p, m, prog in con.execute(
                "SELECT dataset, problem, model, program FROM samples WHERE sample = 0 AND program IS NOT NULL")}
        public = {}
        for dataset in sorted(set(data.datasets)):
            bench = get_benchmark(dataset)
            for p in bench.load():
                pid = f"{dataset}/{p.id}"
                if pid in data.scores.index:
                    tests = bench.public_tests(p)
                    public[pid] = (p, tests) if tests is not None else None
        choice = {pid: self.fallback for pid in data.scores.index if public.get(pid) is None}
        pending = [pid for pid in data.scores.index if pid not in choice]
        limits = Limits(timeout=self.timeout)
        self.executions = 0
        with get_sandbox(self.sandbox, self.workers) as sandbox:
            for step, model in enumerate(self.order):
                last = step == len(self.order) - 1
                if last:
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
        return pd.Series(choice).loc[data.scores.index]

    def state(self, folder):
        return {"order": self.order, "fallback": self.fallback, "timeout": self.timeout}

    def load_state(self, state, folder):
        self.order, self.fallback, self.timeout = state["order"], state["fallback"], state["timeout"]
