"""``python -m harness benchmarks list|validate``: the bundled benchmarks, and a check of
one against its reference solutions (``harness.score.references``)."""

from __future__ import annotations

import json

from .options import add_sandbox_options, positive_int, sandbox_limits


def add_parser(sub) -> None:
    bm = sub.add_parser("benchmarks", help="list benchmarks, or validate one against its references")
    bmsub = bm.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = bmsub.add_parser("list", help="name, problems, tests, references, public-test coverage, test kind, "
                                       "sources")
    ls.add_argument("--format", choices=["table", "json"], default="table",
                    help="output: an aligned table (default) or JSON, one object per benchmark")
    va = bmsub.add_parser("validate", help="run every reference solution (and known-wrong program) in the sandbox")
    va.add_argument("--dataset", required=True, help="benchmark name (see `benchmarks list`)")
    va.add_argument("--source", help="bundled source name, local file/folder or HF id (default: bundled)")
    va.add_argument("--limit", type=positive_int, help="first N problems only")
    va.add_argument("--workers", type=positive_int, help="parallel workers (default: one per core)")
    va.add_argument("--out", help="write the full summary (with calibrated time limits) as JSON here")
    add_sandbox_options(va, timeout=60.0)
    bm.set_defaults(handle=handle)


def benchmark_rows() -> list[dict]:
    """One row per benchmark, of its bundled default problems; ``public_tests``: how
    many of them have public tests (the examples the prompt shows)."""
    from benchmarks import BENCHMARKS

    rows = []
    for name, cls in BENCHMARKS.items():
        bench = cls()
        problems = bench.load()
        rows.append({"name": name, "problems": len(problems), "tests": sum(p.test_count for p in problems),
                     "references": sum(bool(p.references) for p in problems),
                     "public_tests": sum(bench.public_tests(p) is not None for p in problems),
                     "test_kind": bench.test_kind, "bundled": list(bench.default), "hf_id": bench.hf_id or None})
    return rows


def handle(args) -> int:
    if args.action == "list":
        rows = benchmark_rows()
        if args.format == "json":
            print(json.dumps(rows, indent=1))
            return 0
        print(f"{'name':<13} {'problems':>8} {'tests':>7} {'refs':>6} {'public_tests':>12}  {'test kind':<27} source")
        for r in rows:
            print(f"{r['name']:<13} {r['problems']:>8} {r['tests']:>7} {r['references']:>6} "
                  f"{str(r['public_tests']) + '/' + str(r['problems']):>12}  {r['test_kind']:<27} "
                  f"bundled ({', '.join(r['bundled'])}); HF {r['hf_id'] or '-'}")
        return 0
    from ..score.references import validate

    sandbox_limits(args)
    summary = validate(args.dataset, args.source, args.limit, args.sandbox, args.workers, args.timeout,
                       log=print, memory_mb=args.memory_mb)
    if args.out:
        from pathlib import Path

        Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "time_limits"}))
    return 0 if summary["failed"] == 0 else 1
