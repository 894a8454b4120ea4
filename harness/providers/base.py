"""What every provider shares: the task it is given, the generation it returns, and
the two ways a generation can fail."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import Problem

from ..errors import UserError
from .spec import ModelSpec


@dataclass(frozen=True)
class Task:
    """One sample to generate: ``index`` of ``n`` for a problem; ``ids`` are every id
    the problem is known by (ours first, then e.g. AdaptiveLLM's)."""

    dataset: str
    problem: Problem
    ids: tuple[str, ...]
    prompt: str
    index: int
    system: str = ""  # the system message of the prompt's style ("": none)

    def messages(self, system: str | None = None) -> list[dict]:
        """The prompt as chat messages; ``system`` (the pool's) replaces the style's."""
        system = self.system if system is None else system
        return [*([{"role": "system", "content": system}] if system else []), {"role": "user", "content": self.prompt}]

    @property
    def text(self) -> str:
        """The prompt for a model without chat roles: the system message leads the
        text, as LiveCodeBench writes it for such models."""
        return f"{self.system}\n\n{self.prompt}" if self.system else self.prompt


@dataclass(frozen=True)
class Generation:
    completion: str  # the answer, without the <think> part
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency: float = 0.0
    thinking: str = ""
    thinking_tokens: int | None = None
    code: str | None = None  # the source gave code, not a completion to extract from
    recorded_passed: bool | None = None  # the verdict the source recorded (replay)
    extra: dict = field(default_factory=dict)


class GenerationError(Exception):
    """This sample could not be generated (e.g. the prompt is too long for the
    model): recorded with the sample, the run goes on."""


class ProviderError(UserError):
    """The model cannot be used at all (unreachable, bad key, unknown model): the run
    stops; what is stored stays and a re-run resumes."""


def estimated_thinking(thinking: str, answer: str, tokens_out: int | None) -> dict:
    """Generation fields for thinking whose tokens nobody counted: their share of the
    output tokens by characters, marked as an estimate; nothing without thinking."""
    if not thinking or not tokens_out:
        return {}
    return {"thinking_tokens": round(tokens_out * len(thinking) / max(1, len(thinking) + len(answer))),
            "extra": {"thinking_tokens_estimated": True}}


class Provider(ABC):
    """A model back end, built from its pool.yaml model (``spec``); the package
    docstring says what a new one implements."""

    required: tuple[str, ...] = ()  # provider fields pool.yaml must give
    fields: tuple[str, ...] = ()  # optional provider fields
    identity_fields: tuple[str, ...] = ()  # those that change what the model generates
    default_concurrency = 4

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    @classmethod
    def chat(cls, options: dict) -> bool:
        """Whether the model is sent chat messages (its default prompt style is then
        ``instruct``), by its pool fields."""
        return False

    @classmethod
    def normalize(cls, spec: ModelSpec, fail: Callable[[str, str], UserError], base_dir: Path) -> ModelSpec:
        """Check the provider fields at load time (raise ``fail(field, message)``) and
        return the spec with paths resolved against the pool file's folder."""
        return spec

    # The hooks below that do nothing here (noqa B027) are optional: a provider
    # overrides the ones it needs.
    async def start(self) -> None:  # noqa: B027
        """Fail fast (ProviderError) when the model cannot be reached or loaded."""

    def check_source(self) -> None:  # noqa: B027
        """Fail (ProviderError) when the model's own source is empty, before anything runs."""

    def available(self, task: Task) -> bool:
        """False: this model has no sample for the task (a replay without a recording)."""
        return True

    def recorded_ids(self, dataset: str) -> set[str] | None:
        """The problem ids this model has recordings of (a replay); None: it generates."""
        return None

    @abstractmethod
    async def generate(self, task: Task) -> Generation:
        """One sample for ``task``; raise GenerationError when this sample cannot be
        generated, ProviderError when the model cannot be used at all."""

    def servers(self) -> dict[str, dict] | None:
        """Requests (and failures) per server, for a model served by several; else None."""
        return None

    async def close(self) -> None:  # noqa: B027
        """Release what the model holds (connections, the engine)."""


def resolve_path(value: str, base_dir: Path) -> str:
    """A relative path in pool.yaml is relative to the pool file, if it exists there."""
    p = Path(value).expanduser()
    if not p.is_absolute() and (base_dir / p).exists():
        return str((base_dir / p).resolve())
    return str(p.resolve()) if p.exists() else value
