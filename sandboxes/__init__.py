"""Isolated execution of candidate programs: ``get_sandbox(name).run(requests)``.

The contract (``base.Sandbox``, lifecycle in ``base``'s docstring): a sandbox states
its ``identity()`` (what its verdicts depend on besides the request, without starting
anything) and builds itself ``from_options(workers=..., memory_mb=...)``; ``start``,
``execute``/``run``/``map`` give one ``Verdict`` per ``ExecRequest``; ``close`` stops
it. Every abstract method must be implemented, or the class cannot be instantiated.

To add a sandbox: one module with a ``Sandbox`` subclass (a pool of fork servers on
one machine subclasses ``pool.WorkerPool`` and says only how to start one worker),
and one line in ``SANDBOXES.update`` below; ``--sandbox`` and the execution cache
then know it by that name.
"""

from __future__ import annotations

from . import judge
from .base import SANDBOXES, Sandbox, WorkerBroken, default_sandbox_name, get_sandbox, sandbox_class
from .docker_sandbox import DockerSandbox
from .local import LocalSandbox
from .ray_sandbox import RaySandbox
from .records import ExecRequest, IOCase, Limits, Status, Verdict

SANDBOXES.update({
    "docker": DockerSandbox,
    "local": LocalSandbox,
    "ray": RaySandbox,
})

__all__ = ["SANDBOXES", "judge", "ExecRequest", "IOCase", "Limits", "Sandbox", "Status", "Verdict", "WorkerBroken",
           "default_sandbox_name", "get_sandbox", "sandbox_class"]
