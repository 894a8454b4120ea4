"""`harness run` end to end: replay of the AdaptiveLLM 8-model pool on HumanEval
(164 problems x 8 models x 5 samples = 6,560 samples): generation (replay), code
extraction, execution in the sandbox and one SQLite commit per stage per sample.

Baseline, measured in the same run: ``sandbox_only``, the same 6,560 programs with
the same per-problem limits through ``sandbox.run`` alone (no pipeline, no store).
Prints one JSON object: samples/s of each, and the share of the run's wall time spent
in generation, execution (busy workers / workers) and storage.

    python perf/run_throughput.py [--sandbox docker|local] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import get_benchmark  # noqa: E402
from benchmarks.requests import exec_request  # noqa: E402
from harness.pipeline.runner import RunConfig, run  # noqa: E402
from sandboxes import Limits, get_sandbox  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sandbox", default=None)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = RunConfig(datasets=("humaneval",), pool=str(ROOT / "examples/adaptivellm-pool.yaml"), run_dir=tmp,
                        sandbox=args.sandbox, workers=args.workers)
        summary = run(cfg, log=lambda m: None)
        sec = summary["seconds"]
        with sqlite3.connect(Path(tmp) / "run.sqlite") as con:
            rows = con.execute("SELECT problem, program, timeout FROM samples").fetchall()
            size = con.execute("SELECT count(*) FROM samples WHERE status IS NOT NULL").fetchone()[0]
    problems = {p.id: p for p in get_benchmark("humaneval").load()}
    requests = [exec_request(problems[pid], program, Limits(timeout=t), id=str(i))
                for i, (pid, program, t) in enumerate(rows)]
    with get_sandbox(args.sandbox, args.workers) as sandbox:
        workers, name = sandbox.size, sandbox.name
        start = time.perf_counter()
        for _ in sandbox.run(requests):
            pass
        baseline = time.perf_counter() - start
    wall = sec["wall"]
    print(json.dumps({
        "samples": size, "sandbox": name, "workers": workers,
        "run": {"wall_s": round(wall, 2), "samples_per_s": round(size / wall, 1),
                "share_generation": round(sec.get("generation", 0) / wall, 4),
                "share_execution": round(sec.get("execution", 0) / (workers * wall), 4),
                "share_storage": round(sec.get("storage", 0) / wall, 4)},
        "baseline_sandbox_only": {"wall_s": round(baseline, 2), "samples_per_s": round(size / baseline, 1)},
        "run_vs_baseline_wall": round(wall / baseline, 3),
    }, indent=1))


if __name__ == "__main__":
    main()
