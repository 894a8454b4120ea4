"""RunBugRun (Python): repair a buggy CodeNet submission; judged on stdin/stdout.

A problem here is one bug record: the buggy program, its fixed version (the
reference) and the tests of its CodeNet problem. Upstream tests (``tests_all``) are
not reachable offline; the bundled ones are DERIVED (data/runbugrun/DERIVED.md) and
marked ``derived`` in each problem's metadata. With RunBugRun's published files, pass
the bugs file as the source; tests are read from ``tests_all.jsonl[.gz]`` beside it
(rows with ``problem_id`` and ``input``/``output``, or ``tests`` lists)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from .base import DATA, Benchmark, require
from .io import read_records
from .records import IOTests, Problem

BUGS = "runbugrun/python_valid0.jsonl.gz"
DERIVED_TESTS = "runbugrun/derived_tests.jsonl"
PROMPT = "Provide a fix for the buggy function.\n\nBuggy code:\n```python\n{code}\n```\n"
ERROR = "\nWhen run on a test it fails with:\n```\n{error}\n```\n"


class RunBugRun(Benchmark):
    name = "runbugrun"
    hf_id = ""
    test_kind = "stdin/stdout (repair)"
    bundled = {"derived": BUGS}
    default = ("derived",)

    def load(self, source=None, split=None):
        bugs = DATA / BUGS if source in (None, "derived") else Path(source)
        tests_file = DATA / DERIVED_TESTS if source in (None, "derived") else _tests_beside(bugs)
        self._tests = _read_tests(tests_file) if tests_file else {}
        self._derived = source in (None, "derived")
        problems = self.from_rows(read_records(bugs), str(bugs))
        return self.in_split([("derived", p) for p in problems], split) if self._derived else problems

    def problem(self, row: dict, where: str) -> Problem | None:
        require(row, ("id", "problem_id", "buggy_code", "fixed_code"), where)
        cases = self._tests.get(row["problem_id"])
        if not cases:
            return None  # no tests for this CodeNet problem
        return Problem(
            benchmark=self.name,
            id=str(row["id"]),
            prompt=row["buggy_code"],
            tests=IOTests(tuple(cases), strict_integers=True),  # AtCoder/AOJ judge integers exactly
            references=(row["fixed_code"],),
            wrong=(row["buggy_code"],),
            metadata={"problem_id": row["problem_id"], "errors": row.get("errors") or [], "derived": self._derived},
        )

    # No public_tests: the repair prompt shows the buggy program and its error, no examples.

    def prompt(self, problem: Problem, style: str = "completion") -> str:
        """RunBugRun's repair prompt, with the error the buggy program raised when known;
        an instruction already, so ``instruct`` is the same text."""
        text = PROMPT.format(code=problem.prompt)  # the problem's prompt is the buggy program
        errors = problem.metadata["errors"]
        if errors:
            first = errors[0]
            text += ERROR.format(error=(first.get("exception") or first.get("output") or "").strip())
        return text


def _tests_beside(bugs: Path) -> Path | None:
    for name in ("tests_all.jsonl", "tests_all.jsonl.gz"):
        if (bugs.parent / name).exists():
            return bugs.parent / name
    return None


def _read_tests(path: Path) -> dict[str, list[tuple[str, str]]]:
    tests: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if not path.exists():
        return tests
    for row in read_records(path):
        pairs = row["tests"] if "tests" in row else [row]
        tests[row["problem_id"]] += [(t["input"], t["output"]) for t in pairs]
    return tests
