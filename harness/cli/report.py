"""``python -m harness report agreement|oracle-gap|html``: reports over data and runs (the
reports themselves: ``harness.report``, ``harness.route.experiments.oracle_gap_table``)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..errors import UserError
from ..tables import format_table
from .options import name_list
from .route import IMPORTED_HELP, PRICES_HELP, RouterHelpFormatter

GAP_COLUMNS = ["dataset", "n", "sbs_model", "sbs_mean", "oracle_mean", "og", "wcr", "wcr_strict", "dropped_models",
               "dropped_problems"]


def add_parser(sub) -> None:
    rp = sub.add_parser("report", help="reports over data and runs")
    rpsub = rp.add_subparsers(dest="action", required=True, metavar="ACTION")
    ag = rpsub.add_parser("agreement", help="our verdicts vs the ones a replayed source recorded (AdaptiveLLM's)")
    ag.add_argument("run", help="run directory of a replay run")
    ag.add_argument("--out", help="write the report with every disagreement here (.md or .json)")

    og = rpsub.add_parser("oracle-gap", help="per dataset: SBS, oracle, oracle gap, WCR (CoDyn's, and strict), "
                                              "per-model score and cost", formatter_class=RouterHelpFormatter)
    og.add_argument("source", help="run directories or wide matrix files (CSV/Parquet: problem, [dataset], "
                                   "one column per model), comma-separated and read as one (models matched by "
                                   "name, problems the union)" + IMPORTED_HELP)
    og.add_argument("--prices", metavar="FILE", help=PRICES_HELP + " (without: no cost column)")
    og.add_argument("--format", choices=["md", "csv", "json"], default="md", help="output (default md)")

    p = rpsub.add_parser("html", help="a self-contained HTML report (inline SVG figures) and every figure as "
                                      "PNG and PDF", formatter_class=RouterHelpFormatter)
    p.add_argument("source", help="run directories and wide matrix files (CSV/Parquet), comma-separated and read as "
                                  "one (models matched by name, problems the union), or 'adaptivellm' (the "
                                  "bundled artifact)" + IMPORTED_HELP)
    p.add_argument("--prices", metavar="FILE", help=PRICES_HELP + " (without: no cost-quality plane)")
    p.add_argument("--out", help="report directory, replaced whole (default results/report__<source names, "
                                 "joined by +>)")
    p.add_argument("--routers", help="comma-separated routers to compare on the source's test split, as `route "
                                     "compare --routers` (a run directory, an imported file or 'adaptivellm')")
    p.add_argument("--compare", help="the JSON of `route compare --format json` on the same data, instead of "
                                     "--routers")
    rp.set_defaults(handle=handle)


def handle(args) -> int:
    return {"agreement": report_agreement, "oracle-gap": report_oracle_gap, "html": report_html}[args.action](args)


def report_agreement(args) -> int:
    from ..report.agreement import agreement, to_markdown

    report = agreement(args.run)
    if args.out:
        text = to_markdown(report) if args.out.endswith(".md") else json.dumps(report, indent=1) + "\n"
        try:
            Path(args.out).write_text(text)
        except OSError as exc:
            raise UserError(f"{args.out}: cannot write ({exc.strerror or exc})") from None
    print(json.dumps([{k: v for k, v in d.items() if k != "disagreements"} for d in report["datasets"]], indent=1))
    return 0


def report_oracle_gap(args) -> int:
    from ..route import experiments

    rows = experiments.oracle_gap_table(args.source, prices=args.prices)
    if args.format == "json":
        keys = ["dataset", "n", "sbs_model", "sbs_mean", "oracle_mean", "og", "wcr", "wcr_strict"]
        print(json.dumps([{k: r[k] for k in keys} for r in rows], indent=1))
    else:
        print(format_table(rows, args.format, GAP_COLUMNS))
        if args.format == "md":
            for r in rows:
                print(f"\n{r['dataset']}: " + ", ".join(
                    f"{m} {v['score']:.3f}" + (f" (${v['cost']:.2e})" if v["cost"] is not None else "")
                    for m, v in r["models"].items()))
    return 0


def report_html(args) -> int:
    from ..report.html import render
    from ..report.source import load

    names = None if args.routers is None else name_list(args.routers, f"--routers {args.routers!r}: no router named")
    start = time.perf_counter()
    data = load(args.source, names, args.compare, prices=args.prices)
    out = Path(args.out) if args.out else Path("results") / f"report__{out_name(args.source)}"
    index = render(data, out)
    print(f"report: {index} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    print(index)
    return 0


def out_name(source: str) -> str:
    from routers.formats import BUNDLED

    from ..store.sources import parse

    if source in BUNDLED:
        return source
    return "+".join(Path(p).stem for p in parse(source).paths) or Path(source).stem or "source"

