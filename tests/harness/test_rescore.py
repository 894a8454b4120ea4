"""`python -m harness rescore`: stored generations executed again with other limits or
the current extractor, never a model; resumable; what made each verdict; near_limit."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess

import pandas as pd
import pytest
from openai_server import FaultyOpenAIServer
from support import HUMANEVAL_BY_ID, harness, harness_process, pool, rows, slow_replay, wait_for


def meta(run_dir, key):
    with sqlite3.connect(run_dir / "run.sqlite") as con:
        row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row and json.loads(row[0])


@pytest.mark.slow
def test_lower_timeout_turns_a_slow_pass_into_a_timeout(tmp_path):
    run_dir = tmp_path / "run"
    models = slow_replay(tmp_path, {0: 0, 2: 4})  # HumanEval/2 sleeps 4 s: passes under a 10 s wall cap
    args = ["run", "--dataset", "humaneval", "--models", models, "--sandbox", "local", "--no-calibrate",
            "--run-dir", str(run_dir)]
    proc = harness(*args)
    assert proc.returncode == 0, proc.stderr
    assert [r[4] for r in rows(run_dir)] == ["passed", "passed"]
    made = rows(run_dir, "sandbox, sandbox_mode, sandbox_image, memory_mb, extractor_version")
    assert made[0] == made[1] and made[0][0] == "local" and made[0][1] and made[0][2:] == (None, 1024, "source")
    # A re-run that executes nothing leaves the environment alone (here: as if Docker had made the verdicts)...
    with sqlite3.connect(run_dir / "run.sqlite") as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'environment'", (json.dumps({"sandbox": "docker"}),))
    again = harness(*args, "--timeout", "0.5")
    assert again.returncode == 0, again.stderr
    assert meta(run_dir, "environment") == {"sandbox": "docker"}
    # ... and says that its limits are not the stored verdicts', and how to apply them.
    assert "0 samples to generate, 0 to execute" in again.stderr
    assert (f"note: 2 stored verdicts were made with other limits (CPU budgets calibrated with --timeout 3, not "
            f"0.5); run keeps stored verdicts, and the stored CPU budgets for new samples of their problems (one "
            f"budget per problem in a run): to re-execute them with these, python -m harness rescore {run_dir} "
            "--timeout 0.5 --no-calibrate") in again.stderr.splitlines()

    rescore = ["rescore", str(run_dir), "--timeout", "0.5", "--no-calibrate", "--sandbox", "local"]
    proc = harness(*rescore)
    assert proc.returncode == 0, proc.stderr
    table = (f"rescore 1 of {run_dir}: 2 samples, 1 changed status\n  passed -> passed: 1\n  passed -> timeout: 1\n"
             "totals: passed 2 -> 1, timeout 0 -> 1\n")
    assert proc.stdout == table
    assert rows(run_dir, "problem, status, limit_fired, timeout, rescore_id, prior_status") == [
        ("HumanEval/0", "passed", None, 0.5, 1, "passed"), ("HumanEval/2", "timeout", "wall", 0.5, 1, "passed")]
    with sqlite3.connect(run_dir / "run.sqlite") as con:
        assert con.execute("SELECT DISTINCT seconds, how, floor FROM time_limits").fetchall() == [(0.5, "default", 0.5)]
    assert meta(run_dir, "environment")["sandbox"] == "local"  # it executed: it says where
    # The same command again: the rescore is complete, nothing is executed, the table is the same.
    proc = harness(*rescore)
    assert proc.returncode == 0 and proc.stdout == table and "rescore 1: nothing left to re-execute" in proc.stderr
    again = harness(*args, "--timeout", "0.5")
    assert again.returncode == 0 and "other limits" not in again.stderr, again.stderr


@pytest.mark.slow
def test_extract_re_extracts_and_no_model_is_called(tmp_path):
    from benchmarks import get_benchmark
    from benchmarks.extract import EXTRACTOR_VERSION, program_for

    reference = HUMANEVAL_BY_ID["HumanEval/0"].references[0]
    answer = f"Here it is:\n```python\n{reference}\n```\n"
    with FaultyOpenAIServer(lambda prompt: answer) as server:
        model = {"name": "live", "provider": "openai", "base_url": server.url, "model": "fake", "price": 0}
        run_dir = tmp_path / "run"
        proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, model), "--limit", "1",
                       "--sandbox", "local", "--run-dir", str(run_dir))
        assert proc.returncode == 0, proc.stderr
        asked = len(server.requests)
    # The server is gone. An older extractor's program: the prose after the code.
    with sqlite3.connect(run_dir / "run.sqlite") as con:
        con.execute("UPDATE samples SET code = 'This returns x.', program = 'This returns x.', extractor_version = '1'")
    proc = harness("rescore", str(run_dir), "--sandbox", "local")  # the stored program, as it is
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1:] == ["  passed -> syntax_error: 1", "totals: passed 1 -> 0, syntax_error 0 -> 1"]
    proc = harness("rescore", str(run_dir), "--sandbox", "local", "--extract")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (f"rescore 2 of {run_dir}: 1 samples, 1 changed status\n  syntax_error -> passed: 1\n"
                           "totals: passed 0 -> 1, syntax_error 1 -> 0\n")
    code, program = program_for(get_benchmark("humaneval"), HUMANEVAL_BY_ID["HumanEval/0"], answer)
    assert rows(run_dir, "status, code, program, extractor_version, completion") == [
        ("passed", code, program, EXTRACTOR_VERSION, answer)]
    assert len(server.requests) == asked


@pytest.mark.slow
def test_ctrl_c_keeps_what_was_re_executed_and_the_same_command_continues(tmp_path):
    run_dir = tmp_path / "run"
    models = slow_replay(tmp_path, {0: 0, 1: 0, 2: 3, 3: 3})
    proc = harness("run", "--dataset", "humaneval", "--models", models, "--sandbox", "local", "--no-calibrate",
                   "--run-dir", str(run_dir))
    assert proc.returncode == 0 and [r[4] for r in rows(run_dir)] == ["passed"] * 4, proc.stderr
    args = ["rescore", str(run_dir), "--timeout", "2", "--no-calibrate", "--sandbox", "local", "--workers", "1"]
    first = harness_process(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def rescored() -> int:
        return sum(r[0] == 1 for r in rows(run_dir, "rescore_id"))

    wait_for(lambda: rescored() == 2)  # the quick two; HumanEval/2 sleeps
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=30)
    assert first.returncode == 130, err
    assert err.splitlines()[-1] == ("interrupted: the verdicts re-executed so far are stored; continue with: "
                                    f"python -m harness rescore {run_dir} --timeout 2 --sandbox local --workers 1 "
                                    "--no-calibrate")
    assert rescored() == 2
    proc = harness(*args)
    assert proc.returncode == 0, proc.stderr
    assert "rescore 1: 2 samples to re-execute" in proc.stderr
    assert proc.stdout == f"rescore 1 of {run_dir}: 4 samples, 0 changed status\n  passed -> passed: 4\n" \
                          "totals: passed 4 -> 4\n"


def store_with_verdicts(run_dir):
    """A store of constructed verdicts (budget 3 s), by their slowest run's CPU time:
    a pass and a CPU time-out near the budget, a pass just under 90 % of it, a
    wall-clock time-out, a harness failure, a sample not executed."""
    from harness.providers import Generation
    from harness.store.runstore import RunStore, SampleKey
    from sandboxes import Limits, Status, Verdict

    store = RunStore(run_dir)
    store.set_meta("run", {"datasets": ["humaneval"], "split": "test", "source": None})
    store.set_model("a", {}, 0.0, 0.0)
    made = [("docker", None, "codeharness-sandbox:py3.11"), ("local", "bwrap", None)]
    verdicts = [(Status.PASSED, 2.7, ""), (Status.TIMEOUT, 3.02, "CPU time limit of 3 s exceeded"),
                (Status.PASSED, 2.69, ""), (Status.TIMEOUT, 0.01, "wall-clock cap of 10 s exceeded"),
                (Status.SANDBOX_ERROR, 2.9, ""), None]
    for i, v in enumerate(verdicts):
        key = SampleKey("humaneval", f"HumanEval/{i}", "a", 0)
        store.add_generation(key, "p", Generation("c"), "c", "c", 0.0)
        if v:
            store.add_verdict(key, Verdict(v[0], v[2], cpu_time=v[1], max_cpu_time=v[1], total_tests=1),
                              Limits(timeout=3.0), made[i % 2])
    store.close()


def test_near_limit_is_exact_and_the_report_counts_it(tmp_path):
    import harness as api
    from harness.report.source import load

    store_with_verdicts(tmp_path / "run")
    samples = api.load_matrix(tmp_path / "run").samples
    assert samples["near_limit"].tolist() == [True, True, False, False, pd.NA, pd.NA]
    assert samples["sandbox"].tolist()[:4] == ["docker", "local", "docker", "local"]
    proc = harness("matrix", str(tmp_path / "run"), "--format", "csv", "--out", str(tmp_path / "csv"))
    assert proc.returncode == 0, proc.stderr
    csv = pd.read_csv(tmp_path / "csv" / "samples.csv")
    assert csv["near_limit"].tolist()[:4] == [True, True, False, False] and csv["near_limit"][4:].isna().all()
    assert csv["sandbox_image"][0] == "codeharness-sandbox:py3.11" and csv["sandbox_mode"][1] == "bwrap"
    summary = dict(load(str(tmp_path / "run")).summary)
    assert summary["sandbox"] == ("docker, image codeharness-sandbox:py3.11: 2 verdicts; "
                                  "local (bwrap mode): 2 verdicts")
    assert summary["near the CPU limit"] == ("2 verdicts used >= 90 % of their CPU budget, 1 of them time-outs "
                                             "(docs/time-limits.md): a 2")


def test_a_version_4_store_is_read_and_upgraded(tmp_path):
    import harness as api
    from harness.store.runstore import RunStore

    run_dir = tmp_path / "run"
    store_with_verdicts(run_dir)
    with sqlite3.connect(run_dir / "run.sqlite") as con:
        con.execute("INSERT INTO time_limits VALUES ('humaneval', 'HumanEval/0', 3.0, 'default', 3.0), "
                    "('humaneval', 'HumanEval/1', 4.5, 'reference', 3.0)")
        con.execute("UPDATE samples SET completion = '', code = 'def f(): pass' WHERE problem = 'HumanEval/1'")
        for column in ("max_cpu_time", "memory_mb", "sandbox", "sandbox_mode", "sandbox_image", "extractor_version",
                       "rescore_id", "prior_status"):
            con.execute(f"ALTER TABLE samples DROP COLUMN {column}")
        con.execute("ALTER TABLE time_limits DROP COLUMN floor")
        con.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    old = api.load_matrix(run_dir).samples  # read as it is: what version 4 did not record is missing
    assert old["near_limit"].isna().all() and old["sandbox"].isna().all()
    RunStore(run_dir).close()
    assert rows(run_dir, "problem, max_cpu_time, extractor_version, sandbox") == [
        ("HumanEval/0", 2.7, None, None), ("HumanEval/1", 3.02, "source", None), ("HumanEval/2", 2.69, None, None),
        ("HumanEval/3", 0.01, None, None), ("HumanEval/4", 2.9, None, None), ("HumanEval/5", None, None, None)]
    with sqlite3.connect(run_dir / "run.sqlite") as con:
        assert con.execute("SELECT problem, floor FROM time_limits ORDER BY problem").fetchall() == [
            ("HumanEval/0", 3.0), ("HumanEval/1", None)]
    assert meta(run_dir, "schema_version") == 5
    assert api.load_matrix(run_dir).samples["near_limit"].tolist()[:4] == [True, True, False, False]


def test_bad_run_dirs_and_a_run_in_progress_are_one_line_errors(tmp_path):
    from harness.store.lock import RunLock

    proc = harness("rescore", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    assert proc.stderr == f"error: {tmp_path / 'nowhere'}: not a run directory (no run.sqlite)\n"
    (tmp_path / "file").write_text("x")
    proc = harness("rescore", str(tmp_path / "file"))
    assert proc.returncode == 2 and proc.stderr == f"error: {tmp_path / 'file'}: not a run directory\n"
    proc = harness("rescore", str(tmp_path), "--no-calibrate")
    assert proc.returncode == 2
    assert proc.stderr == "error: --no-calibrate goes with --timeout (the stored budgets are kept without it)\n"
    store_with_verdicts(tmp_path / "run")
    before = (tmp_path / "run" / "run.sqlite").read_bytes()
    proc = harness("rescore", str(tmp_path / "run"), "--memory-mb", "20")
    assert proc.returncode == 2
    assert proc.stderr == "error: --timeout/--memory-mb: memory_mb must be >= 32, got 20\n"
    assert (tmp_path / "run" / "run.sqlite").read_bytes() == before  # no rescore recorded
    lock = RunLock(tmp_path / "run")
    try:
        proc = harness("rescore", str(tmp_path / "run"), "--sandbox", "local")
    finally:
        lock.release()
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1 and "Traceback" not in proc.stderr
    assert errors[0].startswith(f"error: {tmp_path / 'run'}: in use by another run (PID {os.getpid()} on ")


@pytest.mark.parametrize("seconds,how,floor,new,changes", [
    (3.0, "default", 3.0, 3.0, False), (3.0, "default", 3.0, 1.0, True),
    (4.5, "reference", 3.0, 1.0, False), (4.5, "reference", 3.0, 5.0, True),
    (3.0, "reference", 3.0, 1.0, True), (3.0, "reference", None, 1.0, False),
    (2.0, "judge", 3.0, 1.0, False)])
def test_which_budgets_another_floor_changes(seconds, how, floor, new, changes):
    from harness.store.provenance import budget_changes

    assert budget_changes(seconds, how, floor, new) is changes


def test_what_each_sandbox_records_as_the_maker_of_a_verdict():
    from harness.store.provenance import executor

    class Described:
        def __init__(self, **d):
            self.d = d

        def describe(self):
            return self.d

    assert executor(Described(sandbox="docker", image="codeharness-sandbox:py3.11-r3", network="none")) == \
        ("docker", None, "codeharness-sandbox:py3.11-r3")
    assert executor(Described(sandbox="local", mode="unshare")) == ("local", "unshare", None)
    nodes = [{"node": "a", "sandbox": "docker", "image": "img"}, {"node": "b", "sandbox": "local", "mode": "bwrap"},
             {"node": "c", "sandbox": "docker", "image": "img"}]
    assert executor(Described(sandbox="ray", nodes=nodes)) == ("ray", "docker, local bwrap", "img")
