"""One interface for every router: ``fit`` on training problems, ``route`` problems to
model names, ``save``/``load`` a trained router as a folder."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pandas as pd

from .data import RouterData


def optional_import(module: str, extra: str = "ml"):
    """``module``, a dependency of an extra that the README's plain install leaves out.
    Missing, a ValueError naming the extra: the CLI prints it as one line (``route
    compare`` skips that router with a note) instead of a ModuleNotFoundError traceback."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ValueError(f"needs {exc.name or module}, not installed: pip install -e '.[{extra}]'") from None


class Router:
    name = ""
    # True for routers that read the problems' scores when routing (the oracle): an
    # upper bound, never a deployable router.
    peeks = False
    # Set by ``route`` when routing pays for generations beyond the chosen model's (a
    # cascade's tries): problem id -> tuple of every model run there, counted in the cost.
    runs: pd.Series | None = None
    # Set by routers that execute programs to decide (the cascade): how many they ran.
    executions: int | None = None
    # Set by ``route`` when the kept answer is not the chosen model's scored sample or the
    # cost is per sample (the sampling cascade): per problem ``quality`` and ``cost``.
    outcomes: pd.DataFrame | None = None
    # Set by ``route``: what else the router reports on its routing (escalation rate,
    # false-accept rates...), added to its row.
    report: dict | None = None

    def fit(self, data: RouterData) -> Router:
        return self

    def route(self, data: RouterData) -> pd.Series:
        """Problem id -> model name, for every problem of ``data``."""
        raise NotImplementedError

    def state(self, folder: Path) -> dict:
        """What ``save`` writes (JSON); big artefacts go in files in ``folder``."""
        return {}

    def load_state(self, state: dict, folder: Path) -> None:
        pass

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "router.json").write_text(json.dumps({"router": self.name, "state": self.state(folder)},
                                                       indent=1) + "\n")
        return folder


def load_router(folder: str | Path) -> Router:
    from . import ROUTERS

    folder = Path(folder)
    try:
        saved = json.loads((folder / "router.json").read_text())
        router = ROUTERS[saved["router"]]()
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{folder}: not a saved router ({exc})") from None
    router.load_state(saved["state"], folder)
    return router
