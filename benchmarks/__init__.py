"""Benchmark adapters, registered by name."""

from __future__ import annotations

from .humaneval import HumanEval
from .io import DataError
from .records import AssertTests, Problem

BENCHMARKS = {cls.name: cls for cls in (HumanEval,)}


def get_benchmark(name: str):
    try:
        return BENCHMARKS[name]()
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; available: {', '.join(sorted(BENCHMARKS))}") from None


__all__ = ["BENCHMARKS", "AssertTests", "DataError", "Problem", "get_benchmark"]
