"""The core against its physical floor: programs/s of our sandboxes vs fork-and-exec.

Workload (issue 22): for each of the 164 HumanEval problems its canonical solution and
one wrong solution (the prompt + `return None`) ×5, i.e. 984 programs (the set
×`--repeat` per run), each with its tests as `exec_request` builds them.

Floor: `--workers` lanes (a multiprocessing Pool, warm, fed in chunks), each forking
a child per program that execs the program and then its test code in one namespace
and reports pass/fail by exit status; no isolation, no limits, no pipes
(floor_lanes.py). Each sandbox is measured against the floor under its own interpreter:
`local` against the host's (this process's), `docker` against the image's `python3`
(the lanes run in a container of the image; its ratio to the host's floor is printed
too).

Sandboxes: the same ExecRequests through `get_sandbox(name, workers=N).run`, warm.
`--rounds` times, each sandbox runs right after its floor on the same programs; the
ratio is the median over rounds of floor seconds / sandbox seconds (this VM's own speed
moves by tens of percent within a minute; adjacent runs share it).
With `--codecontests N`, the same for stdin/stdout: the first N CodeContests problems
with a reference, every case, against a floor that forks per case with stdin and
stdout on memfds and judges stdout with the sandbox's own `compare_stdout`.
Prints one JSON object; nothing is asserted.

    python perf/core_floor.py [--sandboxes local,docker] [--workers 2] [--repeat 1] [--rounds 5]
                              [--codecontests 20]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import get_benchmark  # noqa: E402
from benchmarks.requests import exec_request  # noqa: E402
from sandboxes import Limits, get_sandbox  # noqa: E402

WRONG_BODY = "    return None\n"
CHUNK = 16  # programs per Pool task: few enough IPC round trips to keep dispatch small
WARM = 8  # requests run before timing, so start-up and first imports are not counted


# ---------------------------------------------------------------- floors

def _floor_job(kind: str, tasks: list, workers: int, command) -> tuple[list, float]:
    """floor_lanes.py over ``tasks`` in a fresh interpreter, started by ``command(job dir)``:
    (each task's results, seconds). Fresh and lean, as a fork server is: lanes forked
    from this process (benchmarks, pandas imported) copied its page tables per program."""
    with tempfile.TemporaryDirectory() as job:
        with open(os.path.join(job, "job.pkl"), "wb") as f:
            pickle.dump({"kind": kind, "tasks": tasks, "workers": workers, "warm": 2}, f)
        command(job)
        with open(os.path.join(job, "out.pkl"), "rb") as f:
            return pickle.load(f)


def host_floor(workers: int):
    """The floor under this interpreter, the one ``local``'s fork servers run (``-I``, as they)."""
    def run(kind: str, tasks: list) -> tuple[list, float]:
        return _floor_job(kind, tasks, workers, lambda job: subprocess.run(
            [sys.executable, "-I", str(REPO / "perf" / "floor_lanes.py"), f"{job}/job.pkl", f"{job}/out.pkl"],
            check=True))
    return run


def image_floor(workers: int):
    """The floor inside the sandbox image, under its ``python3``, the one ``docker``'s
    fork servers run: floor_lanes.py in a container of the image (no network)."""
    from sandboxes.image import DEFAULT_IMAGE, docker_client

    client = docker_client()

    def run(kind: str, tasks: list) -> tuple[list, float]:
        return _floor_job(kind, tasks, workers, lambda job: client.containers.run(
            DEFAULT_IMAGE, ["python3", "-I", "/repo/perf/floor_lanes.py", "/job/job.pkl", "/job/out.pkl"],
            remove=True, network_mode="none",
            volumes={str(REPO): {"bind": "/repo", "mode": "ro"}, job: {"bind": "/job", "mode": "rw"}}))
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


# ---------------------------------------------------------------- rounds

# The floor run under each sandbox's interpreter (another sandbox: the host's).
MATCHED = {"local": "host", "docker": "image"}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _median(xs: list[float]) -> float:
    return round(statistics.median(xs), 3)


def measure(floors: dict, sandboxes: dict, work: dict, rounds: int, workers: int) -> dict:
    """Per round, each sandbox right after its floor on the same work; a round's ratio is
    the floor's seconds over the sandbox's, and the figure is the median over rounds:
    on a shared VM the machine's own speed moves by tens of percent within a minute,
    and adjacent runs share it. ``work``: kind, tasks (the floor's), reqs (the
    sandbox's), count and unit, and ``check``(floor results, verdicts) -> disagreements."""
    count, unit = work["count"], work["unit"]
    rows = {name: {"floor": MATCHED.get(name, "host"), "floor_s": [], "s": [], "bad": []} for name in sandboxes}
    host_s: list[float] = []  # the host's floor, per round, when a sandbox runs against it
    for _ in range(rounds):
        for name, sb in sandboxes.items():
            row = rows[name]
            results, floor_s = floors[row["floor"]](work["kind"], work["tasks"])
            start = time.perf_counter()
            verdicts = {v.id: v for v in sb.run(work["reqs"])}
            row["s"].append(time.perf_counter() - start)
            row["floor_s"].append(floor_s)
            row["bad"] += work["check"](results, verdicts)
            if row["floor"] == "host":
                host_s.append(floor_s)
    out: dict = {unit: count, "rounds": rounds}
    for name, row in rows.items():
        ratios = [f / s for f, s in zip(row["floor_s"], row["s"], strict=True)]
        out[name] = {"floor": row["floor"], "ratio_to_floor": _median(ratios),
                     "ratios": [round(r, 3) for r in ratios],
                     f"{unit}_per_s": round(count / statistics.median(row["s"]), 1),
                     f"floor_{unit}_per_s": round(count / statistics.median(row["floor_s"]), 1),
                     "disagreements": len(row["bad"]), "disagreement_examples": row["bad"][:5]}
        if unit == "cases":  # lane-milliseconds a case costs beyond its floor's (wall x lanes / cases)
            extra = [(s - f) * workers * 1000 / count for f, s in zip(row["floor_s"], row["s"], strict=True)]
            out[name]["overhead_ms_per_case"] = _median(extra)
        if row["floor"] != "host" and len(host_s) == rounds:
            out[name]["ratio_to_host_floor"] = _median([h / s for h, s in zip(host_s, row["s"], strict=True)])
    return out


def humaneval_work(repeat: int) -> dict:
    items = humaneval_workload(repeat)
    reqs = [req for _, req in items]
    tasks = [(r.code, r.test) for r in reqs]

    def check(results: list, verdicts: dict) -> list[dict]:
        floor = [ok for chunk in results for ok in chunk]
        return [{"problem": items[i][0], "floor_passed": floor[i], "sandbox": verdicts[r.id].status.value,
                 "detail": verdicts[r.id].detail[:160]}
                for i, r in enumerate(reqs) if verdicts[r.id].passed != floor[i]]
    return {"kind": "assert", "tasks": [tasks[i:i + CHUNK] for i in range(0, len(tasks), CHUNK)],
            "reqs": reqs, "count": len(reqs), "unit": "programs", "check": check}


def codecontests_work(n: int) -> dict:
    items = codecontests_workload(n)
    reqs = [req for _, req in items]

    def check(results: list, verdicts: dict) -> list[dict]:
        return [{"problem": r.id, "floor_cases_passed": sum(f), "sandbox_cases_passed": verdicts[r.id].passed_tests,
                 "sandbox": verdicts[r.id].status.value, "detail": verdicts[r.id].detail[:160]}
                for r, f in zip(reqs, results, strict=True)
                if verdicts[r.id].passed != all(f) or verdicts[r.id].passed_tests != sum(f)]
    return {"kind": "cases", "reqs": reqs, "unit": "cases", "check": check,
            "tasks": [(p.references[0], list(p.tests.cases), (r.case_sensitive, r.strict_integers, r.float_tol))
                      for p, r in items],
            "count": sum(len(p.tests.cases) for p, _ in items)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sandboxes", default="local,docker")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="the 984-program set this many times per run")
    parser.add_argument("--rounds", type=int, default=5, help="floor + sandbox pairs per sandbox (median ratio)")
    parser.add_argument("--codecontests", type=int, default=20, metavar="N",
                        help="CodeContests problems with a reference, every case (0: skip)")
    args = parser.parse_args()
    args.sandboxes = [s for s in args.sandboxes.split(",") if s]
    report: dict = {"workers": args.workers, "cpus": os.cpu_count(), "repeat": args.repeat,
                    "loadavg_before": _load(), "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    works = {"humaneval": humaneval_work(args.repeat)}
    if args.codecontests:
        works["codecontests"] = codecontests_work(args.codecontests)
    with contextlib.ExitStack() as stack:
        floors = {"host": host_floor(args.workers)}
        if "docker" in args.sandboxes:
            floors["image"] = image_floor(args.workers)
        sandboxes = {name: stack.enter_context(get_sandbox(name, workers=args.workers)) for name in args.sandboxes}
        for name, work in works.items():
            for sb in sandboxes.values():  # warm: start-up and first imports are not timed
                list(sb.run([dataclasses.replace(r, id=f"warm{i}") for i, r in enumerate(work["reqs"][:WARM])]))
            report[name] = measure(floors, sandboxes, work, args.rounds, args.workers)
    report["loadavg_after"] = _load()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
