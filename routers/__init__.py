"""Routers and oracle-gap analysis over pass matrices; adding a router is one module
and one line here. A router is handed its data complete (``data.RouterData``: scores,
costs, prompts, splits, the programs it may execute and a sandbox) and imports only
what is below it, ``benchmarks`` and ``sandboxes``; never ``harness``."""

from __future__ import annotations

from .adaptivellm import AdaptiveLLM
from .base import Router, load_router
from .baselines import Cheapest, DatasetOracle, Oracle, Published, RandomRouter, SingleBest
from .cascade import Cascade
from .codyn import CoDyn
from .complexitynet import ComplexityNet
from .cot_length import CoTLength
from .rorf import RoRF

ROUTERS: dict[str, type[Router]] = {r.name: r for r in (RandomRouter, SingleBest, Cheapest, DatasetOracle, Oracle,
                                                        Published, CoTLength, AdaptiveLLM, ComplexityNet, CoDyn,
                                                        RoRF, Cascade)}

__all__ = ["ROUTERS", "Router", "load_router"]
