"""Verdicts that do not depend on the machine's load: a CPU-time budget of the whole
process tree, and a wall-clock cap (3 x budget + 1 s, not counting time spent waiting
for a CPU) for programs that block."""

from __future__ import annotations

import os

import pytest
from support import ROOT, harness, make_sandbox

from perf.time_budgets import CpuHogs
from sandboxes import ExecRequest, Limits, Status

BUDGET = Limits(timeout=1.0, memory_mb=512)  # 1 s of CPU; wall-clock cap 4 s
PROGRAMS = {
    # Needs 0.5 s of CPU: passes under a 1 s budget however slowly the wall clock runs.
    "cpu_half_second": "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5:\n    pass\n",
    "cpu_eight_tenths": "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.8:\n    pass\n",
    "busy_loop": "while True:\n    pass\n",
    "sleeper": "import time\ntime.sleep(100)\n",
    # The parent sleeps; its two children burn the tree's budget.
    "busy_children": "import os, time\nfor _ in range(2):\n    if os.fork() == 0:\n        while True:\n"
                     "            pass\ntime.sleep(100)\n",
}
EXPECTED = {
    "cpu_half_second": (Status.PASSED, ""),
    "cpu_eight_tenths": (Status.PASSED, ""),
    "busy_loop": (Status.TIMEOUT, "CPU time limit of 1.0 s exceeded"),
    "sleeper": (Status.TIMEOUT, "wall-clock cap of 4.0 s exceeded"),
    "busy_children": (Status.TIMEOUT, "CPU time limit of 1.0 s exceeded"),
}


def _verdicts(sandbox, sleepers: int = 0) -> dict:
    reqs = [ExecRequest(code, limits=BUDGET, id=f"{name}/0") for name, code in PROGRAMS.items()]
    reqs += [ExecRequest(PROGRAMS["sleeper"], limits=BUDGET, id=f"sleeper/{i + 1}") for i in range(sleepers)]
    out: dict = {}
    for v in sandbox.map(reqs):
        out.setdefault(v.id.split("/")[0], set()).add((v.status, v.detail))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["local", "docker"])
def test_same_verdicts_alone_beside_cpu_hogs_and_oversubscribed(kind):
    expected = {name: {want} for name, want in EXPECTED.items()}
    with make_sandbox(kind, workers=2) as sb:
        assert _verdicts(sb) == expected  # alone
        with CpuHogs():
            assert _verdicts(sb) == expected  # one busy process per core beside it
        # Four per core: a program gets a fifth of a core, so 0.8 s of CPU take ~4 s and
        # a busy loop's 1 s budget ~5 s, past the 4 s cap, which must not count the
        # time the program waited for a CPU.
        with CpuHogs(per_core=4):
            assert _verdicts(sb) == expected
    # More workers than cores, most of them blocked on sleeping programs: those cost no
    # core, so the CPU-bound ones still get their budget well within the wall-clock cap.
    cores = os.cpu_count()
    with make_sandbox(kind, workers=3 * cores) as sb:
        assert _verdicts(sb, sleepers=3 * cores - len(PROGRAMS)) == expected


def test_the_wall_clock_cap_is_three_budgets_and_a_second_and_the_ceiling_ten_caps():
    assert Limits(timeout=1.0).wall_cap == 4.0 and Limits(timeout=10).wall_cap == 31.0
    assert Limits(timeout=1.0).wall_ceiling == 40.0
    wire = ExecRequest("", limits=Limits(timeout=2.0)).to_wire()["limits"]
    assert (wire["wall_cap"], wire["wall_ceiling"]) == (7.0, 70.0)


@pytest.mark.slow
def test_run_budgets_from_the_judge_limit_and_records_them(tmp_path):
    """CodeContests test66 has no references here: each problem's budget is its judge's
    limit (max(1 s, 1 x): the measured scale); every sample records its budget, cap and
    limit kind."""
    import sqlite3

    from benchmarks import get_benchmark

    run_dir = tmp_path / "run"
    proc = harness("run", "--dataset", "codecontests", "--limit", "3", "--models",
                   str(ROOT / "examples" / "adaptivellm-pool.yaml"), "--sandbox", "local", "--run-dir", str(run_dir),
                   timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    problems = {p.id: p for p in get_benchmark("codecontests").load(split="test")}
    with sqlite3.connect(run_dir / "run.sqlite") as con:
        limits = {p: (s, how) for p, s, how in con.execute("SELECT problem, seconds, how FROM time_limits")}
        samples = con.execute("SELECT problem, timeout, wall_cap, limit_kind, limit_fired, status, detail "
                              "FROM samples WHERE status IS NOT NULL").fetchall()
    assert limits == {p: (max(1.0, problems[p].time_limit), "judge") for p in limits} and len(limits) == 3
    assert samples and all(t == limits[p][0] and cap == 3 * t + 1 and kind == "cpu"
                           for p, t, cap, kind, _, _, _ in samples)
    for *_, fired, status, detail in samples:
        assert fired == ({"timeout": "wall" if "wall-clock cap" in detail else "cpu"}.get(status))
