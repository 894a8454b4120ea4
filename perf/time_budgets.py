"""CPU-time budgets: how the floor and the judge-limit scale were chosen, and whether
verdicts depend on the machine's load.

The programs are replay runs' stored ones (the README's main job for HumanEval;
``run --dataset codecontests`` with the same pool for test66), each judged as ``run``
judges it; agreement is with the verdicts the AdaptiveLLM authors recorded.

* ``floors``: HumanEval with budget = max(floor, FACTOR x the reference's CPU time here),
  floor in 1, 2, 3, 4, 6, 10 s: agreement, time-outs and wall time of each.
* ``factors``: HumanEval at the chosen floor with FACTOR 2, 5, 10.
* ``scales``: CodeContests test66 with budget = max(1 s, scale x the problem's judge
  time limit), scale in 1, 2, 3: the same figures (``baseline`` gives today's 10 s).
* ``load``: the chosen settings idle, beside two CPU hogs (one per core), and with
  3 x cores workers: verdict flips between conditions (goal 0), agreement, wall time.
* ``baseline``: today's wall-clock limits (the checkout given by ``--baseline-checkout``,
  run in a subprocess), idle, on the same programs: its wall time and agreement.

    python perf/time_budgets.py --humaneval-run R1 --codecontests-run R2 [--baseline-checkout DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FLOORS = (1.0, 2.0, 3.0, 4.0, 6.0, 10.0)
FACTORS = (2.0, 5.0, 10.0)
SCALES = (1.0, 2.0, 3.0)
FACTOR = 5.0


def stored(run_dir: Path) -> list[tuple]:
    with sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True) as con:
        return con.execute("SELECT dataset, problem, model, sample, program, recorded_passed FROM samples "
                           "WHERE program IS NOT NULL ORDER BY dataset, problem, model, sample").fetchall()


def execute(wire: list[dict], workers: int) -> tuple[dict, float, dict]:
    """{id: status}, wall seconds and {id: what the verdict says (detail, CPU and wall
    time)}, through the local sandbox of whatever checkout is first on sys.path (this
    one, or the baseline's in a subprocess)."""
    from sandboxes import ExecRequest, IOCase, Limits, LocalSandbox

    fields = set(Limits.__dataclass_fields__)
    reqs = [ExecRequest(w["code"], w["test"], limits=Limits(**{k: v for k, v in w["limits"].items() if k in fields}),
                        id=w["id"], cases=tuple(IOCase(c["stdin"], c["expected"]) for c in w["cases"])
                        if w.get("cases") else None, **w.get("compare", {})) for w in wire]
    with LocalSandbox(workers=workers) as sb:
        start = time.perf_counter()
        verdicts = list(sb.run(reqs))
        seconds = time.perf_counter() - start
    return ({v.id: v.status.value for v in verdicts}, seconds,
            {v.id: f"{v.status.value} {v.detail[:80]!r} cpu {v.cpu_time:.2f} s wall {v.wall_time:.2f} s"
             for v in verdicts})


def requests(rows, budgets: dict[str, float]) -> list[dict]:
    from benchmarks import get_benchmark
    from benchmarks.requests import exec_request
    from sandboxes import Limits

    problems = {(d, p.id): p for d in {r[0] for r in rows} for p in get_benchmark(d).load(split=None)}
    return [exec_request(problems[(d, p)], prog, Limits(timeout=budgets[p]), id=f"{d}|{p}|{m}|{s}").to_wire()
            for d, p, m, s, prog, _ in rows]


def flips(base: tuple, other: tuple) -> dict:
    """The samples whose status differs, with what both verdicts say."""
    return {k: [base[2][k], other[2][k]] for k in base[0] if base[0][k] != other[0][k]}


def score(rows, statuses: dict, seconds: float) -> dict:
    recorded = {f"{d}|{p}|{m}|{s}": bool(rec) for d, p, m, s, _, rec in rows if rec is not None}
    agree = sum((statuses[k] == "passed") == v for k, v in recorded.items())
    return {"agreement": round(agree / len(recorded), 4), "agree": agree, "of": len(recorded),
            "timeouts": sum(v == "timeout" for v in statuses.values()), "wall_s": round(seconds, 1)}


def reference_cpu(dataset: str, ids: set[str]) -> dict[str, float]:
    from benchmarks import get_benchmark
    from benchmarks.requests import exec_request
    from sandboxes import Limits, LocalSandbox

    problems = [p for p in get_benchmark(dataset).load(split=None) if p.id in ids and p.references]
    with LocalSandbox() as sb:
        return {v.id: v.max_cpu_time for v in sb.run([exec_request(p, p.references[0], Limits(timeout=20), id=p.id)
                                                   for p in problems]) if v.passed}


class CpuHogs:
    """``per_core`` busy processes per core for the duration, each in a session of its
    own: with the kernel's autogroups, hogs sharing one session would share one slice
    of the CPU, and other users' jobs do not."""

    def __init__(self, per_core: int = 1) -> None:
        self.per_core = per_core

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
                      for _ in range(self.per_core * os.cpu_count())]
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--humaneval-run", required=True, type=Path)
    parser.add_argument("--codecontests-run", required=True, type=Path)
    parser.add_argument("--baseline-checkout", type=Path, help="a checkout with wall-clock limits (today's)")
    parser.add_argument("--floor", type=float, default=3.0, help="the floor the load phase uses")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="the judge-limit scale the load phase uses (harness.score.references.JUDGE_SCALE)")
    parser.add_argument("--phases", default="floors,load,baseline,scales")
    parser.add_argument("--load-datasets", default="humaneval,codecontests")
    args = parser.parse_args()
    phases = args.phases.split(",")
    cores = os.cpu_count()
    he, cc = stored(args.humaneval_run), stored(args.codecontests_run)
    ref = reference_cpu("humaneval", {r[1] for r in he})
    judge = {p.id: p.time_limit for p in __import__("benchmarks").get_benchmark("codecontests").load(split=None)
             if p.time_limit}
    report: dict = {"cores": cores, "humaneval_samples": len(he), "codecontests_samples": len(cc)}

    def he_budgets(floor, factor=FACTOR):
        return {p: max(floor, factor * ref.get(p, 0.0)) for p in {r[1] for r in he}}

    def cc_budgets(scale):
        return {p: max(1.0, scale * judge[p]) if scale and p in judge else 10.0 for p in {r[1] for r in cc}}

    def measure(rows, budgets, workers=cores):
        return score(rows, *execute(requests(rows, budgets), workers)[:2])

    if "floors" in phases:
        report["floors"] = {str(f): measure(he, he_budgets(f)) for f in FLOORS}
        print(json.dumps(report["floors"]), file=sys.stderr)
    if "factors" in phases:
        report["factors"] = {str(f): measure(he, he_budgets(args.floor, f)) for f in FACTORS}
        print(json.dumps(report["factors"]), file=sys.stderr)
    if "scales" in phases:
        report["scales"] = {}
        for s in SCALES:
            report["scales"][str(s)] = measure(cc, cc_budgets(s))
            print(json.dumps({f"scale {s}": report["scales"][str(s)]}), file=sys.stderr)
    if "load" in phases:
        report["load"] = {}
        for name, rows, budgets in (("humaneval", he, he_budgets(args.floor)), ("codecontests", cc,
                                                                                cc_budgets(args.scale))):
            if name not in args.load_datasets.split(","):
                continue
            wire = requests(rows, budgets)
            idle = execute(wire, cores)
            print(json.dumps({name: {"idle": score(rows, *idle[:2])}}), file=sys.stderr)
            with CpuHogs():
                hogged = execute(wire, cores)
            print(json.dumps({name: {"two_cpu_hogs": score(rows, *hogged[:2])}}), file=sys.stderr)
            over = execute(wire, 3 * cores)
            report["load"][name] = {
                "idle": score(rows, *idle[:2]), "two_cpu_hogs": score(rows, *hogged[:2]),
                f"workers_{3 * cores}": score(rows, *over[:2]),
                "flips_hogs_vs_idle": len(flips(idle, hogged)),
                "flips_oversubscribed_vs_idle": len(flips(idle, over)),
                "flipped": {"hogs": flips(idle, hogged), "oversubscribed": flips(idle, over)},
            }
            print(json.dumps(report["load"][name]), file=sys.stderr)
    if "baseline" in phases and args.baseline_checkout:
        report["baseline_wall_clock_limits"] = {}
        for name, rows in (("humaneval", he), ("codecontests", cc)):
            # Today's limits: max(10 s, 5 x the reference's wall time) as a wall-clock limit.
            budgets = he_budgets(10.0) if name == "humaneval" else cc_budgets(None)
            wire = requests(rows, budgets)
            for w in wire:
                w["limits"].pop("wall_cap", None)
            out = subprocess.run([sys.executable, __file__, "--execute-stdin", str(cores)], input=json.dumps(wire),
                                 capture_output=True, text=True, env={**os.environ,
                                                                     "PYTHONPATH": str(args.baseline_checkout)})
            if out.returncode:
                raise SystemExit(out.stderr[-2000:])
            report["baseline_wall_clock_limits"][name] = score(rows, *json.loads(out.stdout)[:2])
            print(json.dumps({name: report["baseline_wall_clock_limits"][name]}), file=sys.stderr)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--execute-stdin"]:  # the baseline's side: its own sandboxes on sys.path
        sys.path.remove(str(Path(__file__).resolve().parents[1]))
        print(json.dumps(execute(json.loads(sys.stdin.read()), int(sys.argv[2]))))
    else:
        main()
