"""Ray against local when slow programs cluster: the same programs through ``local`` (N
workers) and ``ray`` (N nodes x 1 CPU, a real cluster on this machine via
``cluster_utils``, the ``local`` pool in each node's actor), in one process.

* ``sleepers``: the 164 canonical HumanEval solutions, 164 wrong ones (``return None``)
  and 8 programs that sleep 30 s at a 3 s CPU budget (stopped at the 10 s wall cap),
  adjacent in the middle, as a hard problem's samples that all time out.
* ``codecontests``: a replay run's CodeContests test66 programs in the run's order (a
  problem's samples adjacent), each at the budget the run gave it: its time-outs too.
* ``humaneval``: the same run's HumanEval programs, for the driver's CPU per verdict.
* ``dispatch``: the CodeContests and HumanEval requests through ``ray`` only, each
  answered 2 ms after it starts without running (``InstantPool``): the driver's CPU per
  verdict for the dispatch alone, with hardly any of Ray's background time in it.

For each: seconds and programs/s of both, the ratio (local's seconds over Ray's: 1 is
as fast as local on the same cores), verdict flips, the driver's CPU per verdict (also
net of what its Ray threads spend idle, measured for 10 s after the workloads: on a
loaded machine a run lasts longer and that share grows), and the load average before
and after. Prints one JSON object.

    python perf/ray_balance.py [--run-dir results/humaneval+leetcode+codecontests__adaptivellm-pool]
                               [--workloads sleepers,codecontests,humaneval,dispatch] [--nodes 2] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # the cluster stays on 127.0.0.1

from ray_throughput import timed  # noqa: E402  (this directory: the script's own path entry)

from benchmarks import get_benchmark  # noqa: E402
from benchmarks.requests import exec_request  # noqa: E402
from sandboxes import ExecRequest, Limits, LocalSandbox, RaySandbox, Status, Verdict  # noqa: E402
from sandboxes.ray_sandbox import NodePool  # noqa: E402


class _Instant:
    """Stands for a node's pool: a verdict 2 ms after each request starts."""

    size = 1

    def execute(self, req: ExecRequest) -> Verdict:
        time.sleep(0.002)
        return Verdict(Status.FAILED, "wrong answer", passed_tests=2, total_tests=200, id=req.id)

    def describe(self) -> dict:
        return {"sandbox": "instant"}

    def close(self) -> None:
        pass


class InstantPool(NodePool):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.sandbox.close()
        self.sandbox = _Instant()  # what its workers call from now on


class InstantRay(RaySandbox):
    actor_class = InstantPool  # defined in __main__: Ray sends it by value


def sleepers() -> list[ExecRequest]:
    limits = Limits(timeout=3.0)
    reqs = [ExecRequest(code, p.tests.code, limits=limits, id=f"{kind}/{p.id}")
            for p in get_benchmark("humaneval").load()
            for kind, code in (("ok", p.references[0]), ("none", p.prompt + "    return None\n"))]
    slow = [ExecRequest("import time\ntime.sleep(30)\n", limits=limits, id=f"sleeper/{i}") for i in range(8)]
    half = len(reqs) // 2
    return reqs[:half] + slow + reqs[half:]


def replay(run_dir: Path, dataset: str) -> list[ExecRequest]:
    """The run's programs of ``dataset``, in its order, each at the budget it had there."""
    with sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True) as con:
        rows = con.execute("SELECT problem, model, sample, program, timeout FROM samples WHERE dataset = ? "
                           "AND program IS NOT NULL ORDER BY problem, model, sample", (dataset,)).fetchall()
    problems = {p.id: p for p in get_benchmark(dataset).load()}
    return [exec_request(problems[p], prog, Limits(timeout=budget), id=f"{p}|{m}|{s}")
            for p, m, s, prog, budget in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", default="results/humaneval+leetcode+codecontests__adaptivellm-pool")
    parser.add_argument("--workloads", default="sleepers,codecontests,humaneval,dispatch")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--limit", type=int, help="the first N programs of each replay only")
    args = parser.parse_args()
    import ray
    from ray.cluster_utils import Cluster

    run_dir = Path(args.run_dir)
    driver: dict[str, tuple[float, float, int]] = {}  # workload: the driver's CPU s, Ray's wall s, programs
    report: dict = {"cpus": os.cpu_count(), "nodes_x_cpus": f"{args.nodes} x 1", "local_workers": args.nodes}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(args.nodes - 1):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        with LocalSandbox(workers=args.nodes) as local, RaySandbox(address=cluster.address, inner="local") as sb:
            for name in args.workloads.split(","):
                if name == "dispatch":
                    continue
                reqs = sleepers() if name == "sleepers" else replay(run_dir, name)[:args.limit]
                load = os.getloadavg()[0]
                base, base_s, _ = timed(local, reqs)
                got, secs, cpu = timed(sb, reqs)
                driver[name] = cpu, secs, len(reqs)
                report[name] = {
                    "programs": len(reqs), "timeouts": sum(s == "timeout" for s in base.values()),
                    "local_s": round(base_s, 2), "ray_s": round(secs, 2), "ratio": round(base_s / secs, 3),
                    "local_programs_per_s": round(len(reqs) / base_s, 1),
                    "ray_programs_per_s": round(len(reqs) / secs, 1),
                    "verdict_flips": sum(base[k] != got.get(k) for k in base),
                    "driver_cpu_ms_per_verdict": round(1000 * cpu / len(reqs), 3),
                    "load_avg_1min_before_after": [round(load, 2), round(os.getloadavg()[0], 2)],
                }
            report["lost_actors"] = sb.lost
        if "dispatch" in args.workloads.split(","):
            report["dispatch"] = {}
            with InstantRay(address=cluster.address, inner="local") as sb:
                for dataset in ("codecontests", "humaneval"):
                    reqs = replay(run_dir, dataset)[:args.limit]
                    runs = [timed(sb, reqs) for _ in range(2)]
                    report["dispatch"][dataset] = {
                        "programs": len(reqs), "seconds": [round(r[1], 2) for r in runs],
                        "driver_cpu_ms_per_verdict": [round(1000 * r[2] / len(reqs), 3) for r in runs]}
        with RaySandbox(address=cluster.address, inner="local"):  # connected, idle
            cpu0 = time.process_time()
            time.sleep(10)
            idle = (time.process_time() - cpu0) / 10
    finally:
        ray.shutdown()
        cluster.shutdown()
    report["driver_idle_cpu_ms_per_s"] = round(1000 * idle, 2)
    for name, (cpu, secs, n) in driver.items():
        report[name]["driver_cpu_ms_per_verdict_net"] = round(1000 * (cpu - idle * secs) / n, 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
