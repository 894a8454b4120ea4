"""``python -m harness route train|eval|compare`` and ``gate``: the router commands
(``harness.route.experiments``, ``harness.route.gate``). The help names the routers of the
registry (``routers.ROUTERS``), imported only when that help is shown, so ``--help`` of
the other commands stays instant."""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
from dataclasses import asdict

from ..errors import UserError
from ..tables import format_table, to_json
from .options import add_ray_address, name_list

ROUTE_COLUMNS = ["router", "coverage", "quality", "quality_ci", "cost_per_problem", "cost_ci", "normalized_cost",
                 "closed_gap", "closed_gap_ci"]
# route compare: each row against the references on its own problems (paired CIs; RouteLLM's metrics)
PAIRED_COLUMNS = ["diff_vs_sbs", "diff_vs_sbs_ci", "best_other", "diff_vs_best_other", "diff_vs_best_other_ci",
                  "apgr", "cpt50"]
# with --cv: the spread of quality over the folds and what a fold's training cost
CV_COLUMNS = ["fold_quality_std", "fold_quality_range", "fit_seconds"]
ROUTER_NAMES = "{router names}"  # replaced by the registry's names when the help is formatted
POOL_NAMES = "{bundled pools}"  # replaced by the bundled routing pools' short names (routers.formats.BUNDLED)
# What --data and a report's SOURCE may name besides run directories.
IMPORTED_HELP = (f"; or files of a routing format (RouterBench, RouterDC, EmbedLLM, LLMRouterBench: docs/formats.md; "
                 f"train and test files comma-separated), or a bundled pool: {POOL_NAMES}")
PRICES_HELP = ("price table for an imported file (JSON/YAML: model -> USD per problem); replaces the file's costs; "
               "needed by routers where the file has none")


def router_names() -> str:
    from routers import ROUTERS

    return ", ".join(ROUTERS)


def _filled(text: str) -> str:
    if ROUTER_NAMES in text:
        text = text.replace(ROUTER_NAMES, router_names())
    if POOL_NAMES in text:
        from routers.formats import BUNDLED

        text = text.replace(POOL_NAMES, ", ".join(BUNDLED))
    return text


class RouterHelpFormatter(argparse.HelpFormatter):
    """A help formatter that fills in ``ROUTER_NAMES`` and ``POOL_NAMES`` from the registries."""

    def _get_help_string(self, action):
        text = super()._get_help_string(action)
        return _filled(text) if text else text

    def _format_text(self, text):
        return super()._format_text(_filled(text))

    # Wrap lines between words only, so that no router name is cut at its hyphen.
    def _split_lines(self, text, width):
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text, width, indent):
        return textwrap.fill(" ".join(text.split()), width, initial_indent=indent, subsequent_indent=indent,
                             break_on_hyphens=False)


def add_parser(sub) -> None:
    """``route`` and, next to it in the command list, ``gate``."""
    from sandboxes import SANDBOXES

    described = f"Routers: {ROUTER_NAMES} (README: Routers and the oracle gap)."
    rt = sub.add_parser("route", help="train, evaluate and compare routers", description=described,
                        formatter_class=RouterHelpFormatter)
    rtsub = rt.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (("train", "fit a router and save it"), ("eval", "score one router on a split"),
                         ("compare", "every router and single model, one table")):
        p = rtsub.add_parser(action, help=text, description=f"{text[0].upper()}{text[1:]}. {described}",
                             formatter_class=RouterHelpFormatter)
        p.add_argument("--data", default="adaptivellm",
                       help="'adaptivellm' (the bundled artifact, its 411/178 split) or run directories, "
                            "comma-separated and pooled (models matched by name, problems the union)" + IMPORTED_HELP)
        p.add_argument("--prices", metavar="FILE", help=PRICES_HELP)
        if action != "compare":
            p.add_argument("--router", help=f"router name: {ROUTER_NAMES}")
            p.add_argument("--param", action="append", default=[], help="router parameter key=value (repeatable)")
        if action == "train":
            p.add_argument("--split", default="train", help="split to fit on (default train; 'all': every problem)")
            p.add_argument("--out", required=True, help="folder for the trained router")
        else:
            p.add_argument("--train-split",
                           help="split to fit on (default train)" + ("; unused with --model-dir" * (action == "eval")))
            p.add_argument("--split", help="split to evaluate on (default test)")
            p.add_argument("--cv", type=int, metavar="K",
                           help="K-fold cross-validation over all problems of the data instead of the split: "
                                "folds stratified by dataset, each router trained K times, every problem scored "
                                "once out of fold (not with --train-split/--split/--model-dir)")
            p.add_argument("--seed", type=int, default=0, help="seed of the --cv folds (default 0)")
            p.add_argument("--format", choices=["md", "csv", "json"], default="md",
                           help="output: markdown table, CSV or JSON (default md)")
        if action == "eval":
            p.add_argument("--model-dir", help="a router saved by `route train` (instead of --router)")
        p.add_argument("--sandbox", choices=list(SANDBOXES),
                       help="where the cascade executes programs (default: docker if its daemon and image are "
                            "ready, else local; ray: a Ray cluster); its sandbox= parameter wins")
        add_ray_address(p)
        if action == "compare":
            p.add_argument("--routers", help=f"comma-separated subset of: {ROUTER_NAMES} (default: all; the "
                                             "learned ones train for minutes on a CPU)")
    rt.set_defaults(handle=handle)

    gt = sub.add_parser("gate", help="fail (exit 1) when routers' metrics fall below a committed baseline")
    gt.add_argument("--baseline", required=True, help="baseline JSON (see .ci/router-baseline.json)")
    gt.add_argument("--format", choices=["md", "csv", "json"], default="md", help="output (default md)")
    gt.set_defaults(handle=handle_gate)


