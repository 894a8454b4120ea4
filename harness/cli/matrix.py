"""``python -m harness matrix``: export a run's tables (``harness.store.matrix``)."""

from __future__ import annotations


def add_parser(sub) -> None:
    mx = sub.add_parser("matrix", help="export a run's samples, pass matrix and cost matrix")
    mx.add_argument("run", help="run directory")
    mx.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="file format (default parquet)")
    mx.add_argument("--out", help="output directory (default: the run directory)")
    mx.add_argument("--full", action="store_true",
                    help="the samples table also has each sample's completion, thinking, extracted code, program "
                         "run and stderr tail (docs/store.md)")
    mx.set_defaults(handle=handle)


def handle(args) -> int:
    from ..store.matrix import write_matrix

    for path in write_matrix(args.run, args.format, args.out, full=args.full):
        print(path)
    return 0
