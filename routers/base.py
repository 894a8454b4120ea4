"""The router contract: ``Router`` (``fit`` on training problems, ``route`` problems to
models, ``save``/``load`` a trained router as a folder) and ``Routing``, what ``route``
returns."""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
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


# eq=False: pandas fields have no single truth value to compare by.
@dataclass(frozen=True, eq=False)
class Routing:
    """A router's decisions on some problems and what they cost beyond the chosen
    model's cells (``routers.scoring`` scores it).

    Attributes:
        choices: problem id -> the model that answers it.
        runs: problem id -> tuple of every model whose generation the routing paid
            for (a cascade's tries), all counted in the cost; None: the chosen one only.
        executions: how many programs the router ran to decide (the cascade); None
            for routers that execute nothing.
        outcomes: per problem the ``quality`` and ``cost`` realized, scored instead of
            the chosen model's cells, when the kept answer is not the chosen model's
            scored sample or the cost is per sample (the sampling cascade).
        report: what else the router reports on its routing (escalation rate,
            false-accept rates...), added to its row.
    """

    choices: pd.Series
    runs: pd.Series | None = None
    executions: int | None = None
    outcomes: pd.DataFrame | None = None
    report: dict = field(default_factory=dict)


class Router(ABC):
    """A router: ``name`` (its registry key), ``peeks`` (True for routers that read the
    problems' scores when routing, the oracle: an upper bound, never deployable) and
    optionally ``route_variants`` (routing-time settings, set as attributes, that one
    fit serves: ``route compare`` scores each). Subclasses implement ``route``; the
    others have defaults for routers without training or state."""

    name = ""
    peeks = False

    def fit(self, data: RouterData) -> Router:
        """Trains on ``data`` (its training problems); returns the router."""
        return self

    @abstractmethod
    def route(self, data: RouterData) -> Routing:
        """The decision for every problem of ``data`` (``Routing.choices`` indexed as
        ``data.scores``)."""

    def state(self, folder: Path) -> dict:
        """What ``save`` writes (JSON); big artefacts go in files in ``folder``."""
        return {}

    def load_state(self, state: dict, folder: Path) -> None:  # noqa: B027  (a hook: stateless routers keep it)
        """Restores what ``state`` returned (``routers.load_router``)."""

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "router.json").write_text(json.dumps({"router": self.name, "state": self.state(folder)},
                                                       indent=1) + "\n")
        return folder
