"""``python -m harness exec``: run one program in a sandbox, print its verdict."""

from __future__ import annotations

import json

from ..errors import UserError
from .options import EXIT_SANDBOX_ERROR, add_sandbox_options, sandbox_limits


def add_parser(sub) -> None:
    ex = sub.add_parser("exec", help="run one program and print its verdict as a JSON line")
    ex.add_argument("program", help="Python file to run")
    ex.add_argument("--stdin", help="file whose content is the program's stdin")
    add_sandbox_options(ex, timeout=10.0)
    ex.set_defaults(handle=handle)


def handle(args) -> int:
    from sandboxes import ExecRequest, Status, get_sandbox

    req = ExecRequest(_text(args.program, "program"),
                      stdin=_text(args.stdin, "stdin") if args.stdin is not None else "",
                      limits=sandbox_limits(args))
    with get_sandbox(args.sandbox, workers=1, memory_mb=args.memory_mb) as sandbox:
        verdict = sandbox.execute(req)
    print(json.dumps(verdict.to_dict()))
    return EXIT_SANDBOX_ERROR if verdict.status is Status.SANDBOX_ERROR else 0


def _text(path: str, what: str) -> str:
    from pathlib import Path

    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read {what} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: {what} is not UTF-8 text") from None
