"""``transformers``: a causal LM run in this process on CPU or GPU (extra
``codeharness[ml]``). ``path``: a local model folder (or a hub id where the hub is
reachable). Chat models get their chat template; token counts are exact."""

from __future__ import annotations

import time

from benchmarks.extract import split_thinking

from .base import Generation, Task, resolve_path
from .batched import BatchedProvider


class HFTransformers(BatchedProvider):
    required = ("path",)
    fields = ("device", "dtype", "batch_size", "chat", "seed")
    identity_fields = ("dtype", "chat", "seed")

    @classmethod
    def chat(cls, options):
        return options.get("chat", True)
    extra = "ml"
    default_concurrency = 8

    @classmethod
    def normalize(cls, spec, fail, base_dir):
        if not isinstance(spec.options["path"], str):
            raise fail("path", "must be a model folder or a hub id")
        path = resolve_path(spec.options["path"], base_dir)
        return type(spec)(**{**spec.__dict__, "options": {**spec.options, "path": path}})

    def load(self):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        opts = self.spec.options
        tok = AutoTokenizer.from_pretrained(opts["path"])
        tok.padding_side = "left"  # generation continues the right end of every row
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        dtype = getattr(torch, opts.get("dtype", "float32"))
        device = opts.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
        model = AutoModelForCausalLM.from_pretrained(opts["path"], dtype=dtype).to(device).eval()
        return tok, model, device

    def text_of(self, tok, task: Task) -> str:
        if self.spec.options.get("chat", True) and tok.chat_template:
            return tok.apply_chat_template(task.messages(), tokenize=False, add_generation_prompt=True)
        return task.text

    def run_batch(self, engine, tasks: list[Task]) -> list[Generation]:
        import torch

        tok, model, device = engine
        p = self.spec.params
        enc = tok([self.text_of(tok, t) for t in tasks], return_tensors="pt", padding=True,
                  add_special_tokens=False).to(device)
        seed = self.spec.options.get("seed")
        if seed is not None:
            torch.manual_seed(int(seed) + tasks[0].index)
        kw = {"max_new_tokens": p.max_tokens, "pad_token_id": tok.pad_token_id, "do_sample": p.temperature > 0}
        if p.temperature > 0:
            kw.update(temperature=p.temperature, top_p=p.top_p)
        if p.stop:
            kw.update(stop_strings=list(p.stop), tokenizer=tok)
        start = time.monotonic()
        with torch.no_grad():
            out = model.generate(**enc, **kw)
        latency = (time.monotonic() - start) / len(tasks)
        width = enc["input_ids"].shape[1]
        gens = []
        for row, mask in zip(out, enc["attention_mask"], strict=True):
            new = row[width:].tolist()
            if tok.eos_token_id in new:
                new = new[:new.index(tok.eos_token_id) + 1]
            text = tok.decode(new, skip_special_tokens=True)
            for s in p.stop:  # the stop string ends generation; it is not part of the answer
                text = text.split(s, 1)[0]
            thinking, answer = split_thinking(text)
            gens.append(Generation(answer, tokens_in=int(mask.sum()), tokens_out=len(new), latency=latency,
                                   thinking=thinking,
                                   thinking_tokens=len(tok.encode(thinking, add_special_tokens=False))
                                   if thinking else None))
        return gens
