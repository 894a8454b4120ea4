"""MBPP (Google, 974 problems; sanitized subset 427): functions checked by asserts.

Tests run ``test_setup_code`` (full) or ``test_imports`` (sanitized), then the
``test_list`` asserts, then the ``challenge_test_list`` asserts where present.

Splits (HF ``mbpp``, both configs) are task-id ranges: prompt 1-10 (the paper's
few-shot examples), test 11-510, validation 511-600, train 601-974; the sanitized
set's splits are its problems in those ranges (7 / 257 / 43 / 120)."""

from __future__ import annotations

from .base import Benchmark, require
from .io import DataError
from .prompts import evalplus_instruct
from .records import AssertTests, Problem

SPLITS = (("prompt", 1, 10), ("test", 11, 510), ("validation", 511, 600), ("train", 601, 974))


def task_split(problem: Problem) -> str:
    """The HF split of an MBPP problem (``MBPP/<task_id>``), by its task id."""
    task = int(problem.id.rpartition("/")[2])
    return next((name for name, lo, hi in SPLITS if lo <= task <= hi), "unknown")


class MBPP(Benchmark):
    name = "mbpp"
    hf_id = "mbpp"
    hf_configs = {"mbpp": "full", "google-research-datasets/mbpp": "full"}
    test_kind = "assert"
    bundled = {"full": "mbpp/mbpp.jsonl.gz", "sanitized": "mbpp/mbpp_sanitized_427.jsonl.gz"}
    default = ("full",)
    bundled_splits = {"full": task_split, "sanitized": task_split}

    def problem(self, row: dict, where: str) -> Problem:
        require(row, ("task_id", "code", "test_list"), where)
        text = row.get("text", row.get("prompt"))
        if text is None:
            raise DataError(f"{where}: missing field(s) text (full) or prompt (sanitized)")
        setup = row.get("test_setup_code") or "\n".join(row.get("test_imports") or [])
        asserts = list(row["test_list"]) + list(row.get("challenge_test_list") or [])
        return Problem(
            benchmark=self.name,
            id=f"MBPP/{row['task_id']}",
            prompt=text,
            tests=AssertTests("\n".join([setup, *asserts]) + "\n"),
            references=(row["code"],),
            metadata={"sanitized": "prompt" in row and "text" not in row, "test_list": list(row["test_list"]),
                      "setup": setup},
        )

    def public_tests(self, problem: Problem) -> AssertTests:
        """The tests the prompt shows: ``test_list`` (not the challenge tests)."""
        return AssertTests("\n".join([problem.metadata["setup"], *problem.metadata["test_list"]]) + "\n")

    def prompt(self, problem: Problem, style: str = "completion") -> str:
        """``completion``: the MBPP paper's prompt, the task and the three tests the code
        must pass; ``instruct``: evalplus's chat prompt around MBPP+'s problem text (the
        task and the first test in a docstring)."""
        if style == "instruct":
            return evalplus_instruct(f'"""\n{problem.prompt}\n{problem.metadata["test_list"][0]}\n"""\n')
        tests = "\n".join(problem.metadata["test_list"])
        return f"You are an expert Python programmer, and here is your task: {problem.prompt} " \
               f"Your code should pass these tests:\n\n{tests}\n"

    def template_values(self, problem: Problem, style: str) -> dict[str, str]:
        return super().template_values(problem, style) | {"examples": "\n".join(problem.metadata["test_list"])}
