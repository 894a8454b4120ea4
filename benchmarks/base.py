"""What every benchmark adapter shares: where problems come from and how a sample
becomes a program."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from .io import DataError, load_rows, read_records
from .prompts import render
from .records import Problem

DATA = Path(__file__).parent / "data"


class Benchmark(ABC):
    """A benchmark adapter. A subclass names itself (``name``, ``test_kind``, and
    ``bundled``/``default`` or ``hf_id`` for where its problems come from) and
    implements ``problem`` (a source row as a Problem) and ``prompt`` (what a model is
    sent); the rest has defaults to override where the benchmark differs."""

    name = ""
    hf_id = ""
    # HF dataset id -> its config (subset) name, for ids that need one.
    hf_configs: dict[str, str] = {}
    test_kind = ""
    # Prompt formats ``prompt(problem, style)`` knows: ``completion`` (the benchmark's
    # prompt for models that continue text) and ``instruct`` (the field's chat prompt)
    # at least; docs/prompts.md shows each.
    prompt_styles: tuple[str, ...] = ("completion", "instruct")
    # Bundled sources (name -> file under data/) and the ones loaded by default.
    bundled: dict[str, str] = {}
    default: tuple[str, ...] = ()
    # The split of each bundled source's problems: source name -> a split name (the
    # whole source) or a function of the problem (MBPP: task-id ranges). A source not
    # listed is one evaluation set: split "test".
    bundled_splits: dict[str, str | Callable[[Problem], str]] = {}

    @property
    def default_source(self) -> str:
        return str(DATA / self.bundled[self.default[0]])

    def load(self, source: str | None = None, split: str | None = None) -> list[Problem]:
        """``source``: None (the bundled default sources), a bundled source name, a local
        file (JSONL/JSON/Parquet, .gz ok), a local dataset folder or a HF dataset id.
        Problems that appear in several sources are kept once (first wins). ``split``:
        the HF split (default test); of bundled sources, the problems in that split
        (None: every problem); a local file is one set (no splits)."""
        names = self.default if source is None else (source,) if source in self.bundled else None
        if names is None:
            return self.from_rows(load_rows(source, split or "test", self.hf_configs.get(source)), source)
        problems: dict[str, tuple[str, Problem]] = {}
        for name in names:
            for p in self.from_rows(read_records(DATA / self.bundled[name]), name):
                problems.setdefault(p.id, (name, p))
        return self.in_split(list(problems.values()), split)

    def in_split(self, problems: list[tuple[str, Problem]], split: str | None) -> list[Problem]:
        """The problems of (bundled source name, problem) pairs that are in ``split``
        (None: all); a split none of them is in is an error naming the ones they have."""
        def split_of(name: str, problem: Problem) -> str:
            rule = self.bundled_splits.get(name, "test")
            return rule if isinstance(rule, str) else rule(problem)

        if split is None:
            return [p for _, p in problems]
        splits = [split_of(name, p) for name, p in problems]
        if split not in splits:
            sources = ", ".join(dict.fromkeys(name for name, _ in problems))
            raise DataError(f"{self.name}: no split {split!r} in the bundled {sources} "
                            f"(splits: {', '.join(sorted(set(splits)))})")
        return [p for (_, p), s in zip(problems, splits, strict=True) if s == split]

    def from_rows(self, rows: list[dict], source: str) -> list[Problem]:
        out = []
        for i, row in enumerate(rows, 1):
            problem = self.problem(row, f"{source} row {i}")
            if problem is not None:
                out.append(problem)
        return out

    @abstractmethod
    def problem(self, row: dict, where: str) -> Problem | None:
        """One row of any supported format as a Problem (None: a row without tests);
        ``where`` names the row for error messages (DataError)."""

    def program(self, problem: Problem, completion: str | None = None, solution: str | None = None) -> str:
        """The program a sample stands for; by default a complete program."""
        return solution if solution is not None else completion or ""

    @abstractmethod
    def prompt(self, problem: Problem, style: str = "completion") -> str:
        """The (user) message of ``style`` (one of ``prompt_styles``) for this problem."""

    def system(self, problem: Problem, style: str = "completion") -> str:
        """The system message ``style`` comes with ("": none)."""
        return ""

    def prompt_for(self, problem: Problem, style: str, template: str | None = None) -> tuple[str, str]:
        """(user message, system message) a model of ``style`` is sent: the style's,
        or its ``template`` filled in (a pool's prompt_template) with the style's
        system message."""
        text = render(template, self.template_values(problem, style)) if template else self.prompt(problem, style)
        return text, self.system(problem, style)

    def template_values(self, problem: Problem, style: str) -> dict[str, str]:
        """What a prompt template's placeholders (``prompts.PLACEHOLDERS``) stand for."""
        return {"prompt": problem.prompt, "problem_id": problem.id, "dataset": self.name,
                "entry_point": problem.entry_point, "starter_code": problem.metadata.get("starter_code", ""),
                "examples": "", "benchmark_prompt": self.prompt(problem, style)}

    def public_tests(self, problem: Problem):
        """Tests shown to the model (examples in the statement), for execution feedback
        before the hidden tests; None when the benchmark has none for this problem."""
        return None

    def aliases(self, problems: list[Problem]) -> dict[str, str]:
        """Other ids for these problems (AdaptiveLLM's) -> our id."""
        return {}

    def by_id(self, source: str | None = None, split: str | None = None) -> dict[str, Problem]:
        """The problems of ``load(source, split)`` by every id they go by: ours and
        their ``aliases``."""
        loaded = self.load(source, split)
        by_id = {p.id: p for p in loaded}
        return {**by_id, **{alias: by_id[i] for alias, i in self.aliases(loaded).items()}}


def require(row: dict, fields: tuple[str, ...], where: str) -> None:
    missing = [f for f in fields if f not in row]
    if missing:
        raise DataError(f"{where}: missing field(s) {', '.join(missing)}")
