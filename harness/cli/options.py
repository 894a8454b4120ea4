"""What the commands share: exit codes, argument types (positive numbers, pass@k lists),
the one reader of comma-separated name lists, the sandbox options of every command that
runs programs, and their conversion to ``Limits``. Light on purpose: every command
module imports it when ``--help`` is built."""

from __future__ import annotations

import argparse
import json

from ..errors import UserError

EXIT_USER_ERROR = 2
EXIT_SANDBOX_ERROR = 3


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text!r}")
    return value


def k_list(text: str) -> tuple[int, ...]:
    return tuple(positive_int(part) for part in text.split(","))


def name_list(text: str, empty: str) -> list[str]:
    """The names of a comma-separated option, in order, each once; ``empty``: the error
    message when it names none. Checked by the command, not argparse, so that the error
    is the one-line ``error: ...`` of bad input, without the usage."""
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise UserError(empty)
    return names


def add_ray_address(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ray-address", help="Ray cluster for the `ray` sandbox, HOST:PORT or ray://HOST:PORT "
                                         "(default: $RAY_ADDRESS; with neither, a local Ray instance is started)")


def add_sandbox_options(p: argparse.ArgumentParser, timeout: float) -> None:
    from sandboxes import SANDBOXES

    p.add_argument("--sandbox", choices=list(SANDBOXES), default=None,
                   help="where programs run (default: docker if its daemon and image are ready, else local; "
                        "ray: every node of a Ray cluster)")
    add_ray_address(p)
    p.add_argument("--timeout", type=positive_float, default=timeout,
                   help=f"CPU seconds per program, its whole process tree (default {timeout}); a program "
                        "is also stopped after 3 x that + 1 s of wall clock not spent waiting for a CPU "
                        "(sleeping, blocked)")
    p.add_argument("--memory-mb", type=positive_int, default=1024,
                   help="address-space limit per program (default 1024)")


def sandbox_limits(args):
    """The ``Limits`` of ``add_sandbox_options``' --timeout and --memory-mb."""
    from sandboxes import Limits

    try:
        return Limits(timeout=args.timeout, memory_mb=args.memory_mb)
    except ValueError as exc:
        raise UserError(f"--timeout/--memory-mb: {exc}") from None


def read_time_limits(path: str | None) -> dict[str, float] | None:
    """The per-problem limits of a ``benchmarks validate --out`` file (``--time-limits``)."""
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
