"""``ray`` sandbox: the warm pools of every node of a Ray cluster behind one ``Sandbox``.

As verl and agentic-ray keep warm sandboxes on Ray: one long-lived actor per alive
node (hard node-affinity scheduling), reserving the CPUs its pool uses so Ray never
oversubscribes the node, owning that node's pool (``docker`` when the node has a
daemon and the image, else ``local``; each node reports its choice). The driver keeps
a bounded number of requests in flight per actor with ``ray.wait``, in batches (one
Ray call per batch: the driver's CPU per verdict stays small), and gets small
``Verdict`` records back; the caller (``run``) stays the only writer of its store.

Faults are ``ray_dispatch``'s: the requests of a node that dies go to the other actors;
a program that kills its actor (or makes its pool raise) ends as ``sandbox_error`` alone
after ``MAX_ATTEMPTS``, instead of taking every request of its batch with it; a dead
actor on a live node is replaced. ``sandbox_error`` is a harness failure, retried by
the next run.

Programs, containers and fork servers are the node pool's: labelled and reaped as
there (an actor killed with SIGKILL closes its servers' channels, so they exit, and
stale containers are removed when the next pool starts).
"""

from __future__ import annotations

import dataclasses
import os
import queue
import socket
import sys
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future

from .pool import Sandbox, WorkerBroken
from .ray_dispatch import Fleet, Source, dispatch
from .records import ExecRequest, Verdict

START_TIMEOUT = 300.0


class NodePool:
    """The actor: one node's warm pool."""

    def __init__(self, inner: str | None, workers: int, memory_mb: int | None) -> None:
        from . import get_sandbox

        self.sandbox = get_sandbox(inner, workers=workers, memory_mb=memory_mb)
        self.sandbox.start()

    def describe(self) -> dict:
        import ray

        ctx = ray.get_runtime_context()
        return {"node": ctx.get_node_id(), "host": socket.gethostname(), "pid": os.getpid(),
                "workers": self.sandbox.size, **self.sandbox.describe()}

    def execute_batch(self, reqs: list[ExecRequest]) -> list[Verdict]:
        return self.sandbox.map(reqs)

    def close(self) -> None:
        self.sandbox.close()


