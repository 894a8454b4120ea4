"""LeetCode (newfacade/LeetCodeDataset): class methods checked by asserts.

Bundled: the 228-problem v0.3.1 test split, and the 209 problems that match
AdaptiveLLM's ``LeetCode/N`` ids (``adaptivellm_leetcode_id_map.jsonl``). A program
is the dataset's ``prompt`` (imports, ListNode/TreeNode helpers) + the solution;
the tests are ``check(Solution().method)``. SandboxFusion's LeetCodeSample
(``sine/LeetCodeSample``) is not reachable offline; rows in its format load too when
they carry the same fields."""

from __future__ import annotations

import json

from .base import DATA, Benchmark, require
from .records import AssertTests, Problem

FIELDS = ("task_id", "prompt", "completion", "entry_point", "test")


class LeetCode(Benchmark):
    name = "leetcode"
    hf_id = "newfacade/LeetCodeDataset"
    test_kind = "assert (call-based)"
    bundled = {"v0.3.1-test": "leetcode/LeetCodeDataset-v0.3.1-test.jsonl.gz",
               "adaptivellm": "leetcode/adaptivellm_leetcode_subset.jsonl.gz"}
    default = ("v0.3.1-test", "adaptivellm")

    def problem(self, row: dict, where: str) -> Problem:
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
        """The dataset's preamble (imports, ListNode/TreeNode) + the model's class."""
        return problem.metadata["preamble"] + "\n" + (solution if solution is not None else completion or "")

    def aliases(self, problems: list[Problem]) -> dict[str, str]:
        """AdaptiveLLM ``LeetCode/N`` -> LeetCodeDataset task_id, where one matched."""
        ours = {p.id for p in problems}
        rows = (json.loads(line) for line in (DATA / "leetcode/adaptivellm_leetcode_id_map.jsonl").open())
        return {r["adaptivellm_id"]: r["task_id"] for r in rows if r["task_id"] in ours}
