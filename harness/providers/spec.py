"""A model as pool.yaml defines it (``harness.pipeline.pool_file`` reads and checks the file): what a
provider is built from."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float = 0.0
    output: float = 0.0

    def cost(self, tokens_in: int | None, tokens_out: int | None) -> float:
        return ((tokens_in or 0) * self.input + (tokens_out or 0) * self.output) / 1e6


@dataclass(frozen=True)
class GenParams:
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 1024
    n: int = 1
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    name: str
    provider: str
    price: Price
    params: GenParams
    options: dict = field(default_factory=dict)  # provider fields (base_url, path, model...)
    concurrency: int = 4
    prompt_style: str = "completion"  # pool.yaml's ``default`` resolved by the model's kind (``parse_model``)
    prompt_template: str | None = None  # the text, also when pool.yaml names a file
    origin: str = ""  # "pool.yaml: model 'x'" for messages

    def style(self, styles: tuple[str, ...]) -> str:
        """The prompt style for a benchmark that has ``styles``: the model's, or where
        the benchmark lacks it (sandboxfusion on MBPP) the benchmark's usual prompt."""
        return self.prompt_style if self.prompt_style in styles else "completion"
