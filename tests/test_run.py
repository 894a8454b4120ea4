"""`python -m harness run` end to end: replay and OpenAI-compatible providers against
real local servers, the SQLite run store, resume after kill -9, the matrix export,
and bad input."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openai_server import FaultyOpenAIServer

from benchmarks import get_benchmark

ROOT = Path(__file__).resolve().parents[1]
HUMANEVAL = {p.prompt: p for p in get_benchmark("humaneval").load()}


def harness(*args, timeout=600, env=None):
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


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


def test_replay_run_matrix_and_resume(tmp_path):
    run_dir = tmp_path / "run"
    args = ["run", "--dataset", "humaneval", "--models", pool(tmp_path, *REPLAY), "--limit", "6",
            "--sandbox", "local", "--run-dir", str(run_dir), "--json"]
    proc = harness(*args)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    stored = rows(run_dir)
    assert len(stored) == 2 * 6 * 5 and all(r[4] in ("passed", "failed", "runtime_error") for r in stored)
    # Tokens and cost are the artifact's: the first sample of HumanEval/0 for Yi-Coder.
    from benchmarks.io import read_records

    rec = next(r for r in read_records(ROOT / "benchmarks/data/adaptivellm/generations/"
                                       "Yi-Coder-1.5B-Chat-output-HumanEval.jsonl.gz") if r["id"] == "HumanEval/0")
    with sqlite3.connect(run_dir / "run.sqlite") as con:
        tin, tout, cost, recorded = con.execute(
            "SELECT tokens_in, tokens_out, cost, recorded_passed FROM samples WHERE problem='HumanEval/0' "
            "AND model='Yi-Coder-1.5B-Chat' AND sample=0").fetchone()
        limits = con.execute("SELECT count(*), min(seconds), max(how) FROM time_limits").fetchone()
    assert (tin, tout, recorded) == (rec["input_token_count"], rec["output_token_counts"][0], int(rec["results"][0]))
    assert cost == pytest.approx((tin + tout) * 0.14 / 1e6)
    assert limits == (6, 3.0, "reference")  # calibrated, stored with the run; --timeout (3 s) is the floor
    yi = next(m for m in summary["models"] if m["model"] == "Yi-Coder-1.5B-Chat")
    passed = sum(r[5] for r in stored if r[2] == "Yi-Coder-1.5B-Chat")
    assert yi["pass@1"] == pytest.approx(passed / 30, abs=1e-4) and yi["samples"] == 30

    import harness as api

    m = api.load_matrix(run_dir)
    assert list(m.passes.columns) == ["Yi-Coder-1.5B-Chat", "deepseek-coder-33b-instruct"]
    assert m.passes.shape == (6, 2) and len(m.samples) == 60
    want = sum(r[5] for r in stored if r[1] == "HumanEval/0" and r[2] == "Yi-Coder-1.5B-Chat") / 5
    assert m.passes.loc[("humaneval", "HumanEval/0"), "Yi-Coder-1.5B-Chat"] == want
    assert m.prices["deepseek-coder-33b-instruct"] == (1.0, 2.0)
    # A finished run is its store and exports: no -wal/-shm left beside the store.
    assert {p.name for p in run_dir.iterdir()} == {"run.sqlite", "samples.parquet", "pass_matrix.parquet",
                                                   "cost_matrix.parquet"}

    again = harness(*args)  # resume of a finished run: nothing is redone
    assert again.returncode == 0 and "0 samples to generate, 0 to execute" in again.stderr
    assert rows(run_dir) == stored
    out = tmp_path / "csv"
    assert harness("matrix", str(run_dir), "--format", "csv", "--out", str(out)).returncode == 0
    import pandas as pd

    wide = pd.read_csv(out / "pass_matrix.csv")
    assert list(wide.columns) == ["dataset", "problem", "Yi-Coder-1.5B-Chat", "deepseek-coder-33b-instruct"]

    report = harness("report", "agreement", str(run_dir), "--out", str(tmp_path / "agreement.md"))
    assert report.returncode == 0, report.stderr
    (ds,) = json.loads(report.stdout)
    with sqlite3.connect(run_dir / "run.sqlite") as con:
        agree = con.execute("SELECT count(*) FROM samples WHERE recorded_passed = passed").fetchone()[0]
    assert (ds["dataset"], ds["samples"], ds["agree"]) == ("humaneval", 60, agree)
    assert ds["ours_pass_theirs_fail"] + ds["ours_fail_theirs_pass"] == 60 - agree
    text = (tmp_path / "agreement.md").read_text()
    assert f"| humaneval | 60 | {agree} (" in text
    listed = text.count("| Yi-Coder-1.5B-Chat | HumanEval/") + text.count("| deepseek-coder-33b-instruct | HumanEval/")
    assert listed == 60 - agree  # every disagreement is listed


def test_missing_recordings_are_missing_cells(tmp_path):
    """Qwen2.5-Coder-32B has no LeetCode generations in the artifact: its cells are
    NaN, never failures."""
    models = [{"name": "Qwen2.5-Coder-32B-Instruct", "provider": "replay", "price": 1.26, "n": 1},
              {"name": "Codestral-22B-v0.1", "provider": "replay", "price": 0.95, "n": 1}]
    run_dir = tmp_path / "run"
    proc = harness("run", "--dataset", "leetcode", "--models", pool(tmp_path, *models), "--source", "adaptivellm",
                   "--limit", "3", "--sandbox", "local", "--run-dir", str(run_dir), "--no-calibrate")
    assert proc.returncode == 0, proc.stderr
    import harness as api

    m = api.load_matrix(run_dir)
    assert m.passes["Qwen2.5-Coder-32B-Instruct"].isna().all()
    assert m.passes["Codestral-22B-v0.1"].notna().sum() == 3


def test_a_dataset_without_any_sample_is_an_error_with_the_fix(tmp_path):
    """The first LeetCode problems are LeetCodeDataset's own, none of them the artifact's:
    the run stores nothing, says which models lack recordings and how to select theirs."""
    models = [{"name": "Qwen2.5-Coder-32B-Instruct", "provider": "replay", "price": 1.26, "n": 1},
              {"name": "Codestral-22B-v0.1", "provider": "replay", "price": 0.95, "n": 1}]
    run_dir = tmp_path / "run"
    for datasets in ("leetcode", "humaneval,leetcode"):
        proc = harness("run", "--dataset", datasets, "--models", pool(tmp_path, *models), "--limit", "5",
                       "--sandbox", "local", "--run-dir", str(run_dir), "--no-calibrate")
        assert proc.returncode == 2 and proc.stderr == (
            "error: leetcode: no model has a sample for the 5 selected problems: Qwen2.5-Coder-32B-Instruct, "
            "Codestral-22B-v0.1 have no recordings of them; the bundled source 'adaptivellm' has 209 of the "
            "recorded problems: run leetcode with --source adaptivellm\n"), proc.stderr
        assert not rows(run_dir) and not (run_dir / "pass_matrix.parquet").exists()


def test_mbpp_splits_are_the_standard_task_id_ranges(tmp_path):
    """--split test on the bundled MBPP is tasks 11-510 (not all 974, not the few-shot
    prompt problems 1-10), and the run records it; an unknown split lists the valid ones."""
    mbpp = get_benchmark("mbpp").load()
    (tmp_path / "s.jsonl").write_text("".join(json.dumps({"task_id": p.id, "solution": p.references[0]}) + "\n"
                                              for p in mbpp[:20] + mbpp[600:603]))
    model = {"name": "ref", "provider": "replay", "path": "s.jsonl", "price": 0}
    for split, want in (("test", ["MBPP/11", "MBPP/12", "MBPP/13"]), ("train", ["MBPP/601", "MBPP/602", "MBPP/603"]),
                        ("prompt", ["MBPP/1", "MBPP/2", "MBPP/3"])):
        run_dir = tmp_path / split
        proc = harness("run", "--dataset", "mbpp", "--models", pool(tmp_path, model), "--split", split, "--limit",
                       "3", "--sandbox", "local", "--run-dir", str(run_dir), "--no-calibrate", "--json")
        assert proc.returncode == 0, proc.stderr
        assert [r[1] for r in rows(run_dir)] == want and {r[4] for r in rows(run_dir)} == {"passed"}
        with sqlite3.connect(run_dir / "run.sqlite") as con:
            key = json.loads(con.execute("SELECT value FROM meta WHERE key = 'run'").fetchone()[0])
        assert key == {"datasets": ["mbpp"], "split": split, "source": None}
    proc = harness("run", "--dataset", "mbpp", "--models", pool(tmp_path, model), "--split", "dev", "--sandbox",
                   "local", "--run-dir", str(tmp_path / "dev"))
    assert proc.returncode == 2 and proc.stderr == \
        "error: mbpp: no split 'dev' in the bundled full (splits: prompt, test, train, validation)\n"


def test_summary_covers_the_problems_this_command_selected(tmp_path):
    """A run of 6 problems resumed with --limit 2: the summary is of those 2, and says so."""
    models = pool(tmp_path, dict(REPLAY[0], n=1))
    base = ["run", "--dataset", "humaneval", "--models", models, "--sandbox", "local", "--run-dir",
            str(tmp_path / "run"), "--no-calibrate", "--json"]
    first = harness(*base, "--limit", "6")
    assert first.returncode == 0 and "note: summary of" not in first.stderr, first.stderr
    assert json.loads(first.stdout)["models"][0]["problems"] == 6
    again = harness(*base, "--limit", "2")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    (yi,) = summary["models"]
    passed = sum(r[5] for r in rows(tmp_path / "run") if r[1] in ("HumanEval/0", "HumanEval/1"))
    assert (yi["problems"], yi["samples"], yi["pass@1"]) == (2, 2, passed / 2)
    assert summary["selection"] == {"humaneval": {"summarized": 2, "stored": 6}}
    assert "note: summary of 2 of 6 stored problems (humaneval): the ones this command selected" in again.stderr


def _uninterrupted_and_killed(tmp_path, models, extra=()):
    base = ["--dataset", "humaneval", "--models", pool(tmp_path, *models), "--sandbox", "local", *extra]
    clean = tmp_path / "clean"
    assert harness("run", *base, "--run-dir", str(clean)).returncode == 0
    killed = tmp_path / "killed"
    rng = random.Random(7)
    counts = []
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "harness", "run", *base, "--run-dir", str(killed)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(rng.uniform(1.5, 3.5))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        executed = [r for r in rows(killed) if r[4] is not None] if (killed / "run.sqlite").exists() else []
        counts.append(len(executed))
    done = harness("run", *base, "--run-dir", str(killed))
    assert done.returncode == 0, done.stderr
    return clean, killed, counts


def test_resume_after_kill_9(tmp_path):
    """kill -9 at random points, three times; then finish: every sample exactly once,
    and the same verdicts and matrix as a run never interrupted."""
    clean, killed, counts = _uninterrupted_and_killed(tmp_path, REPLAY, ["--limit", "40", "--timeout", "2"])
    print("executed at each kill:", counts)
    assert any(0 < c < 400 for c in counts), counts  # some kill landed mid-execution
    assert rows(killed) == rows(clean) and len(rows(clean)) == 400
    import harness as api

    a, b = api.load_matrix(clean), api.load_matrix(killed)
    assert a.passes.equals(b.passes) and a.costs.equals(b.costs)


def _answer_with_reference(prompt: str) -> str:
    problem = HUMANEVAL[prompt]
    return f"Here it is:\n```python\n{problem.references[0]}\n```\n"


def test_openai_retries_429_500_and_dropped_connections(tmp_path):
    with FaultyOpenAIServer(_answer_with_reference, faults=[429, 500, "drop"]) as server:
        model = {"name": "local", "provider": "openai", "base_url": server.url, "model": "fake", "n": 1,
                 "price": {"input": 1, "output": 2}, "max_tokens": 300}
        run_dir = tmp_path / "run"
        proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, model), "--limit", "3",
                       "--sandbox", "local", "--run-dir", str(run_dir), "--json")
        assert proc.returncode == 0, proc.stderr
        assert sorted(server.seen.values()) == [4, 4, 4]  # 3 failures, then the answer, per prompt
    stored = rows(run_dir)
    assert [r[4] for r in stored] == ["passed"] * 3
    prompt_words = [len(HUMANEVAL[p].prompt.split()) for p in HUMANEVAL][:3]
    assert sorted(r[8] for r in stored) == sorted(prompt_words)
    assert server.requests[-1]["max_tokens"] == 300 and server.requests[-1]["temperature"] == 0.0


@pytest.mark.parametrize("status,fatal", [(401, True), (404, True), (400, False)])
def test_openai_fatal_and_per_sample_errors(tmp_path, status, fatal):
    with FaultyOpenAIServer(_answer_with_reference, faults=[status] * 10) as server:
        model = {"name": "local", "provider": "openai", "base_url": server.url, "model": "fake", "max_retries": 1,
                 "price": 0}
        run_dir = tmp_path / "run"
        proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, model), "--limit", "2",
                       "--sandbox", "local", "--run-dir", str(run_dir))
    if fatal:
        assert proc.returncode == 2
        assert f"model 'local': {server.url} answered HTTP {status}: scripted {status}" in proc.stderr
        assert proc.stderr.count("error:") == 1 and "Traceback" not in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
        stored = rows(run_dir, "status, generation_error")
        assert stored == [("generation_error", "HTTP 400: scripted 400")] * 2


BAD_POOLS = [
    ("models: [\n  - name: a\n    provider: replay\n  oops",
     "line 2 column 3 not valid YAML (expected the node content"),
    ("models: []", "expected a non-empty list of models"),
    ("- {name: a, provider: gpt5}", "model 'a': field 'provider': unknown provider 'gpt5'; choose from openai"),
    ("- {provider: replay}", "models[0]: field 'name': missing"),
    ("- {name: a, provider: openai}", "model 'a': field 'model': missing (provider 'openai' needs it)"),
    ("- {name: a, provider: openai, model: m, api_key_env: CODEHARNESS_NO_SUCH_KEY, price: 1}",
     "model 'a': field 'api_key_env': environment variable CODEHARNESS_NO_SUCH_KEY is not set"),
    ("- {name: a, provider: replay, temperature: hot}", "model 'a': field 'temperature': must be a number"),
    ("- {name: a, provider: replay, n: 0}", "model 'a': field 'n': must be an integer >= 1, got 0"),
    ("- {name: a, provider: replay, price: {input: -1}}", "field 'price': field 'input': must be a number >= 0.0"),
    ("- {name: a, provider: replay}", "model 'a': field 'price': missing: USD per million tokens"),
    ("- {name: a, provider: replay, price: {input: 0.1}}", "model 'a': field 'price': field 'output': missing"),
    ("- {name: a, provider: replay, price: {output: 0}}", "model 'a': field 'price': field 'input': missing"),
    ("- {name: a, provider: replay, base_url: x}", "model 'a': field 'base_url': unknown field for provider 'replay'"),
    ("- {name: a, provider: replay, path: /no/such/dir, price: 0}",
     "field 'path': /no/such/dir: no such file or folder"),
    ("- {name: a, provider: replay, price: 0}\n- {name: a, provider: replay, price: 0}",
     "model name 'a' appears more than once"),
    ("- {name: a, provider: openai, model: m, base_url: 'ftp://x', price: 0}",
     "field 'base_url': must be an http(s) URL"),
    ("- {name: a, provider: replay, prompt_style: fancy, price: 0}",
     "field 'prompt_style': unknown style 'fancy'; choose from"),
]


@pytest.mark.parametrize("text,message", BAD_POOLS)
def test_bad_pool_one_clear_line(tmp_path, existing_run, text, message):
    bad = tmp_path / "pool.yaml"
    bad.write_text(text)
    run_dir = existing_run
    before = (run_dir / "run.sqlite").read_bytes()
    proc = harness("run", "--dataset", "humaneval", "--models", str(bad), "--run-dir", str(run_dir),
                   "--sandbox", "local")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith(f"error: {bad}")
    assert message in proc.stderr, proc.stderr
    assert (run_dir / "run.sqlite").read_bytes() == before


def test_explicit_zero_price_is_free_and_every_example_pool_loads(tmp_path):
    from harness.config import Price, load_pool

    path = tmp_path / "pool.yaml"
    path.write_text("- {name: a, provider: replay, price: 0}\n"
                    "- {name: b, provider: replay, price: {input: 0, output: 0}}\n"
                    "- {name: c, provider: replay, price: {input: 0.1, output: 0.4}}\n")
    assert [s.price for s in load_pool(path)] == [Price(0.0, 0.0), Price(0.0, 0.0), Price(0.1, 0.4)]
    for example in sorted((ROOT / "examples").glob("*.yaml")):
        assert load_pool(example), example  # every example states its prices


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("finished")
    run_dir = tmp / "existing"
    proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp, REPLAY[0], name="ok.yaml"),
                   "--limit", "1", "--n", "1", "--sandbox", "local", "--run-dir", str(run_dir), "--no-calibrate")
    assert proc.returncode == 0, proc.stderr
    return run_dir


@pytest.fixture
def existing_run(finished_run, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(finished_run, tmp_path / "existing"))


@pytest.mark.parametrize("case", ["unknown dataset", "unreachable endpoint", "changed model", "other dataset",
                                  "not a run dir"])
def test_bad_run_inputs_leave_the_run_intact(tmp_path, existing_run, case):
    run_dir = existing_run
    before = rows(run_dir)
    models, dataset = pool(tmp_path, REPLAY[0], name="ok.yaml"), "humaneval"
    target = run_dir
    if case == "unknown dataset":
        dataset, message = "humaneva", "unknown dataset 'humaneva'; available: apps"
    elif case == "unreachable endpoint":
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again: nothing listens there
        models = pool(tmp_path, REPLAY[0], {"name": "down", "provider": "openai", "model": "m", "price": 0,
                                            "base_url": f"http://127.0.0.1:{port}/v1"}, name="down.yaml")
        message = f"model 'down': cannot reach http://127.0.0.1:{port}/v1"
    elif case == "changed model":
        models = pool(tmp_path, dict(REPLAY[0], temperature=0.7), name="ok.yaml")
        message = "model 'Yi-Coder-1.5B-Chat' differs from the one this run started with"
    elif case == "other dataset":
        dataset, message = "mbpp", "holds a run of"
    else:
        target = tmp_path / "notes"
        target.mkdir()
        (target / "mine.txt").write_text("keep")
        message = "not empty and not a run directory"
    proc = harness("run", "--dataset", dataset, "--models", models, "--run-dir", str(target), "--sandbox", "local")
    assert proc.returncode == 2, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert rows(run_dir) == before


@pytest.mark.parametrize("dataset,ours,status,detail,want", [
    ("leetcode", True, "passed", "", "different tests"),
    ("humaneval", True, "passed", "", "passes the benchmark's tests here"),
    ("humaneval", False, "timeout", "exceeded 10 s", "timeout here"),
    ("humaneval", False, "syntax_error", "invalid syntax", "extraction"),
    ("humaneval", False, "runtime_error", "NameError: name 'List' is not defined", "uses an import the authors'"),
    ("humaneval", False, "runtime_error", "NameError: name 'helper' is not defined", "fails here (runtime_error)"),
    ("codecontests", False, "runtime_error", "ModuleNotFoundError: No module named 'scipy'", "module not installed"),
    ("humaneval", False, "oom", "MemoryError", "resource limit here (oom)"),
    ("codecontests", False, "failed", "test 3: wrong answer", "fails here (failed)"),
])
def test_disagreement_causes(dataset, ours, status, detail, want):
    from harness.agreement import cause

    assert want in cause(dataset, ours, status, detail)


def test_openai_reasoning_is_split_and_counted(tmp_path):
    """A reasoning model's <think> part is stored apart; the server gave no
    reasoning_tokens, so its length is a share of the output tokens, flagged."""
    thinking = "first sort the numbers then compare neighbours"
    with FaultyOpenAIServer(lambda p: f"<think>{thinking}</think>\n" + _answer_with_reference(p)) as server:
        model = {"name": "r1", "provider": "openai", "base_url": server.url, "model": "fake", "price": 0}
        run_dir = tmp_path / "run"
        proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, model), "--limit", "1",
                       "--sandbox", "local", "--run-dir", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    (row,) = rows(run_dir, "thinking, thinking_tokens, tokens_out, completion, status, extra")
    assert row[0] == thinking and "<think>" not in row[3] and row[4] == "passed"
    total = len(f"<think>{thinking}</think>\n{_answer_with_reference(HUMANEVAL_FIRST)}".split())
    assert row[2] == total and row[1] == round(total * len(thinking) / (len(thinking) + len(row[3])))
    assert json.loads(row[5])["thinking_tokens_estimated"] is True


HUMANEVAL_FIRST = next(iter(HUMANEVAL))


def test_completion_style_and_execution_resume(tmp_path):
    """A completions-API model continuing the HumanEval prompt: the program is prompt +
    continuation. Samples generated but never executed (a kill between the two) are
    executed by the next run, from the program stored with them."""
    def body(prompt: str) -> str:
        problem = HUMANEVAL[prompt]
        return problem.references[0][len(problem.prompt):]

    with FaultyOpenAIServer(body) as server:
        model = {"name": "base", "provider": "openai", "api": "completions", "base_url": server.url, "model": "m",
                 "price": 0}
        run_dir = tmp_path / "run"
        args = ["run", "--dataset", "humaneval", "--models", pool(tmp_path, model), "--limit", "4", "--sandbox",
                "local", "--run-dir", str(run_dir)]
        assert harness(*args).returncode == 0
        assert "prompt" in server.requests[0] and "messages" not in server.requests[0]
    first = rows(run_dir, "problem, status, code, program")
    assert [r[1] for r in first] == ["passed"] * 4
    assert all(r[3] == HUMANEVAL_BY_ID[r[0]].prompt + r[2] for r in first)
    with sqlite3.connect(run_dir / "run.sqlite") as con:
        con.execute("UPDATE samples SET status = NULL, passed = NULL WHERE problem IN ('HumanEval/1', 'HumanEval/3')")
    again = harness(*args)  # the server is gone: nothing may be generated again
    assert again.returncode == 0 and "0 samples to generate, 2 to execute" in again.stderr
    assert rows(run_dir, "problem, status, code, program") == first


HUMANEVAL_BY_ID = {p.id: p for p in HUMANEVAL.values()}


@pytest.mark.parametrize("raw,delay,message", [
    (b"not json{{{", 0, "returned an invalid response (JSONDecodeError"),
    (b'{"foo": 1}', 0, "returned an invalid response"),
    (b'{"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}', 0,
     "returned an invalid response (IndexError"),
    (None, 3, "did not answer within 1.0 s"),
])
def test_broken_endpoint_one_line(tmp_path, raw, delay, message):
    with FaultyOpenAIServer(_answer_with_reference, raw=raw, delay=delay) as server:
        model = {"name": "m", "provider": "openai", "base_url": server.url, "model": "m", "timeout": 1,
                 "max_retries": 0, "price": 0}
        proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, model), "--limit", "1",
                       "--sandbox", "local", "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error:") and message in lines[-1], proc.stderr
    assert "Traceback" not in proc.stderr and sum(x.startswith("error:") for x in lines) == 1


@pytest.mark.parametrize("setup,message", [
    ("typo", "field 'model' (default: 'name'): no recordings of 'Yi-Coder-1.5B-chat'"),
    ("tokens", "row 1: 'tokens_out' must be an integer >= 0, got 'many'"),
    ("passed", "row 1: 'passed' must be true or false, got 'yes'"),
    ("empty", "is empty"),
    ("no dataset", "--dataset: no dataset given"),
])
def test_replay_and_option_mistakes(tmp_path, setup, message):
    model, dataset = {"name": "m", "provider": "replay", "path": "s.jsonl", "price": 0}, "humaneval"
    row = {"task_id": "HumanEval/0", "completion": "x"}
    if setup == "typo":
        model = {"name": "Yi-Coder-1.5B-chat", "provider": "replay", "price": 0.14}
    elif setup == "tokens":
        row["tokens_out"] = "many"
    elif setup == "passed":
        row["passed"] = "yes"
    elif setup == "no dataset":
        dataset = " , "
    (tmp_path / "s.jsonl").write_text("" if setup == "empty" else json.dumps(row) + "\n")
    proc = harness("run", "--dataset", dataset, "--models", pool(tmp_path, model), "--limit", "1", "--sandbox",
                   "local", "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_duplicate_datasets_and_short_recordings(tmp_path):
    rows = [{"task_id": "HumanEval/0", "completion": "x"}] * 2 + [{"task_id": "HumanEval/1", "completion": "y"}]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = {"name": "m", "provider": "replay", "path": "s.jsonl", "n": 3, "price": 0}
    proc = harness("run", "--dataset", "humaneval, humaneval", "--models", pool(tmp_path, model), "--limit", "3",
                   "--sandbox", "local", "--run-dir", str(tmp_path / "run"), "--json", "--no-calibrate")
    assert proc.returncode == 0, proc.stderr
    assert "note: model 'm' has fewer than n=3 samples for 2 problems" in proc.stderr
    summary = json.loads(proc.stdout)
    assert [(m["dataset"], m["samples"]) for m in summary["models"]] == [("humaneval", 3)]


@pytest.mark.parametrize("what", ["text file", "garbage db", "no samples table", "old version"])
def test_matrix_and_report_on_non_run_stores(tmp_path, what):
    target = tmp_path / "x"
    message = "not a run store"
    if what == "text file":
        target.write_text("hello")
    elif what == "old version":
        from harness.store import RunStore

        RunStore(target).set_meta("schema_version", 1)
        message = "run store version 1, this codeharness reads 2, 3 and 4"
    else:
        target.mkdir()
        if what == "garbage db":
            (target / "run.sqlite").write_bytes(b"\x00" * 4096)
        else:
            sqlite3.connect(target / "run.sqlite").execute("CREATE TABLE t (x)").connection.commit()
    for args in (["matrix", str(target)], ["report", "agreement", str(target)]):
        proc = harness(*args)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_unwritable_outputs(existing_run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = harness("matrix", str(existing_run), "--out", str(blocker / "sub"))
    assert proc.returncode == 2 and "cannot create" in proc.stderr and "Traceback" not in proc.stderr
    proc = harness("report", "agreement", str(existing_run), "--out", str(blocker / "a.md"))
    assert proc.returncode == 2 and "cannot write" in proc.stderr and "Traceback" not in proc.stderr


def test_fresh_waits_for_the_models_and_failed_checks_lock_nothing(existing_run, tmp_path):
    before = rows(existing_run)
    dead = {"name": "Yi-Coder-1.5B-Chat", "provider": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1",
            "timeout": 2, "max_retries": 0, "price": 0.14}
    proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, dead, name="dead.yaml"), "--limit", "1",
                   "--sandbox", "local", "--run-dir", str(existing_run), "--fresh")
    assert proc.returncode == 2 and "cannot reach http://127.0.0.1:9/v1" in proc.stderr
    assert rows(existing_run) == before  # --fresh did not drop the run before the model answered
    new_dir = tmp_path / "new"
    harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, dead, name="dead.yaml"), "--limit", "1",
            "--sandbox", "local", "--run-dir", str(new_dir))
    fixed = dict(REPLAY[0], n=1)  # the user fixes the pool: accepted, nothing was locked
    proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, fixed, name="dead.yaml"), "--limit",
                   "1", "--sandbox", "local", "--run-dir", str(new_dir), "--no-calibrate")
    assert proc.returncode == 0, proc.stderr


def test_price_change_recomputes_costs(existing_run, tmp_path):
    dearer = dict(REPLAY[0], price={"input": 2.0, "output": 3.0})
    proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, dearer, name="ok.yaml"), "--limit",
                   "1", "--n", "1", "--sandbox", "local", "--run-dir", str(existing_run))
    assert proc.returncode == 0 and "price changed; its stored samples' costs recomputed" in proc.stderr
    ((tin, tout, cost),) = rows(existing_run, "tokens_in, tokens_out, cost")
    assert cost == pytest.approx((2 * tin + 3 * tout) / 1e6)


def test_matrix_rows_are_the_stored_problems_only(tmp_path):
    """Two datasets in one store: the wide matrix has one row per stored (dataset,
    problem), not every combination of the two."""
    from harness.providers import Generation
    from harness.store import RunStore, SampleKey
    from sandboxes import Limits, Status, Verdict

    store = RunStore(tmp_path)
    store.set_model("a", {}, 1.0, 1.0)
    store.set_model("b", {}, 1.0, 1.0)
    for dataset, problem, passed in (("humaneval", "HumanEval/0", True), ("mbpp", "11", False)):
        key = SampleKey(dataset, problem, "a", 0)
        store.add_generation(key, "p", Generation("c", tokens_in=1, tokens_out=2), "c", "c", 3e-6)
        store.add_verdict(key, Verdict(Status.PASSED if passed else Status.FAILED), Limits(timeout=10.0))
    store.close()
    import harness as api

    m = api.load_matrix(tmp_path)
    assert list(m.passes.index) == [("humaneval", "HumanEval/0"), ("mbpp", "11")]
    assert m.passes["a"].tolist() == [1.0, 0.0] and m.passes["b"].isna().all()


def test_replayed_reasoning_gets_estimated_thinking_tokens(tmp_path):
    """Recordings of a reasoning model (a samples file with <think> parts and token
    counts) feed the CoT-length router like a live one: thinking tokens are estimated
    as their share of the output tokens by characters, and flagged."""
    think, answer = "let me think " * 10, "```python\n" + HUMANEVAL_FIRST + "    return True\n```"
    rows_in = [{"task_id": "HumanEval/0", "completion": f"<think>{think}</think>{answer}", "tokens_out": 400},
               {"task_id": "HumanEval/0", "completion": answer, "tokens_out": 50}]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows_in))
    model = {"name": "thinker", "provider": "replay", "path": "s.jsonl", "n": 2, "price": 0}
    proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, model), "--limit", "1",
                   "--sandbox", "local", "--run-dir", str(tmp_path / "run"), "--no-calibrate")
    assert proc.returncode == 0, proc.stderr
    stored = rows(tmp_path / "run", "thinking_tokens, extra")
    completion = answer.strip()
    assert stored[0][0] == round(400 * len(think.strip()) / (len(think.strip()) + len(completion)))
    assert json.loads(stored[0][1])["thinking_tokens_estimated"] is True
    assert stored[1][0] is None  # no thinking, nothing estimated


def test_base_url_without_v1_is_caught_before_generation(tmp_path):
    """A server whose API is under /v1 (vLLM, SGLang...), given its root URL: the
    endpoint check says so, with the URL meant, before any sample is requested."""
    with FaultyOpenAIServer(_answer_with_reference) as server:
        root = server.url.removesuffix("/v1")
        model = {"name": "local", "provider": "openai", "base_url": root, "model": "fake", "price": 0}
        models = pool(tmp_path, model)
        proc = harness("run", "--dataset", "humaneval", "--models", models, "--limit", "2", "--sandbox", "local",
                       "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stderr
    errors = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert errors == [f"error: {models}: model 'local': field 'base_url': {root}/models answered HTTP 404, "
                      f"{root}/v1/models answers: did you mean {root}/v1?"]
    assert server.unknown_paths == ["GET /models"] and server.requests == []  # nothing was generated
    assert not (tmp_path / "run" / "run.sqlite").exists() or rows(tmp_path / "run") == []


def test_a_changed_model_names_what_changed(existing_run, tmp_path):
    models = pool(tmp_path, dict(REPLAY[0], temperature=0.7, stop=["\nclass"]), name="ok.yaml")
    proc = harness("run", "--dataset", "humaneval", "--models", models, "--run-dir", str(existing_run),
                   "--sandbox", "local")
    assert proc.returncode == 2, proc.stderr
    errors = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert errors == [f"error: {existing_run}: model 'Yi-Coder-1.5B-Chat' differs from the one this run started "
                      f"with ({models}: model 'Yi-Coder-1.5B-Chat'): stop [] -> ['\\nclass'], temperature 0.0 -> "
                      "0.7; use --fresh, another --run-dir or a new model name"]


def test_identity_changes_name_the_pool_fields_and_hide_secrets():
    from harness.run import identity_changes

    old = {"provider": "openai", "params": {"temperature": 0.0, "stop": []}, "prompt_style": "default",
           "options": {"model": "m", "extra_body": {"api_key": "sk-old", "seed": 1}}}
    new = {"provider": "openai", "params": {"temperature": 0.2, "stop": []}, "prompt_style": "sandboxfusion",
           "options": {"model": "m2", "system": "x" * 80, "extra_body": {"api_key": "sk-new", "seed": 1}}}
    assert identity_changes(old, new) == (
        "prompt_style 'default' -> 'sandboxfusion', temperature 0.0 -> 0.2, extra_body.api_key (hidden) -> "
        f"(hidden), model 'm' -> 'm2', system (unset) -> '{'x' * 56}...")
    assert "sk-" not in identity_changes(old, new)


def _slow_replay(tmp_path, seconds: dict[int, float]) -> str:
    """A replay pool whose HumanEval/i answer is the reference, after sleeping seconds[i]."""
    rows_in = [{"task_id": f"HumanEval/{i}", "solution": (f"import time\ntime.sleep({s})\n" if s else "")
                + HUMANEVAL_BY_ID[f"HumanEval/{i}"].references[0]} for i, s in seconds.items()]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows_in))
    return pool(tmp_path, {"name": "m", "provider": "replay", "path": "s.jsonl", "price": 0})


def _wait_for(cond, seconds: float = 120.0) -> None:
    deadline = time.time() + seconds
    while not cond():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def _executed(run_dir) -> int:
    try:
        return sum(r[4] is not None for r in rows(run_dir))
    except sqlite3.OperationalError:  # not created yet
        return -1


def test_a_run_dir_in_use_is_refused_and_a_dead_runs_lock_taken_over(tmp_path):
    import socket

    run_dir = tmp_path / "run"
    args = ["run", "--dataset", "humaneval", "--models", _slow_replay(tmp_path, {0: 60}), "--limit", "1",
            "--sandbox", "local", "--timeout", "90", "--no-calibrate", "--run-dir", str(run_dir)]
    first = subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # Generated (one row), executing for 60 s: not merely an empty store.
        _wait_for(lambda: _executed(run_dir) == 0 and len(rows(run_dir)) == 1)
        before = rows(run_dir)
        second = harness(*args)
        host = socket.gethostname()
        assert second.returncode == 2, second.stderr
        errors = [x for x in second.stderr.splitlines() if x.startswith("error:")]
        assert len(errors) == 1, second.stderr
        assert errors[0].startswith(f"error: {run_dir}: in use by another run (PID {first.pid} on {host}, started ")
        assert errors[0].endswith("); wait for it to end or stop it, or choose another --run-dir")
        assert rows(run_dir) == before and json.loads((run_dir / "run.lock").read_text())["pid"] == first.pid
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    # The holder is dead (kill -9: its lock file stays): the next run takes the directory over.
    args[args.index("--models") + 1] = _slow_replay(tmp_path, {0: 0})
    third = harness(*args, "--fresh")
    assert third.returncode == 0, third.stderr
    assert f"note: {run_dir}: taking over the lock left by a run that is gone (PID {first.pid} on {host}, " \
           "started " in third.stderr
    assert [r[4] for r in rows(run_dir)] == ["passed"] and not (run_dir / "run.lock").exists()


def test_a_lock_naming_a_reused_pid_is_taken_over(existing_run, tmp_path):
    """The lock file names a live process: the holder only if its start time matches
    (a PID is reused); a live holder is refused even where flock does not work."""
    import socket

    from harness.runlock import process_start

    args = ["run", "--dataset", "humaneval", "--models", pool(tmp_path, REPLAY[0], name="ok.yaml"), "--limit", "1",
            "--n", "1", "--sandbox", "local", "--run-dir", str(existing_run), "--no-calibrate"]
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    (existing_run / "run.lock").write_text(json.dumps(dict(me, start_ticks=process_start(os.getpid()) + 1)))
    proc = harness(*args)
    assert proc.returncode == 0, proc.stderr
    assert f"taking over the lock left by a run that is gone (PID {os.getpid()} on" in proc.stderr
    (existing_run / "run.lock").write_text(json.dumps(dict(me, start_ticks=process_start(os.getpid()))))
    proc = harness(*args)
    assert proc.returncode == 2 and f"in use by another run (PID {os.getpid()} on" in proc.stderr, proc.stderr


def test_ctrl_c_says_what_is_stored_and_how_to_resume(tmp_path):
    import shlex

    run_dir = tmp_path / "run"
    models = _slow_replay(tmp_path, {0: 0, 1: 0, 2: 20, 3: 20})
    args = ["run", "--dataset", "humaneval", "--models", models, "--limit", "4", "--sandbox", "local", "--workers",
            "2", "--timeout", "30", "--no-calibrate", "--run-dir", str(run_dir), "--fresh"]
    proc = subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: _executed(run_dir) == 2)  # the quick two; the slow two are running
    proc.send_signal(signal.SIGINT)
    # It stops the running programs instead of waiting out their 20 s.
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    resume = (f"python -m harness run --dataset humaneval --models {models} --run-dir {run_dir} --limit 4 "
              "--sandbox local --workers 2 --timeout 30 --no-calibrate")  # without --fresh
    assert err.splitlines()[-1] == f"interrupted: 4 samples stored in {run_dir}, 2 executed; resume with: {resume}"
    done = harness(*shlex.split(resume)[3:])
    assert done.returncode == 0 and "0 samples to generate, 2 to execute" in done.stderr, done.stderr
    assert [r[4] for r in rows(run_dir)] == ["passed"] * 4


def test_matrix_natural_order_and_full_table(tmp_path):
    """Problems in natural order in every table; the samples table has the verdict's
    detail, and with --full the texts; a version-2 store reads (no stderr tails) and
    is upgraded when a run opens it."""
    from harness.matrix import FULL_COLUMNS, SAMPLE_COLUMNS
    from harness.providers import Generation
    from harness.store import RunStore, SampleKey
    from sandboxes import Limits, Status, Verdict

    run_dir = tmp_path / "run"
    store = RunStore(run_dir)
    store.set_model("a", {}, 1.0, 1.0)
    for problem in ("HumanEval/10", "HumanEval/2", "HumanEval/1"):
        key = SampleKey("humaneval", problem, "a", 0)
        store.add_generation(key, "p", Generation(f"```python\nx = '{problem}'\n```"), "x = 1", "p\nx = 1", 0.0)
        store.add_verdict(key, Verdict(Status.RUNTIME_ERROR, "NameError: name 'y' is not defined",
                                       stderr_tail="Traceback (most recent call last):\nNameError"),
                          Limits(timeout=10.0))
    store.close()
    import pandas as pd

    order = ["HumanEval/1", "HumanEval/2", "HumanEval/10"]
    for extra, columns in (([], list(SAMPLE_COLUMNS)), (["--full"], list(SAMPLE_COLUMNS + FULL_COLUMNS))):
        proc = harness("matrix", str(run_dir), "--format", "csv", "--out", str(tmp_path / "csv"), *extra)
        assert proc.returncode == 0, proc.stderr
        samples = pd.read_csv(tmp_path / "csv" / "samples.csv", keep_default_na=False)
        assert list(samples.columns) == columns and list(samples["problem"]) == order
        assert set(samples["detail"]) == {"NameError: name 'y' is not defined"}
        assert list(pd.read_csv(tmp_path / "csv" / "pass_matrix.csv")["problem"]) == order
    assert list(samples["completion"]) == [f"```python\nx = '{p}'\n```" for p in order]
    assert set(samples["program"]) == {"p\nx = 1"} and set(samples["code"]) == {"x = 1"}
    assert set(samples["stderr_tail"]) == {"Traceback (most recent call last):\nNameError"}
    with sqlite3.connect(run_dir / "run.sqlite") as con:  # back to version 2
        for column in ("stderr_tail", "limit_kind", "wall_cap", "limit_fired"):
            con.execute(f"ALTER TABLE samples DROP COLUMN {column}")
        con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    import harness as api

    assert api.load_matrix(run_dir, full=True).samples["stderr_tail"].isna().all()
    RunStore(run_dir).close()
    # Upgraded to 4; the old samples' `timeout` was a wall-clock limit, and says so.
    assert rows(run_dir, "stderr_tail, limit_kind, wall_cap, (SELECT value FROM meta WHERE key = 'schema_version')") \
        == [(None, "wall", None, "4")] * 3


def test_problem_ids_sort_naturally():
    from benchmarks import problem_key

    ids = ["HumanEval/10", "HumanEval/2", "1549_B", "LeetCode/100", "HumanEval/1", "1549_A", "12_A"]
    assert sorted(ids, key=problem_key) == ["12_A", "1549_A", "1549_B", "HumanEval/1", "HumanEval/2",
                                            "HumanEval/10", "LeetCode/100"]
