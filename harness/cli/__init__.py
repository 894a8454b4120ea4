"""``python -m harness``: the command line. One module per command, each with its parser
(``add_parser(sub)``, which sets the command's ``handle``) and its handler
(``handle(args)``); what they share is in ``options``. Heavy modules are imported per
command, inside the handlers, so that ``--help`` stays instant."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import UserError
from . import benchmarks, evaluate, matrix, report, rescore, route, run, sandbox, serve
from . import exec as exec_command
from .options import EXIT_USER_ERROR

# in the order --help lists them (route adds gate after itself)
COMMANDS = (evaluate, run, rescore, matrix, exec_command, benchmarks, report, route, sandbox, serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness",
        description="codeharness: execute LLM-written code in sandboxes, build pass matrices, score routers.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "ray_address", None):
        os.environ["RAY_ADDRESS"] = args.ray_address  # what Ray and the `ray` sandbox read
    from benchmarks import DataError
    from sandboxes import WorkerBroken
    from sandboxes.image import DockerUnavailable

    try:
        return args.handle(args)
    except (UserError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except (WorkerBroken, DockerUnavailable) as exc:  # any command that executes: no sandbox to run in
        print(f"error: sandbox unavailable: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as exc:  # its message, if any: what was kept and how to go on
        print(": ".join(["interrupted", *map(str, exc.args[:1])]), file=sys.stderr)
        return 130
