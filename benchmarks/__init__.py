"""Benchmark adapters, registered by name, and what every stage above needs to know
of a problem: its records, how a program and its tests become a sandbox request
(``requests``) and how code comes out of a completion (``extract``). Imports only
``sandboxes`` (its request records), never ``routers`` or ``harness``.

Adding a benchmark is one module and one line: a module with a subclass of
``base.Benchmark`` and its class in ``BENCHMARKS`` below. The contract: the class
names itself (``name``, ``test_kind``, its sources: ``bundled`` files under
``data/`` with the ``default`` ones, or ``hf_id``) and implements ``problem`` (one
source row as a ``Problem``: id, prompt, tests of one kind (``AssertTests``,
``IOTests``, ``CallTests``), reference programs that must pass and known-wrong ones,
``wrong``, that must fail, both checked by ``benchmarks validate``) and ``prompt``
(the message a model is sent, per prompt style). ``program`` (how a sample becomes a
complete program), ``system``, ``public_tests`` and ``aliases`` have defaults."""

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
