"""``python -m harness rescore``: its options and its command (``harness.pipeline.rescore``)."""

from __future__ import annotations

import sys

from .options import EXIT_SANDBOX_ERROR, add_ray_address, positive_float, positive_int


def add_parser(sub) -> None:
    from sandboxes import SANDBOXES

    rs = sub.add_parser("rescore", help="execute a run's stored generations again (other limits, sandbox or "
                                        "extractor), never calling a model; prints the status transitions")
    rs.add_argument("run", help="run directory")
    rs.add_argument("--timeout", type=positive_float,
                    help="a new floor of the per-problem CPU budgets: they are calibrated again, as `run --timeout` "
                         "does (max(floor, 5 x the reference's CPU time here)); default: the stored budgets")
    rs.add_argument("--no-calibrate", dest="calibrate", action="store_false",
                    help="with --timeout: every budget is --timeout, no references run")
    rs.add_argument("--memory-mb", type=positive_int,
                    help="address-space limit per program (default: each stored verdict's, else 1024)")
    rs.add_argument("--sandbox", choices=list(SANDBOXES), default=None,
                    help="where programs run (default: the sandbox that made most stored verdicts)")
    add_ray_address(rs)
    rs.add_argument("--workers", type=positive_int, help="parallel sandbox workers (default: one per core)")
    rs.add_argument("--extract", action="store_true",
                    help="extract the code from each stored completion again with the current extractor "
                         "(default: run the stored programs)")
    rs.set_defaults(handle=handle)


def handle(args) -> int:
    from ..pipeline.rescore import RescoreConfig, format_transitions, rescore
    from ..store.matrix import write_matrix

    summary = rescore(RescoreConfig(args.run, timeout=args.timeout, memory_mb=args.memory_mb, sandbox=args.sandbox,
                                    workers=args.workers, extract=args.extract, calibrate=args.calibrate))
    print(format_transitions(summary))
    written = write_matrix(summary["run"])
    print(f"run: {summary['run']}; matrix: {', '.join(p.name for p in written)}", file=sys.stderr)
    if summary["sandbox_errors"]:
        print(f"error: {summary['sandbox_errors']} samples got sandbox_error (the harness failed, twice): their "
              "old verdicts stay; re-run the same command to retry them", file=sys.stderr)
        return EXIT_SANDBOX_ERROR
    return 0
