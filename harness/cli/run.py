"""``python -m harness run``: generate with a model pool, execute, store the pass matrix
(``harness.pipeline.runner``)."""

from __future__ import annotations

import json
import sys

from .options import EXIT_SANDBOX_ERROR, add_sandbox_options, name_list, positive_int, sandbox_limits


def add_parser(sub) -> None:
    rn = sub.add_parser("run", help="generate with a model pool, execute, store the pass matrix (resumable)")
    rn.add_argument("--dataset", required=True, help="benchmark name, or several comma-separated")
    rn.add_argument("--models", required=True, help="pool.yaml (see examples/)")
    rn.add_argument("--split", default="test",
                    help="dataset split (default test): a HF source's, or the bundled data's (MBPP: prompt, test, "
                         "validation, train by task id; CodeContests: test66 test, train300/sandboxfusion train)")
    rn.add_argument("--source", help="local problems file or HF dataset id (default: the bundled copy)")
    rn.add_argument("--limit", type=positive_int, help="first N problems of each dataset")
    rn.add_argument("--n", type=positive_int, help="samples per problem for every model (default: each model's n)")
    rn.add_argument("--workers", type=positive_int, help="parallel sandbox workers (default: one per core)")
    rn.add_argument("--run-dir", help="where the run is stored (default results/<dataset>__<pool stem>); "
                                      "re-running the same command resumes it")
    rn.add_argument("--fresh", action="store_true", help="start the run over (deletes its stored samples)")
    rn.add_argument("--no-calibrate", dest="calibrate", action="store_false",
                    help="do not calibrate per-problem time limits from the references; use --timeout")
    rn.add_argument("--json", action="store_true", help="print the summary as JSON instead of a table")
    # The floor of the calibrated CPU budgets, chosen by measurement (docs/time-limits.md).
    add_sandbox_options(rn, timeout=3.0)
    rn.set_defaults(handle=handle)


def handle(args) -> int:
    from ..pipeline.runner import RunConfig, run
    from ..pipeline.summary import format_summary
    from ..store.matrix import write_matrix

    sandbox_limits(args)
    datasets = tuple(name_list(args.dataset, "--dataset: no dataset given (e.g. humaneval, or humaneval,leetcode)"))
    cfg = RunConfig(datasets=datasets, pool=args.models,
                    run_dir=args.run_dir, split=args.split, source=args.source, limit=args.limit, n=args.n,
                    sandbox=args.sandbox, workers=args.workers, timeout=args.timeout, memory_mb=args.memory_mb,
                    fresh=args.fresh, calibrate=args.calibrate)
    summary = run(cfg)
    print(json.dumps(summary) if args.json else format_summary(summary))
    written = write_matrix(summary["run"])
    print(f"run: {summary['run']}; matrix: {', '.join(p.name for p in written)}", file=sys.stderr)
    errors = sum(m["statuses"].get("sandbox_error", 0) for m in summary["models"])
    if errors:
        print(f"error: {errors} samples got sandbox_error (the harness failed, twice); re-run to retry them",
              file=sys.stderr)
        return EXIT_SANDBOX_ERROR
    return 0
