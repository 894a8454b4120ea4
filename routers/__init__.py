"""Routers and oracle-gap analysis over pass matrices. A router is handed its data
complete (``data.RouterData``: scores, costs, prompts, splits, the programs it may
execute and a sandbox) and imports only what is below it, ``benchmarks`` and
``sandboxes``; never ``harness``.

The contract (``base``): a subclass of ``Router`` with a unique ``name`` whose
``route(data)`` returns a ``Routing`` (the model per problem, plus what the routing
paid or ran beyond it); ``fit``, ``state`` and ``load_state`` when it trains.
``scoring`` scores a routing, ``cv`` by K-fold cross-validation.

Adding a router: one module here defining the class (importing from ``.base``, never
from this package), and one line: its class in ``ROUTERS`` below. Constructor
parameters need defaults (``route compare`` builds every router without any; ``--param
key=value`` is checked against their types)."""

from __future__ import annotations

import json
from pathlib import Path

from .adaptivellm import AdaptiveLLM
from .base import Router, Routing
from .baselines import Cheapest, DatasetOracle, Oracle, Published, RandomRouter, SingleBest
from .cascade import Cascade
from .codyn import CoDyn
from .complexitynet import ComplexityNet
from .cot_length import CoTLength
from .rorf import RoRF

ROUTERS: dict[str, type[Router]] = {r.name: r for r in (RandomRouter, SingleBest, Cheapest, DatasetOracle, Oracle,
                                                        Published, CoTLength, AdaptiveLLM, ComplexityNet, CoDyn,
                                                        RoRF, Cascade)}


def load_router(folder: str | Path) -> Router:
    """The router ``Router.save`` wrote to ``folder``; a ValueError if it is not one."""
    folder = Path(folder)
    try:
        saved = json.loads((folder / "router.json").read_text())
        router = ROUTERS[saved["router"]]()
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{folder}: not a saved router ({exc})") from None
    router.load_state(saved["state"], folder)
    return router


__all__ = ["ROUTERS", "Router", "Routing", "load_router"]