def check_address(address: str, timeout: float = 5.0) -> None:
    """Fail fast (one line) on an address nothing listens at: ``ray.init`` would retry
    for minutes. ``auto`` and ``local`` are Ray's to resolve."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise WorkerBroken(f"bad Ray address {address!r}: expected HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise WorkerBroken(f"no Ray cluster at {address}: {exc.strerror or exc}") from None


class RaySandbox(Sandbox):
    name = "ray"
    # The actor's class. Tests put a subclass here that fails on purpose (dies, raises);
    # it must be importable on the nodes, as this one is.
    actor_class: type = NodePool

    def __init__(self, workers: int | None = None, address: str | None = None, inner: str | None = None,
                 memory_mb: int | None = None) -> None:
        # workers: per node (default: the node's CPUs, all reserved by its actor).
        self.workers = workers
        self.address = address if address is not None else os.environ.get("RAY_ADDRESS")
        self.inner = inner
        self.memory_mb = memory_mb
        self._fleet = Fleet(self.actor_class, inner, workers, memory_mb)
        # `execute` may be called from many threads at once (as `run` of the harness
        # does): one dispatcher thread serves them all.
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._dispatcher: threading.Thread | None = None
        self._started = False
        self._owns_ray = False

    @property
    def size(self) -> int:
        return self._fleet.size

    @property
    def lost(self) -> int:
        """Actors that failed while running (died, or their pool raised)."""
        return len(self._fleet.lost)

    # ---- lifecycle
    def start(self) -> RaySandbox:
        if self._started:
            return self
        if not self.address:
            # A local instance stays on the loopback interface (Ray's switch for that; read at import).
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            import ray
        except ImportError:
            raise WorkerBroken("the `ray` sandbox needs Ray: pip install 'codeharness[ray]'") from None
        if not ray.is_initialized():
            if self.address:
                check_address(self.address)
                ray.init(address=self.address, logging_level="ERROR", log_to_driver=False)
            else:
                print("codeharness: no --ray-address and no RAY_ADDRESS: starting a local Ray instance",
                      file=sys.stderr)
                # "local": a new instance, as said, never the cluster a `ray start` here left behind.
                ray.init(address="local", logging_level="ERROR", log_to_driver=False)
            # A cluster's connection is closed with the sandbox; a local instance lives until
            # the process exits (Ray's atexit hook), reused by the next sandbox of the same
            # command (the cascade opens one per setting) instead of started again.
            self._owns_ray = bool(self.address)
        self._started = True
        self._fleet.ensure()
        problems = self._fleet.wait_ready(START_TIMEOUT)
        if not self._fleet.actors:
            self.close()
            raise WorkerBroken(f"no node of the Ray cluster could start a sandbox: {problems}")
        for a in self._fleet.serving():
            print(f"codeharness: ray node {a.node[:12]} ({a.info['host']}): {a.info['sandbox']}"
                  + (f" ({a.info['mode']} mode)" if a.info.get("mode") else "") + f", {a.info['workers']} workers",
                  file=sys.stderr)
        return self

    def close(self) -> None:
        if not self._started:
            return
        import ray

        if self._dispatcher is not None:
            self._queue.put(None)
            self._dispatcher.join(timeout=60)
            self._dispatcher = None
        self._fleet.close()
        if self._owns_ray:
            ray.shutdown()
        self._started = False

    def describe(self) -> dict:
        with self._fleet.lock:
            nodes = [a.info for a in self._fleet.actors.values()]
            lost = list(self._fleet.lost)
        # Recorded by `run` at its start and end: the actors serving, and those lost on the way.
        return {"sandbox": self.name, "address": self.address or "local Ray instance", "nodes": nodes,
                "lost_actors": len(lost), "lost": lost}

    # ---- execution
    def run(self, requests: Iterable[ExecRequest]) -> Iterator[Verdict]:
        self.start()
        keyed = ((str(i), req) for i, req in enumerate(requests))
        originals: dict[str, str] = {}

        def take(n: int, block: bool) -> list[tuple[str, ExecRequest]]:
            out = []
            for key, req in keyed:
                originals[key] = req.id
                out.append((key, req))
                if len(out) == n:
                    break
            return out

        for key, verdict in dispatch(self._fleet, Source(take, finite=True, poll=5.0)):
            yield dataclasses.replace(verdict, id=originals.pop(key))

    def execute(self, req: ExecRequest) -> Verdict:
        """Safe from many threads at once (``run`` of the harness calls it so): one
        dispatcher thread collects the requests and sends them in batches."""
        self.start()
        done: Future = Future()
        with self._lock:
            if self._dispatcher is None or not self._dispatcher.is_alive():
                self._dispatcher = threading.Thread(target=self._serve_queue, daemon=True,
                                                    name="ray-sandbox-dispatch")
                self._dispatcher.start()
            self._queue.put((req, done))
        return done.result()

    def _serve_queue(self) -> None:
        waiting: dict[str, tuple[ExecRequest, Future]] = {}
        counter = iter(range(1 << 62))

        def take(n: int, block: bool) -> list[tuple[str, ExecRequest]]:
            out = []
            while len(out) < n:
                try:
                    item = self._queue.get(timeout=0.5) if block and not out else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:  # closing
                    source.done = True
                    break
                key = str(next(counter))
                waiting[key] = item
                out.append((key, item[0]))
            return out

        source = Source(take, finite=False, poll=0.02)
        try:
            for key, verdict in dispatch(self._fleet, source):
                req, done = waiting.pop(key)
                done.set_result(dataclasses.replace(verdict, id=req.id))
        except BaseException as exc:
            for _, done in waiting.values():
                done.set_exception(exc)
