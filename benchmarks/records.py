"""Records every stage shares about a benchmark problem."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AssertTests:
    """A check program run after the candidate, in the candidate's namespace."""

    code: str


Tests = AssertTests


@dataclass(frozen=True)
class Problem:
    benchmark: str
    id: str
    prompt: str
    tests: Tests
    entry_point: str = ""
    references: tuple[str, ...] = ()  # complete reference programs
    metadata: dict = field(default_factory=dict, compare=False)
