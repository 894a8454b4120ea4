"""Ray's overhead: the same programs through ``local`` (N workers) and ``ray`` (N nodes x 1 CPU).

The programs are a run's stored ones (default: the README's main job, the 6,560
HumanEval samples of the AdaptiveLLM replay pool; run it first), each executed against
its problem's tests as ``run`` does. The baseline is the local pool measured in the
same process; Ray runs on a real N-node cluster on this machine (``cluster_utils``,
1 CPU per node, the same ``local`` pool inside each node's actor). Also measured: the
driver's own CPU per 1,000 verdicts at growing request counts, and the verdict rate
at which the driver would saturate one core. Prints one JSON object.

    python perf/ray_throughput.py [--run-dir results/humaneval__adaptivellm-pool] [--nodes 2] [--timeout 10]
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

from benchmarks import get_benchmark  # noqa: E402
from benchmarks.requests import exec_request  # noqa: E402
from sandboxes import Limits, LocalSandbox, RaySandbox  # noqa: E402


def requests_of(run_dir: Path, timeout: float):
    with sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True) as con:
        rows = con.execute("SELECT dataset, problem, model, sample, program FROM samples "
                           "WHERE program IS NOT NULL ORDER BY dataset, problem, model, sample").fetchall()
    problems = {}
    for dataset in {r[0] for r in rows}:
        problems.update({(dataset, p.id): p for p in get_benchmark(dataset).load()})
    limits = Limits(timeout=timeout)
    return [exec_request(problems[(d, p)], prog, limits, id=f"{d}|{p}|{m}|{s}") for d, p, m, s, prog in rows]


def timed(sandbox, reqs):
    cpu0, t0 = time.process_time(), time.perf_counter()
    statuses = {v.id: v.status.value for v in sandbox.run(reqs)}
    return statuses, time.perf_counter() - t0, time.process_time() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", default="results/humaneval__adaptivellm-pool")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3.0, help="CPU budget per program (run's floor)")
    parser.add_argument("--limit", type=int, help="the first N programs only")
    args = parser.parse_args()
    import ray
    from ray.cluster_utils import Cluster

    reqs = requests_of(Path(args.run_dir), args.timeout)[:args.limit]
    report: dict = {"programs": len(reqs), "cpus": os.cpu_count(), "nodes": args.nodes, "timeout_s": args.timeout}
    with LocalSandbox(workers=args.nodes) as local:
        base, base_s, _ = timed(local, reqs)
    report["local"] = {"workers": args.nodes, "seconds": round(base_s, 2),
                       "programs_per_s": round(len(reqs) / base_s, 1)}

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(args.nodes - 1):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        with RaySandbox(address=cluster.address, inner="local") as sb:
            got, secs, cpu = timed(sb, reqs)
            growth = {}
            for n in sorted({min(500, len(reqs)), min(2000, len(reqs)), len(reqs)}):
                _, _, c = timed(sb, reqs[:n])
                growth[n] = round(1000 * c / n, 3)
    finally:
        ray.shutdown()
        cluster.shutdown()
    per_verdict = cpu / len(reqs)
    rate = len(reqs) / secs
    report["ray"] = {
        "nodes_x_cpus": f"{args.nodes} x 1", "seconds": round(secs, 2), "programs_per_s": round(rate, 1),
        "ratio_to_local": round(base_s / secs, 3),
        "verdict_flips_vs_local": sum(base[k] != got.get(k) for k in base),
        "driver_cpu_s_per_1000_verdicts": round(1000 * per_verdict, 3),
        "driver_cpu_s_per_1000_verdicts_by_requests": growth,
        # One driver core saturates at 1/per_verdict verdicts/s; each node adds ~rate/nodes.
        "driver_saturates_at_verdicts_per_s": round(1 / per_verdict),
        "driver_saturates_at_nodes": round((1 / per_verdict) / (rate / args.nodes)),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
