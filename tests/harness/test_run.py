"""`python -m harness run` end to end: replay and OpenAI-compatible providers against
real local servers, the SQLite run store, resume after kill -9 and the matrix export."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time

import pytest
from openai_server import FaultyOpenAIServer
from support import (
    HUMANEVAL,
    HUMANEVAL_BY_ID,
    HUMANEVAL_CHAT,
    REPLAY,
    ROOT,
    answer_with_reference,
    harness,
    harness_process,
    pool,
    rows,
)

from benchmarks import get_benchmark


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
        proc = harness_process("run", *base, "--run-dir", str(killed), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
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


def test_openai_retries_429_500_and_dropped_connections(tmp_path):
    with FaultyOpenAIServer(answer_with_reference, faults=[429, 500, "drop"]) as server:
        model = {"name": "local", "provider": "openai", "base_url": server.url, "model": "fake", "n": 1,
                 "price": {"input": 1, "output": 2}, "max_tokens": 300}
        run_dir = tmp_path / "run"
        proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, model), "--limit", "3",
                       "--sandbox", "local", "--run-dir", str(run_dir), "--json")
        assert proc.returncode == 0, proc.stderr
        assert sorted(server.seen.values()) == [4, 4, 4]  # 3 failures, then the answer, per prompt
    stored = rows(run_dir)
    assert [r[4] for r in stored] == ["passed"] * 3
    prompt_words = [len(p.split()) for p in HUMANEVAL_CHAT][:3]
    assert sorted(r[8] for r in stored) == sorted(prompt_words)
    assert server.requests[-1]["max_tokens"] == 300 and server.requests[-1]["temperature"] == 0.0


@pytest.mark.parametrize("status,fatal", [(401, True), (404, True), (400, False)])
def test_openai_fatal_and_per_sample_errors(tmp_path, status, fatal):
    with FaultyOpenAIServer(answer_with_reference, faults=[status] * 10) as server:
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


def test_openai_reasoning_is_split_and_counted(tmp_path):
    """A reasoning model's <think> part is stored apart; the server gave no
    reasoning_tokens, so its length is a share of the output tokens, flagged."""
    thinking = "first sort the numbers then compare neighbours"
    with FaultyOpenAIServer(lambda p: f"<think>{thinking}</think>\n" + answer_with_reference(p)) as server:
        model = {"name": "r1", "provider": "openai", "base_url": server.url, "model": "fake", "price": 0}
        run_dir = tmp_path / "run"
        proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, model), "--limit", "1",
                       "--sandbox", "local", "--run-dir", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    (row,) = rows(run_dir, "thinking, thinking_tokens, tokens_out, completion, status, extra")
    assert row[0] == thinking and "<think>" not in row[3] and row[4] == "passed"
    total = len(f"<think>{thinking}</think>\n{answer_with_reference(HUMANEVAL_FIRST)}".split())
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
