"""The core against its physical floor: programs/s of our sandboxes vs fork-and-exec.

Workload (issue 22): for each of the 164 HumanEval problems its canonical solution and
one wrong solution (the prompt + `return None`) ×5, i.e. 984 programs, the whole set
×`--repeat` (3,936 at the default 4), each with its tests as `exec_request` builds them.

Floor: `--workers` lanes (a multiprocessing Pool, warm, fed in chunks), each forking
a child per program that execs the program and then its test code in one namespace
and reports pass/fail by exit status; no isolation, no limits, no pipes. Measured
before and after the sandboxes (the machine is shared); ratios use the faster.

Sandboxes: the same ExecRequests through `get_sandbox(name, workers=N).run`, warm.
With `--codecontests N`, the same for stdin/stdout: the first N CodeContests problems
with a reference, every case, against a floor that forks per case with stdin and
stdout on memfds and judges stdout with the sandbox's own `compare_stdout`.
Prints one JSON object; nothing is asserted.

    python perf/core_floor.py [--sandboxes local,docker] [--workers 2] [--repeat 4] [--codecontests 60]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import multiprocessing as mp
import os
import resource
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import get_benchmark  # noqa: E402
from benchmarks.requests import exec_request  # noqa: E402
from sandboxes import Limits, get_sandbox  # noqa: E402
from sandboxes.judge import compare_stdout  # noqa: E402

WRONG_BODY = "    return None\n"
CHUNK = 16  # programs per Pool task: few enough IPC round trips to keep dispatch small
WARM = 8  # requests run before timing, so start-up and first imports are not counted


# ---------------------------------------------------------------- floor (in the lanes)

def _lane_init() -> None:
    # Programs may print; their output must not reach our JSON on stdout. One dup2 per
    # lane, not per program, so it costs the floor nothing.
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)


def _run_assert(code: str, test: str) -> bool:
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            ns = {"__name__": "__main__"}
            exec(compile(code, "main.py", "exec"), ns)
            exec(compile(test, "tests.py", "exec"), ns)
            status = 0
        except BaseException:  # SystemExit too: exiting early is not a pass (as in ExecRequest)
            pass
        os._exit(status)  # skips atexit/flush: the child's only output is its status
    _, status = os.waitpid(pid, 0)
    return status == 0


def _floor_chunk(chunk: list[tuple[str, str]]) -> list[bool]:
    return [_run_assert(code, test) for code, test in chunk]


def _run_case(code: str, stdin: str, expected: str, opts: tuple[bool, bool, float]) -> bool:
    # memfds, not pipes: the child never blocks on a full pipe and no reader thread is
    # needed; the sandbox has to do at least this much to feed and judge a case.
    inp, out = os.memfd_create("in"), os.memfd_create("out")
    try:
        os.write(inp, stdin.encode())
        os.lseek(inp, 0, os.SEEK_SET)
        pid = os.fork()
        if pid == 0:
            os.dup2(inp, 0)
            os.dup2(out, 1)
            # Pool workers replace sys.stdin with devnull; give the child fresh streams on fd 0/1.
            sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)))
            sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)))
            # The sandbox's CPU limit (10 s), so a slow reference costs both sides the
            # same; the alarm only guards the run against a reference that hangs.
            resource.setrlimit(resource.RLIMIT_CPU, (10, 10))
            signal.alarm(60)
            status = 1
            try:
                exec(compile(code, "main.py", "exec"), {"__name__": "__main__"})
                status = 0
            except SystemExit as e:
                status = 0 if e.code in (None, 0) else 1
            except BaseException:
                pass
            try:
                sys.stdout.flush()
            except BaseException:
                status = 1
            os._exit(status)
        _, status = os.waitpid(pid, 0)
        got = os.pread(out, os.fstat(out).st_size, 0).decode(errors="replace")
    finally:
        os.close(inp)
        os.close(out)
    sensitive, strict, tol = opts
    return status == 0 and compare_stdout(got, expected, tol, sensitive, strict) is None


def _floor_cases(task: tuple[str, list[tuple[str, str]], tuple[bool, bool, float]]) -> list[bool]:
    code, cases, opts = task
    return [_run_case(code, i, o, opts) for i, o in cases]


def run_floor(pool, func, tasks, chunksize: int = 1) -> tuple[list, float]:
    start = time.perf_counter()
    results = list(pool.imap(func, tasks, chunksize))
    return results, time.perf_counter() - start


# ---------------------------------------------------------------- workloads

def humaneval_workload(repeat: int):
    """[(problem id, ExecRequest)]: canonical + wrong ×5 per problem, the set ×repeat."""
    limits = Limits(timeout=10)
    one = []
    for p in get_benchmark("humaneval").load():
        one.append((p, p.references[0]))
        one += [(p, p.prompt + WRONG_BODY)] * 5
    items = []
    for r in range(repeat):
        for j, (p, program) in enumerate(one):
            items.append((p.id, exec_request(p, program, limits, id=f"{r}:{j}")))
    return items


def codecontests_workload(n: int):
    problems = [p for p in get_benchmark("codecontests").load() if p.references][:n]
    limits = Limits(timeout=10)
    return [(p, exec_request(p, p.references[0], limits, id=p.id, all_cases=True)) for p in problems]


# ---------------------------------------------------------------- sandboxes

def run_sandbox(name: str, workers: int, reqs) -> tuple[dict, float, float]:
    """({id: Verdict}, seconds for all requests, start-up + warm-up seconds)."""
    t0 = time.perf_counter()
    with get_sandbox(name, workers=workers) as sb:
        warm = [dataclasses.replace(r, id=f"warm{i}") for i, r in enumerate(reqs[:WARM])]
        list(sb.run(warm))
        start = time.perf_counter()
        verdicts = {v.id: v for v in sb.run(reqs)}
        secs = time.perf_counter() - start
    return verdicts, secs, start - t0


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def measure_humaneval(pool, args) -> dict:
    items = humaneval_workload(args.repeat)
    reqs = [req for _, req in items]
    tasks = [(r.code, r.test) for r in reqs]
    chunks = [tasks[i:i + CHUNK] for i in range(0, len(tasks), CHUNK)]
    run_floor(pool, _floor_chunk, chunks[:2])  # warm the lanes (imports, page cache)
    out: dict = {"programs": len(reqs)}
    res, before = run_floor(pool, _floor_chunk, chunks)
    floor = [ok for chunk in res for ok in chunk]
    out["floor_before"] = {"seconds": round(before, 3), "programs_per_s": round(len(reqs) / before, 1),
                           "passed": sum(floor)}
    for name in args.sandboxes:
        verdicts, secs, startup = run_sandbox(name, args.workers, reqs)
        ours = [verdicts[r.id].passed for r in reqs]
        bad = [i for i in range(len(reqs)) if ours[i] != floor[i]]
        out[name] = {"seconds": round(secs, 3), "programs_per_s": round(len(reqs) / secs, 1),
                     "startup_and_warm_seconds": round(startup, 3), "passed": sum(ours),
                     "disagreements": len(bad),
                     "disagreement_examples": [
                         {"problem": items[i][0], "floor_passed": floor[i],
                          "sandbox": verdicts[reqs[i].id].status.value,
                          "detail": verdicts[reqs[i].id].detail[:160]} for i in bad[:5]]}
    res, after = run_floor(pool, _floor_chunk, chunks)
    again = [ok for chunk in res for ok in chunk]
    out["floor_after"] = {"seconds": round(after, 3), "programs_per_s": round(len(reqs) / after, 1),
                          "passed": sum(again), "same_verdicts_as_before": again == floor}
    best = min(before, after)
    out["floor_programs_per_s"] = round(len(reqs) / best, 1)
    for name in args.sandboxes:
        out[name]["ratio_to_floor"] = round(best / out[name]["seconds"], 3)
    return out


def measure_codecontests(pool, args) -> dict:
    items = codecontests_workload(args.codecontests)
    reqs = [req for _, req in items]
    tasks = [(p.references[0], list(p.tests.cases), (r.case_sensitive, r.strict_integers, r.float_tol))
             for p, r in items]
    ncases = sum(len(t[1]) for t in tasks)
    run_floor(pool, _floor_cases, tasks[:2])
    out: dict = {"problems": len(reqs), "cases": ncases}

    def floor_run(label: str) -> tuple[list[list[bool]], float]:
        res, secs = run_floor(pool, _floor_cases, tasks)
        out[label] = {"seconds": round(secs, 3), "cases_per_s": round(ncases / secs, 1),
                      "problems_passed": sum(all(f) for f in res), "cases_passed": sum(map(sum, res))}
        return res, secs

    floor, before = floor_run("floor_before")
    for name in args.sandboxes:
        verdicts, secs, startup = run_sandbox(name, args.workers, reqs)
        got = [verdicts[r.id] for r in reqs]
        bad = [i for i in range(len(reqs))
               if got[i].passed != all(floor[i]) or got[i].passed_tests != sum(floor[i])]
        out[name] = {"seconds": round(secs, 3), "cases_per_s": round(ncases / secs, 1),
                     "startup_and_warm_seconds": round(startup, 3),
                     "problems_passed": sum(v.passed for v in got),
                     "cases_passed": sum(v.passed_tests for v in got),
                     "disagreements": len(bad),
                     "disagreement_examples": [
                         {"problem": reqs[i].id, "floor_cases_passed": sum(floor[i]),
                          "sandbox_cases_passed": got[i].passed_tests,
                          "sandbox": got[i].status.value, "detail": got[i].detail[:160]}
                         for i in bad[:5]]}
    again, after = floor_run("floor_after")
    out["floor_after"]["same_verdicts_as_before"] = again == floor
    floors = [before, after]
    best = min(floors)
    out["floor_cases_per_s"] = round(ncases / best, 1)
    for name in args.sandboxes:
        s = out[name]["seconds"]
        out[name]["ratio_to_floor"] = round(best / s, 3)
        # Lane-milliseconds a case costs beyond the floor's (wall × lanes / cases).
        out[name]["overhead_ms_per_case"] = round((s - best) * args.workers * 1000 / ncases, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sandboxes", default="local,docker")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=4, help="the 984-program set this many times")
    parser.add_argument("--codecontests", type=int, default=60, metavar="N",
                        help="CodeContests problems with a reference, every case (0: skip)")
    args = parser.parse_args()
    args.sandboxes = [s for s in args.sandboxes.split(",") if s]
    report: dict = {"workers": args.workers, "cpus": os.cpu_count(), "repeat": args.repeat,
                    "loadavg_before": _load(), "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    # fork, not forkserver/spawn: the lanes start warm with everything imported here.
    with mp.get_context("fork").Pool(args.workers, initializer=_lane_init) as pool:
        report["humaneval"] = measure_humaneval(pool, args)
        if args.codecontests:
            report["codecontests"] = measure_codecontests(pool, args)
    report["loadavg_after"] = _load()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
