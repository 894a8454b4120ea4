"""``vllm``: the offline ``vllm.LLM`` engine (optional extra ``codeharness[vllm]``,
imported only when a pool uses it; needs a GPU). For vLLM's OpenAI-compatible server
use the ``openai`` provider with its ``base_url``."""

from __future__ import annotations

import time

from benchmarks.extract import split_thinking

from .base import Generation, Task
from .batched import BatchedProvider

ENGINE_FIELDS = ("dtype", "tensor_parallel_size", "max_model_len", "gpu_memory_utilization", "trust_remote_code")


class VLLMEngine(BatchedProvider):
    required = ("model",)
    fields = (*ENGINE_FIELDS, "batch_size", "chat", "seed")
    identity_fields = ("model", "dtype", "max_model_len", "chat", "seed")

    @classmethod
    def chat(cls, options):
        return options.get("chat", True)
    extra = "vllm"

    def engine_kwargs(self) -> dict:
        opts = self.spec.options
        return {"model": opts["model"], **{k: opts[k] for k in ENGINE_FIELDS if k in opts}}

    def sampling_kwargs(self, task: Task) -> dict:
        """``vllm.SamplingParams`` of one sample; a pool ``seed`` makes sample i use
        seed + i, so a resumed run draws what the uninterrupted one would have."""
        p, seed = self.spec.params, self.spec.options.get("seed")
        kw = {"n": 1, "temperature": p.temperature, "top_p": p.top_p, "max_tokens": p.max_tokens,
              "stop": list(p.stop) or None}
        if seed is not None:
            kw["seed"] = int(seed) + task.index
        return kw

    def load(self):
        import vllm

        return vllm.LLM(**self.engine_kwargs())

    def run_batch(self, engine, tasks: list[Task]) -> list[Generation]:
        import vllm

        params = [vllm.SamplingParams(**self.sampling_kwargs(t)) for t in tasks]
        start = time.monotonic()
        if self.spec.options.get("chat", True):
            outputs = engine.chat([t.messages() for t in tasks], params, use_tqdm=False)
        else:
            outputs = engine.generate([t.text for t in tasks], params, use_tqdm=False)
        latency = (time.monotonic() - start) / len(tasks)  # the batch's time, shared
        out = []
        for o in outputs:
            thinking, answer = split_thinking(o.outputs[0].text)
            out.append(Generation(answer, tokens_in=len(o.prompt_token_ids or ()),
                                  tokens_out=len(o.outputs[0].token_ids), latency=latency, thinking=thinking,
                                  thinking_tokens=_count(engine, thinking)))
        return out


def _count(engine, text: str) -> int | None:
    return len(engine.get_tokenizer().encode(text, add_special_tokens=False)) if text else None
