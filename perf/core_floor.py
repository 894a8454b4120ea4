"""The core against its physical floor: programs/s of our sandboxes vs fork-and-exec.

Workload (issue 22): for each of the 164 HumanEval problems its canonical solution and
one wrong solution (the prompt + `return None`) ×5, i.e. 984 programs, the whole set
×`--repeat` (3,936 at the default 4), each with its tests as `exec_request` builds them.

Floor: `--workers` lanes (a multiprocessing Pool, warm, fed in chunks), each forking
a child per program that execs the program and then its test code in one namespace
and reports pass/fail by exit status; no isolation, no limits, no pipes
(floor_lanes.py). Each sandbox is measured against the floor under its own interpreter:
`local` against the host's (this process's), `docker` against the image's `python3`
(the lanes run in a container of the image; its ratio to the host's floor is printed
too). Measured before and after the sandboxes (the machine is shared); ratios use the
faster.

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
import json
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import floor_lanes  # noqa: E402  (this directory: the script's own path entry)

from benchmarks import get_benchmark  # noqa: E402
from benchmarks.requests import exec_request  # noqa: E402
from sandboxes import Limits, get_sandbox  # noqa: E402

WRONG_BODY = "    return None\n"
CHUNK = 16  # programs per Pool task: few enough IPC round trips to keep dispatch small
WARM = 8  # requests run before timing, so start-up and first imports are not counted


# ---------------------------------------------------------------- floors

def host_floor(pool):
    """The floor under this interpreter, the one ``local``'s fork servers run."""
    def run(kind: str, tasks: list) -> tuple[list, float]:
        floor_lanes.run(pool, kind, tasks[:2])  # warm, as the image's floor is
        return floor_lanes.run(pool, kind, tasks)
    return run


def image_floor(workers: int):
    """The floor inside the sandbox image, under its ``python3``, the one ``docker``'s
    fork servers run: floor_lanes.py in a container (no network), warm before timing."""
    from sandboxes.image import DEFAULT_IMAGE, docker_client

    client = docker_client()

    def run(kind: str, tasks: list) -> tuple[list, float]:
        with tempfile.TemporaryDirectory() as job:
            with open(os.path.join(job, "job.pkl"), "wb") as f:
                pickle.dump({"kind": kind, "tasks": tasks, "workers": workers, "warm": 2}, f)
            client.containers.run(DEFAULT_IMAGE, ["python3", "/repo/perf/floor_lanes.py", "/job/job.pkl",
                                                  "/job/out.pkl"], remove=True, network_mode="none",
                                  volumes={str(REPO): {"bind": "/repo", "mode": "ro"},
                                           job: {"bind": "/job", "mode": "rw"}})
            with open(os.path.join(job, "out.pkl"), "rb") as f:
                return pickle.load(f)
    return run


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


# The floor run under each sandbox's interpreter (another sandbox: the host's).
MATCHED = {"local": "host", "docker": "image"}


def floor_runs(floors: dict, kind: str, tasks: list, out: dict, label: str, unit: str, count: int) -> dict:
    """Each floor once over ``tasks``: {floor: (results, seconds)}, and its line in ``out``."""
    runs = {}
    for name, floor in floors.items():
        results, secs = floor(kind, tasks)
        runs[name] = results, secs
        passed = [ok for r in results for ok in r]
        out[f"floor_{name}_{label}"] = {"seconds": round(secs, 3), f"{unit}_per_s": round(count / secs, 1),
                                        "passed": sum(passed)}
    return runs


def ratios(floors: dict, before: dict, after: dict, out: dict, unit: str, count: int, args) -> dict:
    """Each floor's best of before/after; each sandbox against the floor of its own
    interpreter (and, where that is another, against the host's too). The floors' best."""
    best = {name: min(before[name][1], after[name][1]) for name in floors}
    out[f"floor_{unit}_per_s"] = {name: round(count / secs, 1) for name, secs in best.items()}
    for name in args.sandboxes:
        floor = MATCHED.get(name, "host")
        out[name]["floor"] = floor
        out[name]["ratio_to_floor"] = round(best[floor] / out[name]["seconds"], 3)
        if floor != "host":
            out[name]["ratio_to_host_floor"] = round(best["host"] / out[name]["seconds"], 3)
    return best


def measure_humaneval(floors: dict, args) -> dict:
    items = humaneval_workload(args.repeat)
    reqs = [req for _, req in items]
    tasks = [(r.code, r.test) for r in reqs]
    chunks = [tasks[i:i + CHUNK] for i in range(0, len(tasks), CHUNK)]
    out: dict = {"programs": len(reqs)}
    before = floor_runs(floors, "assert", chunks, out, "before", "programs", len(reqs))
    for name in args.sandboxes:
        floor = [ok for chunk in before[MATCHED.get(name, "host")][0] for ok in chunk]
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
    after = floor_runs(floors, "assert", chunks, out, "after", "programs", len(reqs))
    for name in floors:
        out[f"floor_{name}_after"]["same_verdicts_as_before"] = after[name][0] == before[name][0]
    ratios(floors, before, after, out, "programs", len(reqs), args)
    return out


def measure_codecontests(floors: dict, args) -> dict:
    items = codecontests_workload(args.codecontests)
    reqs = [req for _, req in items]
    tasks = [(p.references[0], list(p.tests.cases), (r.case_sensitive, r.strict_integers, r.float_tol))
             for p, r in items]
    ncases = sum(len(t[1]) for t in tasks)
    out: dict = {"problems": len(reqs), "cases": ncases}
    before = floor_runs(floors, "cases", tasks, out, "before", "cases", ncases)
    for name in args.sandboxes:
        floor = before[MATCHED.get(name, "host")][0]
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
    after = floor_runs(floors, "cases", tasks, out, "after", "cases", ncases)
    for name in floors:
        out[f"floor_{name}_after"]["same_verdicts_as_before"] = after[name][0] == before[name][0]
    best = ratios(floors, before, after, out, "cases", ncases, args)
    for name in args.sandboxes:
        # Lane-milliseconds a case costs beyond its floor's (wall × lanes / cases).
        extra = out[name]["seconds"] - best[out[name]["floor"]]
        out[name]["overhead_ms_per_case"] = round(extra * args.workers * 1000 / ncases, 3)
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
    with floor_lanes.lanes(args.workers) as pool:
        floors = {"host": host_floor(pool)}
        if "docker" in args.sandboxes:
            floors["image"] = image_floor(args.workers)
        report["humaneval"] = measure_humaneval(floors, args)
        if args.codecontests:
            report["codecontests"] = measure_codecontests(floors, args)
    report["loadavg_after"] = _load()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
