"""Model providers by name; adding one is one module and one line here."""

from __future__ import annotations

from .base import Generation, GenerationError, Provider, ProviderError, Task
from .hf_transformers import HFTransformers
from .openai_compat import OpenAICompatible
from .replay import Replay
from .vllm_engine import VLLMEngine

PROVIDERS: dict[str, type[Provider]] = {
    "openai": OpenAICompatible,
    "vllm": VLLMEngine,
    "transformers": HFTransformers,
    "replay": Replay,
}


def make_provider(spec) -> Provider:
    return PROVIDERS[spec.provider](spec)


__all__ = ["PROVIDERS", "Generation", "GenerationError", "Provider", "ProviderError", "Task", "make_provider"]
