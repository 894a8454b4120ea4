"""What tests share: the checkout's ROOT, the CLI in a subprocess, sandboxes, pools, the
run store's rows. Fixtures live in conftest.py; helpers a test imports live here."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks import get_benchmark
from sandboxes import DockerSandbox, LocalSandbox
from sandboxes.image import DockerUnavailable, docker_client, image_present

ROOT = Path(__file__).resolve().parents[1]
HUMANEVAL = {p.prompt: p for p in get_benchmark("humaneval").load()}
# What a chat model is sent (the instruct prompt) -> the problem, for servers answering by prompt.
HUMANEVAL_CHAT = {get_benchmark("humaneval").prompt(p, "instruct"): p for p in HUMANEVAL.values()}


def harness_argv(*args, python=sys.executable, flags=()) -> list[str]:
    """``python [flags] -m harness args``: this interpreter unless a test needs another
    (a venv's) or interpreter flags (``-X importtime``)."""
    return [str(python), *flags, "-m", "harness", *args]


def harness(*args, python=sys.executable, flags=(), timeout=600, **run_kw) -> subprocess.CompletedProcess:
    """The CLI run to completion from the checkout, its output captured as text."""
    return subprocess.run(harness_argv(*args, python=python, flags=flags), cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, **run_kw)


def harness_process(*args, **popen_kw) -> subprocess.Popen:
    """The CLI started from the checkout, for a test to watch, interrupt or kill."""
    return subprocess.Popen(harness_argv(*args), cwd=ROOT, **popen_kw)


def docker_ready_or_skip() -> None:
    """Docker tests skip on a laptop without Docker, but FAIL in CI (REQUIRE_DOCKER=1)."""
    try:
        ready = image_present(docker_client())
        why = "sandbox image missing (python -m harness sandbox build)"
    except DockerUnavailable as exc:
        ready, why = False, str(exc)
    if not ready:
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail(f"Docker is required here (REQUIRE_DOCKER=1) but {why}")
        pytest.skip(why)


def make_sandbox(kind: str, workers: int = 2):
    """The sandbox a test kind names: ``docker``, ``local`` or ``local:MODE``."""
    if kind == "docker":
        docker_ready_or_skip()
        return DockerSandbox(workers=workers)
    _, _, mode = kind.partition(":")
    return LocalSandbox(workers=workers, mode=mode or None)


def pool(tmp_path, *models, name="pool.yaml") -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"models": list(models)}))  # JSON is YAML
    return str(path)


def rows(run_dir, columns="dataset, problem, model, sample, status, passed, completion, code, tokens_in, tokens_out"):
    with sqlite3.connect(Path(run_dir) / "run.sqlite") as con:
        return con.execute(f"SELECT {columns} FROM samples ORDER BY dataset, problem, model, sample").fetchall()


REPLAY = [{"name": "Yi-Coder-1.5B-Chat", "provider": "replay", "price": 0.14, "n": 5},
          {"name": "deepseek-coder-33b-instruct", "provider": "replay", "price": {"input": 1.0, "output": 2.0},
           "n": 5}]


HUMANEVAL_BY_ID = {p.id: p for p in HUMANEVAL.values()}


def slow_replay(tmp_path, seconds: dict[int, float]) -> str:
    """A replay pool whose HumanEval/i answer is the reference, after sleeping seconds[i]."""
    rows_in = [{"task_id": f"HumanEval/{i}", "solution": (f"import time\ntime.sleep({s})\n" if s else "")
                + HUMANEVAL_BY_ID[f"HumanEval/{i}"].references[0]} for i, s in seconds.items()]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows_in))
    return pool(tmp_path, {"name": "m", "provider": "replay", "path": "s.jsonl", "price": 0})


def wait_for(cond, seconds: float = 120.0) -> None:
    deadline = time.time() + seconds
    while not cond():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def executed(run_dir) -> int:
    try:
        return sum(r[4] is not None for r in rows(run_dir))
    except sqlite3.OperationalError:  # not created yet
        return -1


def answer_with_reference(prompt: str) -> str:
    problem = HUMANEVAL.get(prompt) or HUMANEVAL_CHAT[prompt]
    return f"Here it is:\n```python\n{problem.references[0]}\n```\n"


def stop_ray_in(temp: Path) -> None:
    """Kill the Ray instance whose temp dir is ``temp`` (``ray stop`` would stop every Ray here)."""
    for pid in processes_mentioning(str(temp).encode()):
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    shutil.rmtree(temp, ignore_errors=True)


def processes_mentioning(mark: bytes, environ: bytes = b"") -> list[int]:
    """Processes (not this one) whose command line holds ``mark`` and environment ``environ``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if mark in Path(f"/proc/{entry}/cmdline").read_bytes() and \
                        environ in Path(f"/proc/{entry}/environ").read_bytes():
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    url: str  # http://127.0.0.1:PORT
    process: subprocess.Popen


@contextlib.contextmanager
def served(*args: str, env: dict | None = None, start_timeout: float = 120.0):
    """``python -m harness serve ARGS`` on a free loopback port, ready (``/v1/ping``
    answers); stopped with SIGINT on the way out (killed if it does not stop in 30 s)."""
    port = free_port()
    proc = harness_process("serve", "--port", str(port), *args, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_timeout
    while True:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"serve exited with {proc.returncode} before answering:\n{out}\n{err}")
        try:
            with urllib.request.urlopen(f"{url}/v1/ping", timeout=2) as resp:
                if json.loads(resp.read()) == "pong":
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"serve did not answer /v1/ping within {start_timeout} s: {proc.communicate()}")
        time.sleep(0.2)
    try:
        yield Served(url, proc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


# Routing files in the published formats (routers.formats), written as their authors lay them out.
A, B = "org/model-a", "model-b"  # two models, one with an organisation prefix as the formats' names have


def routerdc(path, rows):
    """RouterDC's JSON list: (question, {model: score}) rows."""
    path.write_text(json.dumps([{"question": q, "scores": s} for q, s in rows], indent=1))
    return path


def routerbench_csv(path, rows, models=(A, B), drop=()):
    """RouterBench's wide CSV as RouterDC ships it: a leading unnamed index column, then
    sample_id, prompt, eval_name, the score columns, responses, costs, the oracle's pick."""
    header = ["", "sample_id", "prompt", "eval_name", *models, *(f"{m}|model_response" for m in models),
              *(f"{m}|total_cost" for m in models), "oracle_model_to_route_to"]
    header = [h for h in header if h not in drop]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for n, row in enumerate(rows):
            full = {"": n, "oracle_model_to_route_to": "no_model_correct", **row}
            w.writerow([full.get(h, "") for h in header])
    return path


def rb_row(sid, prompt, scores, responses, costs, eval_name="mbpp"):
    """One RouterBench row of models A and B: the prompt and responses as Python-literal lists."""
    out = {"sample_id": sid, "prompt": repr([prompt]), "eval_name": eval_name}
    for m, s, r, c in zip((A, B), scores, responses, costs, strict=True):
        out.update({m: s, f"{m}|model_response": repr([r]), f"{m}|total_cost": c})
    return out
