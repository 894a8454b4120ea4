"""Benchmark adapters, registered by name."""

from __future__ import annotations

from .apps import APPS
from .base import Benchmark
from .codecontests import CodeContests
from .humaneval import HumanEval
from .io import DataError
from .leetcode import LeetCode
from .mbpp import MBPP
from .records import AssertTests, CallTests, IOTests, Problem, problem_key
from .runbugrun import RunBugRun

BENCHMARKS: dict[str, type[Benchmark]] = {
    cls.name: cls for cls in (HumanEval, MBPP, APPS, CodeContests, LeetCode, RunBugRun)}


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]()
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; available: {', '.join(sorted(BENCHMARKS))}") from None


__all__ = ["BENCHMARKS", "AssertTests", "Benchmark", "CallTests", "DataError", "IOTests", "Problem",
           "get_benchmark", "problem_key"]
