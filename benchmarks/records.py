"""Records every stage shares about a benchmark problem."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AssertTests:
    """A check program run after the candidate, in the candidate's namespace
    (HumanEval, MBPP, LeetCodeDataset)."""

    code: str


@dataclass(frozen=True)
class IOTests:
    """stdin -> expected stdout pairs (APPS, CodeContests, RunBugRun); judged by
    ``sandboxes.judge`` rules."""

    cases: tuple[tuple[str, str], ...]
    case_sensitive: bool = True
    strict_integers: bool = False  # "50.0" is not "50" (AtCoder); else numeric tolerance applies


@dataclass(frozen=True)
class CallTests:
    """Call ``fn_name`` (a function, or a method of a fresh ``Solution()`` when
    ``method``) with each case's arguments; compare its return value as the APPS
    grader does. Cases are (JSON argument list, JSON expected value)."""

    fn_name: str
    cases: tuple[tuple[str, str], ...]
    method: bool = False


Tests = AssertTests | IOTests | CallTests


@dataclass(frozen=True)
class Problem:
    benchmark: str
    id: str
    prompt: str
    tests: Tests
    entry_point: str = ""
    references: tuple[str, ...] = ()  # complete reference programs
    wrong: tuple[str, ...] = ()  # complete known-wrong programs: each must fail (``benchmarks validate``)
    time_limit: float | None = None  # seconds per test, as the benchmark states it
    metadata: dict = field(default_factory=dict, compare=False)

    @property
    def test_count(self) -> int:
        return 1 if isinstance(self.tests, AssertTests) else len(self.tests.cases)


def problem_key(pid: str) -> tuple:
    """Sort key of problem ids in natural order (HumanEval/2 before HumanEval/10,
    ``1549_B`` before ``1549_C``): digit runs compare as numbers. Every list and
    export of problems sorts with it."""
    parts = re.split(r"(\d+)", pid)  # str, int, str, int, ...: same types at the same places
    return tuple(int(t) if i % 2 else t for i, t in enumerate(parts)), pid
