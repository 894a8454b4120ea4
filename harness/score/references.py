"""``benchmarks validate``: run every reference solution (and every known-wrong
program) of a benchmark in the sandbox; a harness that fails correct code or passes
broken code shows up here before it poisons a pass matrix."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from benchmarks import Problem, get_benchmark, problem_key
from benchmarks.quarantine import quarantined
from benchmarks.requests import exec_request
from sandboxes import Limits, Verdict, get_sandbox

# A CPU budget calibrated from the reference's CPU time on this machine, as evalplus
# does: max(MIN_LIMIT, FACTOR x reference time).
MIN_LIMIT = 2.0
FACTOR = 5.0
# A problem with its judge's time limit (CodeContests) and no reference that passes here:
# max(MIN_JUDGE_BUDGET, JUDGE_SCALE x that limit); chosen by measurement (docs/time-limits.md).
JUDGE_SCALE = 1.0
MIN_JUDGE_BUDGET = 1.0


@dataclass(frozen=True)
class Check:
    problem: Problem
    program: str
    must_pass: bool  # reference (True) or known-wrong program (False)
    what: str


def checks_for(problem: Problem) -> list[Check]:
    out = [Check(problem, r, True, f"reference {i}") for i, r in enumerate(problem.references)]
    out += [Check(problem, w, False, f"wrong program {i}") for i, w in enumerate(problem.wrong)]
    return out


def validate(dataset: str, source: str | None, limit: int | None, sandbox_name: str | None,
             workers: int | None, timeout: float, log=print, memory_mb: int = 1024) -> dict:
    from sandboxes.progress import progress

    bench = get_benchmark(dataset)
    problems = bench.load(source)[:limit]
    skip = quarantined(dataset)
    in_quarantine = [p for p in problems if p.id in skip]
    checked = [p for p in problems if p.references and p.id not in skip]
    checks = [c for p in checked for c in checks_for(p)]
    limits = Limits(timeout=timeout, memory_mb=memory_mb)
    # References and known-wrong programs are complete programs already (LeetCode's
    # include the preamble), so they run as they are.
    requests = [exec_request(c.problem, c.program, limits, id=str(i)) for i, c in enumerate(checks)]
    verdicts: list[Verdict | None] = [None] * len(checks)
    start = time.monotonic()
    with get_sandbox(sandbox_name, workers, memory_mb) as sandbox, \
            progress(total=len(requests), desc=f"validating {dataset}", unit="prog") as bar:
        for v in sandbox.run(requests):
            verdicts[int(v.id)] = v
            bar.update()
    wall = time.monotonic() - start
    failures: dict[str, list[str]] = defaultdict(list)
    ref_time: dict[str, float] = defaultdict(float)
    for c, v in zip(checks, verdicts, strict=True):
        if c.must_pass and v.passed:
            ref_time[c.problem.id] = max(ref_time[c.problem.id], v.max_cpu_time)
        if v.passed != c.must_pass:
            failures[c.problem.id].append(
                f"{c.what} {'failed' if c.must_pass else 'PASSED'}: {v.status.value} {v.detail[:300]}".rstrip())
    for pid, lines in failures.items():
        for line in lines:
            log(f"{dataset} {pid}: {line}")
    return {
        "dataset": dataset,
        "problems": len(problems),
        "tests": sum(p.test_count for p in problems),
        "with_reference": sum(bool(p.references) for p in problems),
        "checked": len(checked),
        "passed": len(checked) - len(failures),
        "failed": len(failures),
        "failed_ids": sorted(failures, key=problem_key),
        "quarantined": len(in_quarantine),
        "programs_run": len(checks),
        "wall_seconds": round(wall, 1),
        "time_limits": {pid: round(max(MIN_LIMIT, FACTOR * ref_time[pid]), 2)
                        for pid in sorted(ref_time, key=problem_key)},
    }
