"""LeetCode: class methods checked by asserts.

Two row formats load:
* newfacade/LeetCodeDataset (bundled: the 228-problem v0.3.1 test split, and the 209
  problems that match AdaptiveLLM's ``LeetCode/N`` ids). A program is the dataset's
  ``prompt`` (imports, ListNode/TreeNode helpers) + the solution; the tests are
  ``check(Solution().method)``.
* SandboxFusion's AutoEval rows, the format of ``sine/LeetCodeSample`` (subset
  ``python``), whose tests AdaptiveLLM used: ``id``, ``content``, ``labels`` and
  ``test.code``. As SandboxFusion does, the candidate replaces ``#<INSERT>`` in the
  test code, or (without the token) has any ``if __name__ ==`` block cut and the test
  code appended. The part of the script after the candidate runs as our test code
  (so a failing assert is a failed test, and exits or monkeypatching cannot skip
  it). LeetCodeSample itself is not reachable offline, so no copy is bundled."""

from __future__ import annotations

import json
from string import Template

from .base import DATA, Benchmark, require
from .io import DataError
from .literal import parse_literal
from .records import AssertTests, Problem

FIELDS = ("task_id", "prompt", "completion", "entry_point", "test")
INSERT = "#<INSERT>"


class LeetCode(Benchmark):
    name = "leetcode"
    hf_id = "newfacade/LeetCodeDataset"
    hf_configs = {"sine/LeetCodeSample": "python"}
    test_kind = "assert (call-based)"
    bundled = {"v0.3.1-test": "leetcode/LeetCodeDataset-v0.3.1-test.jsonl.gz",
               "adaptivellm": "leetcode/adaptivellm_leetcode_subset.jsonl.gz"}
    default = ("v0.3.1-test", "adaptivellm")

    def problem(self, row: dict, where: str) -> Problem:
        if "content" in row and "labels" in row:
            return autoeval_problem(self.name, row, where)
        require(row, FIELDS, where)
        return Problem(
            benchmark=self.name,
            id=row["task_id"],
            prompt=row.get("query") or row.get("problem_description", ""),
            entry_point=row["entry_point"],
            tests=AssertTests(f"{row['test']}\ncheck({row['entry_point']})\n"),
            references=(row["prompt"] + "\n" + row["completion"],),
            metadata={"preamble": row["prompt"], "difficulty": row.get("difficulty"),
                      "question_id": row.get("question_id")},
        )

    def program(self, problem: Problem, completion: str | None = None, solution: str | None = None) -> str:
        code = solution if solution is not None else completion or ""
        if "autoeval_prefix" in problem.metadata:
            return autoeval_program(code, problem.metadata["autoeval_prefix"])
        # The dataset's preamble (imports, ListNode/TreeNode) + the model's class.
        return problem.metadata["preamble"] + "\n" + code

    def aliases(self, problems: list[Problem]) -> dict[str, str]:
        """AdaptiveLLM ``LeetCode/N`` -> our id: through the LeetCodeDataset id map, and
        for LeetCodeSample rows through LeetCode's question id, which both carry."""
        ours = {p.id for p in problems}
        rows = (json.loads(line) for line in (DATA / "leetcode/adaptivellm_leetcode_id_map.jsonl").open())
        out = {r["adaptivellm_id"]: r["task_id"] for r in rows if r["task_id"] in ours}
        by_question = {str(p.metadata["question_id"]): p.id for p in problems
                       if "autoeval_prefix" in p.metadata and p.metadata.get("question_id") is not None}
        if by_question:
            from .io import read_records

            for r in read_records(DATA / "adaptivellm/prompts/prompts.jsonl.gz"):
                if str(r.get("questionId")) in by_question:
                    out[r["id"]] = by_question[str(r["questionId"])]
        return out


def _json_field(row: dict, key: str, where: str) -> dict:
    value = row[key]
    if isinstance(value, str):
        try:
            value = parse_literal(value)
        except (ValueError, SyntaxError):
            raise DataError(f"{where}: field {key!r} is neither JSON nor a Python literal") from None
    if not isinstance(value, dict):
        raise DataError(f"{where}: field {key!r} must be an object, got {type(value).__name__}")
    return value


def autoeval_problem(benchmark: str, row: dict, where: str) -> Problem:
    require(row, ("id", "content", "labels", "test"), where)
    labels, test = _json_field(row, "labels", where), _json_field(row, "test", where)
    language = labels.get("execution_language") or labels.get("programming_language") or "python"
    if language != "python":
        raise DataError(f"{where}: only Python rows are supported (this one is {language!r})")
    if test.get("asset"):
        raise DataError(f"{where}: rows whose tests need asset files are not supported")
    if not isinstance(test.get("code"), str):
        raise DataError(f"{where}: field 'test' has no 'code' string")
    template = labels.get("prompt_template")
    prompt = (Template(template).safe_substitute(question=row["content"], fewshot="", context="", locale="en")
              if template else row["content"])
    prefix, check = split_test(test["code"], where)
    reference = row.get("canonical_solution")
    return Problem(
        benchmark=benchmark,
        id=str(row["id"]),
        prompt=prompt,
        tests=AssertTests(check),
        references=(autoeval_program(reference, prefix),) if reference else (),
        metadata={"autoeval_prefix": prefix, "difficulty": labels.get("difficulty"),
                  "question_id": labels.get("questionId", labels.get("question_id")), "source": "autoeval"},
    )


def split_test(test: str, where: str) -> tuple[str | None, str]:
    """SandboxFusion's test code as (what goes before the candidate, what runs after
    it); the prefix is None when the candidate is appended (no ``#<INSERT>``)."""
    if INSERT not in test:
        return None, test
    before, after = test.split(INSERT, 1)
    if before and not before.endswith("\n"):
        raise DataError(f"{where}: {INSERT} must start a line of the test code")
    return before, after


def autoeval_program(code: str, prefix: str | None) -> str:
    """SandboxFusion's ``append_test`` up to the candidate: the test code's prefix +
    the candidate, or, when the test is appended, the candidate without its
    ``if __name__ ==`` block."""
    if prefix is not None:
        return prefix + code
    if "if __name__ ==" in code:
        code = code[:code.index("if __name__ ==")]
    return code
