"""The exports of a run: the matrix, the samples table, the order of problems, and
what the agreement report names as a disagreement's cause."""

from __future__ import annotations

import sqlite3

import pytest
from support import harness, rows


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
    from harness.report.agreement import cause

    assert want in cause(dataset, ours, status, detail)


def test_matrix_rows_are_the_stored_problems_only(tmp_path):
    """Two datasets in one store: the wide matrix has one row per stored (dataset,
    problem), not every combination of the two."""
    from harness.providers import Generation
    from harness.store.runstore import RunStore, SampleKey
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


def test_matrix_natural_order_and_full_table(tmp_path):
    """Problems in natural order in every table; the samples table has the verdict's
    detail, and with --full the texts; a version-2 store reads (no stderr tails) and
    is upgraded when a run opens it."""
    from harness.providers import Generation
    from harness.store.matrix import FULL_COLUMNS, SAMPLE_COLUMNS
    from harness.store.runstore import RunStore, SampleKey
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
        for column in ("stderr_tail", "limit_kind", "wall_cap", "limit_fired", "max_cpu_time", "memory_mb", "sandbox",
                       "sandbox_mode", "sandbox_image", "extractor_version", "rescore_id", "prior_status"):
            con.execute(f"ALTER TABLE samples DROP COLUMN {column}")
        con.execute("ALTER TABLE time_limits DROP COLUMN floor")
        con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    import harness as api

    assert api.load_matrix(run_dir, full=True).samples["stderr_tail"].isna().all()
    RunStore(run_dir).close()
    # Upgraded to 5; the old samples' `timeout` was a wall-clock limit, and says so.
    assert rows(run_dir, "stderr_tail, limit_kind, wall_cap, (SELECT value FROM meta WHERE key = 'schema_version')") \
        == [(None, "wall", None, "5")] * 3


def test_problem_ids_sort_naturally():
    from benchmarks import problem_key

    ids = ["HumanEval/10", "HumanEval/2", "1549_B", "LeetCode/100", "HumanEval/1", "1549_A", "12_A"]
    assert sorted(ids, key=problem_key) == ["12_A", "1549_A", "1549_B", "HumanEval/1", "HumanEval/2",
                                            "HumanEval/10", "LeetCode/100"]
