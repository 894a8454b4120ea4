"""Provider pieces that need no server: reasoning split, program assembly from
completions, the vLLM request mapping, and a real (tiny, locally built) transformers
model end to end."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from support import harness

from benchmarks import get_benchmark
from benchmarks.extract import program_for, split_thinking
from harness.pipeline.pool_file import load_pool
from harness.providers import PROVIDERS, Provider, Task, make_provider
from harness.providers.batched import BatchedProvider
from harness.providers.spec import GenParams, ModelSpec, Price


def test_every_provider_is_a_provider_and_one_without_generate_cannot_be_made():
    assert PROVIDERS and all(issubclass(cls, Provider) for cls in PROVIDERS.values())
    spec = ModelSpec(name="m", provider="openai", price=Price(), params=GenParams())

    class Silent(Provider):
        pass

    class NoBatch(BatchedProvider):
        def load(self):
            return None

    with pytest.raises(TypeError, match="generate"):
        Silent(spec)
    with pytest.raises(TypeError, match="run_batch"):
        NoBatch(spec)


def test_split_thinking():
    assert split_thinking("<think>\nfirst, sort\n</think>\n```python\nx = 1\n```") == \
        ("first, sort", "```python\nx = 1\n```")
    assert split_thinking("no reasoning here") == ("", "no reasoning here")
    assert split_thinking("<think>cut off by max_tokens") == ("cut off by max_tokens", "")
    assert split_thinking("<think>a</think>mid<think>b</think>end") == ("a\nb", "midend")


def test_program_for_chat_continuation_and_solution():
    bench = get_benchmark("humaneval")
    problem = next(p for p in bench.load() if p.id == "HumanEval/0")
    fenced = "Sure:\n```python\ndef has_close_elements(numbers, threshold):\n    return False\n```\nDone."
    code, program = program_for(bench, problem, fenced)
    assert code == "def has_close_elements(numbers, threshold):\n    return False\n"
    assert program == "from typing import List\n" + code  # the prompt's imports first
    body = "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"
    code, program = program_for(bench, problem, body)  # completion-style: continues the prompt
    assert code == body and program == problem.prompt + body
    code, program = program_for(bench, problem, "ignored", code="x = 1\n")
    assert program == "from typing import List\nx = 1\n"
    lc = get_benchmark("leetcode")
    two = next(p for p in lc.load() if p.entry_point.endswith(".minimumCost"))
    code, program = program_for(lc, two, "class Solution:\n    def minimumCost(self, nums): return 0\n")
    assert program == two.metadata["preamble"] + "\n" + code  # LeetCode: the dataset's preamble first


def _spec(tmp_path, model: dict):
    path = tmp_path / "pool.yaml"
    path.write_text(json.dumps([model]))
    return load_pool(path)[0]


def test_vllm_request_mapping(tmp_path):
    spec = _spec(tmp_path, {"name": "v", "provider": "vllm", "model": "/models/qwen", "dtype": "bfloat16",
                            "tensor_parallel_size": 2, "temperature": 0.8, "top_p": 0.95, "max_tokens": 512,
                            "stop": ["\nclass"], "seed": 100, "n": 5, "price": 0.2})
    provider = make_provider(spec)  # vllm itself is imported only when the engine loads
    problem = get_benchmark("humaneval").load()[0]
    task = Task("humaneval", problem, (problem.id,), "prompt", index=3)
    assert provider.engine_kwargs() == {"model": "/models/qwen", "dtype": "bfloat16", "tensor_parallel_size": 2}
    assert provider.sampling_kwargs(task) == {"n": 1, "temperature": 0.8, "top_p": 0.95, "max_tokens": 512,
                                              "stop": ["\nclass"], "seed": 103}


def test_vllm_missing_is_one_clear_error(tmp_path):
    import importlib.util

    if importlib.util.find_spec("vllm"):
        pytest.skip("vllm is installed here: the message is for machines without it")
    pool = tmp_path / "pool.yaml"
    pool.write_text(json.dumps([{"name": "v", "provider": "vllm", "model": "m", "price": 0}]))
    proc = harness("run", "--dataset", "humaneval", "--models", str(pool), "--limit", "1", "--sandbox", "local",
                   "--run-dir", str(tmp_path / "r"), timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("model 'v': provider 'vllm' needs `vllm` (pip install 'codeharness[vllm]')")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer GPT-2 from a config and a BPE tokenizer trained here on HumanEval
    prompts: nothing from the hub."""
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    out = tmp_path_factory.mktemp("tiny")
    texts = [p.prompt for p in get_benchmark("humaneval").load()]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=500, special_tokens=["<unk>", "<eos>"]))
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", unk_token="<unk>")
    fast.save_pretrained(out)
    import torch

    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=fast.vocab_size, n_positions=1024, n_embd=32, n_layer=2, n_head=2,
                                     eos_token_id=fast.eos_token_id, bos_token_id=fast.eos_token_id)
    transformers.GPT2LMHeadModel(config).save_pretrained(out)
    return out


def test_transformers_provider_end_to_end(tmp_path, tiny_model):
    from transformers import AutoTokenizer

    pool = tmp_path / "pool.yaml"
    pool.write_text(json.dumps([{"name": "tiny", "provider": "transformers", "path": str(tiny_model),
                                 "max_tokens": 12, "n": 2, "batch_size": 3, "price": {"input": 1, "output": 1}}]))
    run_dir = tmp_path / "run"
    proc = harness("run", "--dataset", "humaneval", "--models", str(pool), "--limit", "3", "--sandbox", "local",
                   "--run-dir", str(run_dir), "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(run_dir / "run.sqlite") as con:
        stored = con.execute("SELECT problem, prompt, completion, tokens_in, tokens_out, status, cost FROM samples "
                             "ORDER BY problem, sample").fetchall()
    tok = AutoTokenizer.from_pretrained(tiny_model)
    assert len(stored) == 6
    for _, prompt, _, tin, tout, status, cost in stored:
        assert tin == len(tok(prompt, add_special_tokens=False)["input_ids"])  # exact, not estimated
        assert 1 <= tout <= 12 and status in ("failed", "syntax_error", "runtime_error")
        assert cost == pytest.approx((tin + tout) / 1e6)
    # Greedy decoding: both samples of a problem are the same text.
    assert stored[0][2] == stored[1][2]
