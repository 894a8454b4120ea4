"""The contract every sandbox implements, and the registry that finds one by name.

Lifecycle of a sandbox:

1. ``identity()`` (classmethod, nothing started): what, besides the request, its
   verdicts depend on; the execution cache keys verdicts by it.
2. ``from_options(workers=..., memory_mb=...)`` (classmethod): the sandbox built from
   the command's options. Cheap: nothing starts yet.
3. ``start()``: start what runs programs (containers, fork servers, a Ray fleet);
   idempotent. ``with sandbox:`` starts it and closes it on exit, error or Ctrl-C.
4. ``execute(req)`` from any number of threads, ``submit(req)`` (a future, for callers
   that must not block a thread per request, such as ``serve``'s event loop),
   ``run(requests)`` (completion order) or ``map(requests)`` (request order): one
   ``Verdict`` per ``ExecRequest``. A harness failure is a verdict with status
   ``sandbox_error``, never an exception.
5. ``close()``: stop everything it started; idempotent.

``start`` raises ``WorkerBroken`` when the sandbox cannot run programs at all.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from concurrent.futures import Future

from .records import ExecRequest, Verdict


class WorkerBroken(Exception):
    """The worker stopped answering or died; the request never got a verdict."""


class Sandbox(ABC):
    """Runs ``ExecRequest``s in isolation. Use as a context manager."""

    name: str = ""  # its name in ``SANDBOXES`` and on the command line
    size: int = 1  # requests it runs at once

    @classmethod
    def from_options(cls, workers: int | None = None, memory_mb: int | None = None) -> Sandbox:
        """The sandbox for a command's options, not started.

        Args:
            workers: requests run at once (default: the sandbox's own, usually the CPUs).
            memory_mb: the largest per-program memory limit it will see, for a sandbox
                whose own limits must leave room for it.

        Returns:
            A new sandbox; ``start`` it, or use it in ``with``.
        """
        return cls(workers=workers)

    @classmethod
    @abstractmethod
    def identity(cls) -> str:
        """What, besides the request, a verdict depends on (what runs the program),
        computed without starting a sandbox.

        Returns:
            A string that changes whenever the same request could get another verdict;
            verdicts cached under another identity are executed again.
        """

    @abstractmethod
    def start(self) -> Sandbox:
        """Start what runs programs; idempotent.

        Returns:
            The sandbox itself.

        Raises:
            WorkerBroken: it cannot run programs here (no daemon, image or cluster).
        """

    @abstractmethod
    def close(self) -> None:
        """Stop everything it started; idempotent."""

    @abstractmethod
    def submit(self, req: ExecRequest) -> Future[Verdict]:
        """Start one request (starting the sandbox if needed) and return at once; safe
        from many threads.

        Args:
            req: the program, its tests and limits.

        Returns:
            A future of its verdict (carrying ``req.id``), completed from another
            thread; its exception is ``WorkerBroken`` if the sandbox closed first.

        Raises:
            WorkerBroken: the sandbox is closed.
        """

    def execute(self, req: ExecRequest) -> Verdict:
        """``submit``'s verdict, waited for."""
        return self.submit(req).result()

    @abstractmethod
    def run(self, requests: Iterable[ExecRequest]) -> Iterator[Verdict]:
        """Run many requests, ``size`` at a time.

        Args:
            requests: consumed lazily, so it may be a long stream.

        Returns:
            Verdicts in completion order (each carries its request's ``id``).
        """

    def describe(self) -> dict:
        """Isolation features, for ``sandbox check`` and run metadata."""
        return {"sandbox": self.name}

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def map(self, requests: Iterable[ExecRequest]) -> list[Verdict]:
        """Verdicts in request order."""
        reqs = list(requests)
        keyed = [dataclasses.replace(r, id=str(i)) for i, r in enumerate(reqs)]
        out: list[Verdict | None] = [None] * len(reqs)
        for v in self.run(keyed):
            i = int(v.id)
            out[i] = dataclasses.replace(v, id=reqs[i].id)
        return out  # type: ignore[return-value]


# Name -> class, filled by the package's ``__init__`` (one line per sandbox). It lives
# here, not there, so that a sandbox made of others (``ray``'s node pools) looks them
# up without importing the package that imports it.
SANDBOXES: dict[str, type[Sandbox]] = {}


def default_sandbox_name() -> str:
    """``docker`` when a daemon answers and the image is built, else ``local``."""
    from .image import DockerUnavailable, docker_client, image_present

    try:
        return "docker" if image_present(docker_client()) else "local"
    except DockerUnavailable:
        return "local"


def sandbox_class(name: str | None = None) -> type[Sandbox]:
    """The registered sandbox called ``name`` (default: ``default_sandbox_name()``)."""
    name = name or default_sandbox_name()
    try:
        return SANDBOXES[name]
    except KeyError:
        raise ValueError(f"unknown sandbox {name!r}; choose from {', '.join(SANDBOXES)}") from None


def get_sandbox(name: str | None = None, workers: int | None = None, memory_mb: int | None = None) -> Sandbox:
    """A sandbox by name (default: ``default_sandbox_name()``), built from the options
    by its ``from_options``, not started."""
    return sandbox_class(name).from_options(workers=workers, memory_mb=memory_mb)
