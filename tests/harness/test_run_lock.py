"""One `run` per directory (the lock) and what Ctrl-C leaves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from support import REPLAY, executed, harness, harness_process, pool, rows, slow_replay, wait_for


def test_a_run_dir_in_use_is_refused_and_a_dead_runs_lock_taken_over(tmp_path):
    import socket

    run_dir = tmp_path / "run"
    args = ["run", "--dataset", "humaneval", "--models", slow_replay(tmp_path, {0: 60}), "--limit", "1",
            "--sandbox", "local", "--timeout", "90", "--no-calibrate", "--run-dir", str(run_dir)]
    first = harness_process(*args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # Generated (one row), executing for 60 s: not merely an empty store.
        wait_for(lambda: executed(run_dir) == 0 and len(rows(run_dir)) == 1)
        before = rows(run_dir)
        second = harness(*args)
        host = socket.gethostname()
        assert second.returncode == 2, second.stderr
        errors = [x for x in second.stderr.splitlines() if x.startswith("error:")]
        assert len(errors) == 1, second.stderr
        assert errors[0].startswith(f"error: {run_dir}: in use by another run (PID {first.pid} on {host}, started ")
        assert errors[0].endswith("); wait for it to end or stop it")
        assert rows(run_dir) == before and json.loads((run_dir / "run.lock").read_text())["pid"] == first.pid
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    # The holder is dead (kill -9: its lock file stays): the next run takes the directory over.
    args[args.index("--models") + 1] = slow_replay(tmp_path, {0: 0})
    third = harness(*args, "--fresh")
    assert third.returncode == 0, third.stderr
    assert f"note: {run_dir}: taking over the lock left by a run that is gone (PID {first.pid} on {host}, " \
           "started " in third.stderr
    assert [r[4] for r in rows(run_dir)] == ["passed"] and not (run_dir / "run.lock").exists()


def test_a_lock_naming_a_reused_pid_is_taken_over(existing_run, tmp_path):
    """The lock file names a live process: the holder only if its start time matches
    (a PID is reused); a live holder is refused even where flock does not work."""
    import socket

    from harness.store.lock import process_start

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
    models = slow_replay(tmp_path, {0: 0, 1: 0, 2: 20, 3: 20})
    args = ["run", "--dataset", "humaneval", "--models", models, "--limit", "4", "--sandbox", "local", "--workers",
            "2", "--timeout", "30", "--no-calibrate", "--run-dir", str(run_dir), "--fresh"]
    proc = harness_process(*args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: executed(run_dir) == 2)  # the quick two; the slow two are running
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
