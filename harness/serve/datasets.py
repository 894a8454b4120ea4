"""``/submit`` and ``/list_datasets``: SandboxFusion's dataset API over our benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sandboxes.records import ExecRequest, Verdict

from .models import EvalResult, SubmitRequest
from .translate import BadRequest, Policy


@dataclass
class Plan:
    """The programs a submission runs, and how their verdicts become its ``EvalResult``."""

    requests: list[ExecRequest]
    finish: Callable[[list[Verdict]], EvalResult]


def names() -> list[str]:
    return []


def plan(req: SubmitRequest, policy: Policy) -> Plan:
    raise BadRequest(f"dataset {req.dataset!r} is not served")
