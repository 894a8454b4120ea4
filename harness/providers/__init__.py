"""Model providers by name: the back ends a pool.yaml model generates with.

Adding one is one module and one line: a module with a subclass of ``base.Provider``
(or of ``batched.BatchedProvider`` for an in-process engine, which implements
``load`` and ``run_batch`` instead) and its class in ``PROVIDERS`` below under the
name pool.yaml's ``provider`` field gives. The contract: the class declares its
pool.yaml fields (``required``, ``fields``, and ``identity_fields``, those that change
what the model generates) and implements ``generate`` (a ``Task`` -> a
``Generation``; ``GenerationError`` fails that sample, ``ProviderError`` the run). It
may check its fields at load time (``normalize``), fail fast when the model is out of
reach (``start``) and release what it holds (``close``)."""

from __future__ import annotations

from .base import Generation, GenerationError, Provider, ProviderError, Task
from .hf_transformers import HFTransformers
from .openai_compat import OpenAICompatible
from .replay import Replay
from .spec import ModelSpec
from .vllm_engine import VLLMEngine

PROVIDERS: dict[str, type[Provider]] = {
    "openai": OpenAICompatible,
    "vllm": VLLMEngine,
    "transformers": HFTransformers,
    "replay": Replay,
}


def make_provider(spec: ModelSpec) -> Provider:
    return PROVIDERS[spec.provider](spec)


def model_identity(spec: ModelSpec) -> dict:
    """What must not change between a run and its resume: what decides the samples
    already stored. Not ``n`` (more samples may be added), not the price (costs
    are recomputed), not where the model is reached or read from (URL, key,
    timeouts, paths), which may move."""
    params = {k: v for k, v in spec.params.__dict__.items() if k != "n"} | {"stop": list(spec.params.stop)}
    options = {k: v for k, v in spec.options.items() if k in PROVIDERS[spec.provider].identity_fields}
    template = {"prompt_template": spec.prompt_template} if spec.prompt_template is not None else {}
    return {"provider": spec.provider, "params": params, "options": options, "prompt_style": spec.prompt_style,
            **template}


__all__ = ["PROVIDERS", "Generation", "GenerationError", "Provider", "ProviderError", "Task", "make_provider",
           "model_identity"]