def handle(args) -> int:
    from ..route import experiments

    if args.action == "train":
        if not args.router:
            raise UserError("route train: --router is required")
        try:
            print(experiments.train(args.router, args.param, args.data, args.split, args.out, args.sandbox,
                                    args.prices))
        except ValueError as exc:  # what the data or the install cannot give this router, as eval says it
            raise UserError(f"router {args.router!r}: {exc}") from None
        return 0
    if args.cv is not None and (args.train_split or args.split or getattr(args, "model_dir", None)):
        raise UserError(f"route {args.action}: --cv K uses every problem, trained K times: drop --train-split / "
                        "--split / --model-dir")
    splits = (args.train_split or "train", args.split or "test")
    if args.action == "compare":
        names = None
        if args.routers is not None:
            names = name_list(args.routers, f"--routers {args.routers!r}: no router named (omit it for all)")
        comparison = experiments.compare(args.data, *splits, names, cv=args.cv, seed=args.seed, sandbox=args.sandbox,
                                         prices=args.prices)
        rows = comparison.rows
        if args.format == "json":
            print(to_json(asdict(comparison)))
            return 0
        columns = ROUTE_COLUMNS + PAIRED_COLUMNS + CV_COLUMNS * bool(args.cv) + _executions(rows)
        print(format_table(rows, args.format, columns + ["on_front", "partial"]))
        if args.format == "md":
            if args.cv:
                print(f"\n{args.cv}-fold CV (seed {args.seed}) over all {rows[0]['problems']} problems: each router "
                      f"trained {args.cv} times, every problem scored once out of fold; fit_seconds = mean per fold")
            if any(r["partial"] for r in rows):
                print("\npartial = True: scored on the covered test problems only (coverage), so not comparable; "
                      "listed after the full-coverage rows, never on the front")
            print(f"\nPareto front: {', '.join(comparison.front)}; area (mean quality over the cost range): "
                  f"{_with_ci(comparison.front_area, comparison.front_area_ci)}; AIQ (the hull's mean quality): "
                  f"{_with_ci(comparison.aiq, comparison.aiq_ci)}")
        return 0
    if args.model_dir:
        from routers import load_router

        if args.router or args.param:
            raise UserError("route eval: --model-dir is a trained router: drop --router / --param "
                            "(or train again with them)")
        try:
            router = load_router(args.model_dir)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        make = lambda: router  # noqa: E731
    elif args.router:
        router = experiments.make_router(args.router, args.param)  # a bad --param fails here, before training
        make = lambda: experiments.make_router(args.router, args.param)  # noqa: E731  (a fresh one per CV fold)
    else:
        raise UserError("route eval: give --router NAME or --model-dir DIR")
    data = experiments.load_data(args.data, args.sandbox, args.prices)
    (row,) = experiments.score(router.name, make, data, *splits, cv=args.cv, seed=args.seed,
                               fitted=bool(args.model_dir))
    row = {k: v for k, v in row.items() if not k.startswith("_")}
    print(format_table([row], args.format, ROUTE_COLUMNS + CV_COLUMNS * bool(args.cv) + _executions([row]) +
                               ["sbs_model", "sbs_quality", "oracle_quality"]))
    return 0


def _with_ci(value: float, ci) -> str:
    return "n/a (every point costs the same)" if math.isnan(value) else f"{value:.4f} [{ci[0]:.4f}, {ci[1]:.4f}]"


def _executions(rows: list[dict]) -> list[str]:
    """The columns of what execution feedback cost and did, when a router executed (the
    cascade)."""
    return [c for c in ("executions", "escalation_rate") if any(c in r for r in rows)]


def handle_gate(args) -> int:
    from ..route.gate import gate

    rows, ok = gate(args.baseline)
    print(format_table(rows, args.format, ["router", "metric", "baseline", "now", "delta", "tolerance",
                                                  "status"]))
    if not ok:
        print(f"error: router quality regressed against {args.baseline}", file=sys.stderr)
    return 0 if ok else 1
