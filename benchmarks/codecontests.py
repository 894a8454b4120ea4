"""CodeContests (DeepMind): stdin/stdout problems.

Bundled sources (see data/codecontests/SOURCE.md):
  ``test66``      66 of the 165 test-split problems (AdaptiveLLM's code_contests/N) with
                  their complete public+private+generated tests, no references;
  ``train300``    300 train-split problems with ~10 tests and one Python solution each;
  ``sandboxfusion`` 20 train-split problems in SandboxFusion's row format.
HF ``deepmind/code_contests`` rows load too (Python 3 solutions become references)."""

from __future__ import annotations

import re

from .base import Benchmark, require
from .examples import io_examples
from .io import DataError
from .literal import parse_literal
from .prompts import LCB_SYSTEM, lcb_question
from .records import IOTests, Problem

PYTHON3 = 3  # deepmind's Language enum
# Statements that accept YES/NO answers in any letter case (Codeforces' usual
# "You can output ... in any case"): then, and only then, judging ignores case.
ANY_CASE = re.compile(r"in any (letter )?(case|register)|any letter case|case[- ]insensitive|"
                      r"upper ?case and lower ?case|lowercase and uppercase|"
                      r"(upper|lower)case .{0,40}(accepted|allowed)", re.I)
# Statement samples the reference fails (it passes every hidden test): each shows one
# of several valid answers (the problem needs a checker), the reference prints
# another, so exact judging would fail correct programs. Problem id -> sample indices.
WRONG_EXAMPLES: dict[str, tuple[int, ...]] = {
    "404_C": (0, 1), "460_D": (0, 1), "487_C": (0,), "1016_D": (0,), "1174_D": (0,), "1271_C": (2,),
    "1286_B": (0, 1), "1287_D": (0, 1),
}
SANDBOXFUSION_SUFFIX = ("Please implement a complete Python script. Your program should read input from "
                        "standard input and write output to standard output.")


class CodeContests(Benchmark):
    name = "codecontests"
    hf_id = "deepmind/code_contests"
    test_kind = "stdin/stdout"
    bundled = {"test66": "codecontests/codecontests_test_mapcoder_format_66.jsonl.gz",
               "train300": "codecontests/codecontests_train_subset300.jsonl.gz",
               "sandboxfusion": "codecontests/sandboxfusion_code_contests_sample.jsonl.gz"}
    default = ("test66", "train300", "sandboxfusion")
    bundled_splits = {"test66": "test", "train300": "train", "sandboxfusion": "train"}

    def problem(self, row: dict, where: str) -> Problem:
        if "content" in row and "test" in row:  # SandboxFusion
            labels = parse_literal(row["labels"]) if isinstance(row["labels"], str) else row["labels"]
            tests = parse_literal(row["test"]) if isinstance(row["test"], str) else row["test"]
            cases = [(t["input"]["stdin"], t["output"]["stdout"]) for t in tests]
            return self._build(labels["name"], row["content"], cases, (), None, {"source": "sandboxfusion"})
        require(row, ("name", "description"), where)
        if "test_list" in row:  # MapCoder (test66)
            samples = _field(row, "sample_io")
            cases = [(t["input"], t["output"][0]) for t in samples + _field(row, "test_list")]
            meta = {"adaptivellm_id": row.get("adaptivellm_id"), "source": "test66", "sample_count": len(samples),
                    "deepmind_test_case_count": int(row.get("deepmind_test_case_count") or 0)}
            return self._build(row["name"], row["description"], cases, (), _seconds(_field(row, "time_limit")), meta)
        if "tests" in row:  # train300
            tests = _field(row, "tests")
            # Its builder stripped the final newline that every upstream input file
            # has; programs doing readline()[:-1] need it back.
            inputs = [i if i.endswith("\n") else i + "\n" for i in tests["input"]]
            cases = list(zip(inputs, tests["output"], strict=True))
            return self._build(row["name"], row["description"], cases, _python3(_field(row, "solutions")), None,
                               {"source": "train300"})
        require(row, ("public_tests", "private_tests", "generated_tests"), where)  # deepmind
        cases = []
        for key in ("public_tests", "private_tests", "generated_tests"):
            cases += list(zip(row[key]["input"], row[key]["output"], strict=True))
        return self._build(row["name"], row["description"], cases, _python3(row.get("solutions") or {}),
                           _seconds(row.get("time_limit")), {"source": "deepmind"})

    def _build(self, name, description, cases, references, time_limit, meta) -> Problem:
        if not cases:
            raise DataError(f"{name}: no tests")
        pid = name.split(".", 1)[0].strip()
        title = name.split(".", 1)[1].strip() if "." in name else name
        tests = IOTests(tuple(cases), case_sensitive=not ANY_CASE.search(description))
        return Problem(benchmark=self.name, id=pid, prompt=description, tests=tests,
                       references=tuple(references), time_limit=time_limit,
                       metadata=dict(meta, name=name, title=title))

    def aliases(self, problems: list[Problem]) -> dict[str, str]:
        """AdaptiveLLM ``code_contests/N`` -> our id, for the problems we have tests for."""
        return {p.metadata["adaptivellm_id"]: p.id for p in problems if p.metadata.get("adaptivellm_id")}

    def public_tests(self, problem: Problem) -> IOTests | None:
        """The statement's sample cases: test66 keeps them first (``sample_count``);
        other rows' are parsed from the statement's ``Input`` / ``Output`` blocks;
        ``WRONG_EXAMPLES`` left out."""
        n = problem.metadata.get("sample_count", 0)
        cases = problem.tests.cases[:n] if n else io_examples(problem.prompt)
        wrong = WRONG_EXAMPLES.get(problem.id, ())
        cases = [c for i, c in enumerate(cases) if i not in wrong]
        if not cases:
            return None
        return IOTests(tuple(cases), problem.tests.case_sensitive, problem.tests.strict_integers)

    def prompt(self, problem: Problem, style: str = "completion") -> str:
        """``completion``: AdaptiveLLM's (SandboxFusion's) code_contests prompt;
        ``instruct``: LiveCodeBench's stdin/stdout prompt."""
        if style == "instruct":
            return lcb_question(problem.prompt)
        return f"# {problem.metadata['title']}\n\n{problem.prompt}\n\n{SANDBOXFUSION_SUFFIX}"

    def system(self, problem: Problem, style: str = "completion") -> str:
        return LCB_SYSTEM if style == "instruct" else ""


def _field(row: dict, key: str):
    value = row.get(key)
    if value is None:
        return []
    return parse_literal(value) if isinstance(value, str) else value


def _python3(solutions: dict) -> tuple[str, ...]:
    langs = solutions.get("language", [])
    return tuple(s for lang, s in zip(langs, solutions.get("solution", []), strict=False) if lang == PYTHON3)


def _seconds(limit) -> float | None:
    if not limit:
        return None
    return limit.get("seconds", 0) + limit.get("nanos", 0) / 1e9



