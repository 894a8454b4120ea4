"""Isolated execution of candidate programs: ``get_sandbox(name).run(requests)``."""

from __future__ import annotations

from . import judge
from .docker_sandbox import DockerSandbox
from .local import LocalSandbox
from .pool import Sandbox, WorkerBroken
from .ray_sandbox import RaySandbox
from .records import ExecRequest, IOCase, Limits, Status, Verdict

SANDBOXES: dict[str, type[Sandbox]] = {"docker": DockerSandbox, "local": LocalSandbox, "ray": RaySandbox}


def default_sandbox_name() -> str:
    """``docker`` when a daemon answers and the image is built, else ``local``."""
    from .image import DockerUnavailable, docker_client, image_present

    try:
        return "docker" if image_present(docker_client()) else "local"
    except DockerUnavailable:
        return "local"


def get_sandbox(name: str | None = None, workers: int | None = None, memory_mb: int | None = None) -> Sandbox:
    """A sandbox by name (default: ``default_sandbox_name()``). ``memory_mb``, the
    largest per-program limit it will see, sizes Docker's per-container cgroup so
    that the program's own limit, not the cgroup's OOM killer, is what stops it."""
    name = name or default_sandbox_name()
    try:
        cls = SANDBOXES[name]
    except KeyError:
        raise ValueError(f"unknown sandbox {name!r}; choose from {', '.join(SANDBOXES)}") from None
    if cls is DockerSandbox and memory_mb:
        return DockerSandbox(workers=workers, container_memory_mb=max(4096, 2 * memory_mb))
    if cls is RaySandbox:  # each node's pool sizes its own containers
        return RaySandbox(workers=workers, memory_mb=memory_mb)
    return cls(workers=workers)


__all__ = ["SANDBOXES", "judge", "ExecRequest", "IOCase", "Limits", "Sandbox", "Status", "Verdict", "WorkerBroken",
           "default_sandbox_name", "get_sandbox"]
