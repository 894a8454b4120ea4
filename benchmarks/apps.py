"""APPS (Hendrycks et al.): stdin/stdout problems and call-based problems.

Bundled: 150 test problems in MapCoder's format (no reference solutions upstream;
``data/apps/fixtures.jsonl`` holds correct solutions we wrote for some of them, and
wrong variants that must fail). HF ``codeparrot/apps`` rows load too."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from .base import DATA, Benchmark, require
from .io import DataError, read_records
from .literal import parse_literal
from .prompts import LCB_SYSTEM, lcb_question
from .records import CallTests, IOTests, Problem

CODYN_SUFFIX = ("\n\nWrite a complete Python 3 program that is runnable inline: it reads its input from "
                "standard input and writes the answer to standard output.")
CALL_SUFFIX = "\n\nComplete the following code (return the result, do not print it):\n{starter}"


class APPS(Benchmark):
    name = "apps"
    hf_id = "codeparrot/apps"
    test_kind = "stdin/stdout + call-based"
    bundled = {"selected150": "apps/apps_selected150_mapcoder.jsonl.gz"}
    default = ("selected150",)

    def load(self, source=None, split=None):
        problems = super().load(source, split)
        fixtures = {r["name"]: r for r in read_records(DATA / "apps/fixtures.jsonl")} \
            if (DATA / "apps/fixtures.jsonl").exists() else {}
        return [_with_fixture(p, fixtures.get(p.metadata["name"])) for p in problems]

    def problem(self, row: dict, where: str) -> Problem:
        if "input_output" in row:  # codeparrot/apps
            require(row, ("problem_id", "question", "starter_code"), where)
            io = json.loads(row["input_output"]) if row["input_output"] else {}
            pairs = list(zip(io.get("inputs", []), io.get("outputs", []), strict=False))
            solutions = json.loads(row["solutions"]) if row.get("solutions") else []
            return self._build(str(row["problem_id"]), row["question"], row["starter_code"], pairs,
                               io.get("fn_name"), tuple(solutions), row.get("difficulty"), where)
        require(row, ("name", "description", "starter_code", "test_list"), where)
        samples = _unique([(t["input"], t["output"]) for t in row.get("sample_io") or []])
        pairs = _unique(samples + [(t["input"], t["output"]) for t in row["test_list"]])
        problem = self._build(str(row["name"]), row["description"], row["starter_code"], pairs,
                              None, (), row.get("difficulty"), where)
        return replace(problem, metadata=dict(problem.metadata, sample_count=len(samples)))

    def _build(self, pid, question, starter, pairs, fn_name, references, difficulty, where) -> Problem:
        starter = starter or ""
        if not pairs:
            raise DataError(f"{where}: problem {pid} has no tests")
        if starter.strip() or fn_name:
            fn_name = fn_name or _starter_function(starter, where)
            tests = CallTests(fn_name, tuple((_args_text(i), json.dumps(o)) for i, o in pairs),
                              method="class Solution" in starter)
        else:
            tests = IOTests(tuple((i if isinstance(i, str) else "\n".join(i), _stdout(o)) for i, o in pairs))
        return Problem(benchmark=self.name, id=pid, prompt=question, tests=tests, entry_point=fn_name or "",
                       references=references,
                       metadata={"name": pid, "starter_code": starter, "difficulty": difficulty})

    def public_tests(self, problem: Problem) -> CallTests | IOTests | None:
        """The statement's examples: MapCoder's ``sample_io``, kept first (``sample_count``)."""
        n = problem.metadata.get("sample_count", 0)
        return replace(problem.tests, cases=problem.tests.cases[:n]) if n else None

    def prompt(self, problem: Problem, style: str = "completion") -> str:
        """``completion``: CoDyn's APPS prompt, runnable inline, read stdin, write stdout
        (call-based problems: complete the starter code); ``instruct``: LiveCodeBench's
        (stdin, or starter code)."""
        if style == "instruct":
            return lcb_question(problem.prompt, problem.metadata["starter_code"])
        if isinstance(problem.tests, CallTests):
            return problem.prompt + CALL_SUFFIX.format(starter=problem.metadata["starter_code"])
        return problem.prompt + CODYN_SUFFIX

    def system(self, problem: Problem, style: str = "completion") -> str:
        return LCB_SYSTEM if style == "instruct" else ""


def _with_fixture(problem: Problem, fixture: dict | None) -> Problem:
    if fixture is None:
        return problem
    return replace(problem, references=problem.references + (fixture["solution"],),
                   wrong=tuple(fixture.get("wrong", ())))


def _unique(pairs):
    seen, out = set(), []
    for i, o in pairs:
        key = (i, json.dumps(o))
        if key not in seen:
            seen.add(key)
            out.append((i, o))
    return out


def _starter_function(starter: str, where: str) -> str:
    names = re.findall(r"^\s*def\s+(\w+)\s*\(", starter, re.M)
    public = [n for n in names if not n.startswith("__")]
    if not public:
        raise DataError(f"{where}: starter code defines no function")
    return public[0]


def _args_text(args) -> str:
    """Call arguments as a JSON list. codeparrot/apps has the list already; MapCoder
    stores one argument per line, as JSON or a Python literal, and strings unquoted
    (``abba``), which are taken as they stand."""
    if not isinstance(args, str):
        return json.dumps(args)
    return json.dumps([_argument(line) for line in args.rstrip("\n").split("\n")])


def _argument(text: str):
    try:
        return parse_literal(text)
    except (ValueError, SyntaxError):
        return text


def _stdout(output) -> str:
    if isinstance(output, list):
        return output[0] if len(output) == 1 else "\n".join(map(str, output))
    return output
