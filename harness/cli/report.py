"""``report html``: its parser and its command (the report itself: ``harness.report``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..errors import UserError


def add_report_html_parser(rpsub) -> None:
    p = rpsub.add_parser("html", help="a self-contained HTML report (inline SVG figures) and every figure as "
                                      "PNG and PDF")
    p.add_argument("source", help="run directories and wide matrix files (CSV/Parquet), comma-separated and read as "
                                  "one (models matched by name, problems the union), or 'adaptivellm' (the "
                                  "bundled artifact)")
    p.add_argument("--out", help="report directory, replaced whole (default results/report__<source names, "
                                 "joined by +>)")
    p.add_argument("--routers", help="comma-separated routers to compare on the source's test split, as `route "
                                     "compare --routers` (a run directory or 'adaptivellm')")
    p.add_argument("--compare", help="the JSON of `route compare --format json` on the same data, instead of "
                                     "--routers")


def cmd_report_html(args) -> int:
    from ..report.html import render
    from ..report.source import load

    names = None
    if args.routers is not None:
        names = [n.strip() for n in args.routers.split(",") if n.strip()]
        if not names:
            raise UserError(f"--routers {args.routers!r}: no router named")
    start = time.perf_counter()
    data = load(args.source, names, args.compare)
    out = Path(args.out) if args.out else Path("results") / f"report__{out_name(args.source)}"
    index = render(data, out)
    print(f"report: {index} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    print(index)
    return 0


def out_name(source: str) -> str:
    from ..store.sources import parse

    return "+".join(Path(p).stem for p in parse(source).paths) or Path(source).stem or "source"
