"""``ray`` sandbox: the warm pools of every node of a Ray cluster behind one ``Sandbox``.

As verl and agentic-ray keep warm sandboxes on Ray: one long-lived actor per alive
node (hard node-affinity scheduling), reserving the CPUs its pool uses so Ray never
oversubscribes the node, owning that node's pool (``docker`` when the node has a
daemon and the image, else ``local``; each node reports its choice). The driver keeps
a bounded number of requests in flight per actor with ``ray.wait`` and gets small
``Verdict`` records back; the caller (``run``) stays the only writer of its store.

Faults: when an actor or its node dies (``ActorDiedError``, ``NodeDiedError``,
``WorkerCrashedError``, ...), its in-flight requests go to a live actor; a request
that fails so ``MAX_ATTEMPTS`` times becomes ``sandbox_error`` (a harness failure,
retried by the next run). A dead actor on a live node is replaced. Ray's own
``ActorPool`` is not used: it wedges on one bad actor (ray#50313).

Programs, containers and fork servers are the node pool's: labelled and reaped as
there (an actor killed with SIGKILL closes its servers' channels, so they exit, and
stale containers are removed when the next pool starts).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import socket
import sys
import threading
from collections.abc import Iterable, Iterator

from .pool import Sandbox, WorkerBroken
from .records import ExecRequest, Status, Verdict

MAX_ATTEMPTS = 3
MAX_STARTS_PER_NODE = 3  # a node whose actors keep dying (or that is gone) gets no more
IN_FLIGHT_PER_WORKER = 2
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

    def execute(self, req: ExecRequest) -> Verdict:
        return self.sandbox.execute(req)

    def close(self) -> None:
        self.sandbox.close()


@dataclasses.dataclass
class _Actor:
    node: str
    handle: object
    capacity: int
    ready: object  # the ObjectRef of its describe(); requests go only to actors that answered it
    load: int = 0
    info: dict | None = None


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


def _failures():
    import ray.exceptions as rex

    return (rex.RayActorError, rex.NodeDiedError, rex.WorkerCrashedError, rex.ObjectLostError,
            rex.OwnerDiedError, rex.TaskCancelledError)


class RaySandbox(Sandbox):
    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None, inner: str | None = None,
                 memory_mb: int | None = None) -> None:
        # workers: per node (default: the node's CPUs, all reserved by its actor).
        self.workers = workers
        self.address = address if address is not None else os.environ.get("RAY_ADDRESS")
        self.inner = inner
        self.memory_mb = memory_mb
        self._actors: dict[str, _Actor] = {}
        self._starts: collections.Counter[str] = collections.Counter()
        # `run` keeps the in-flight bound with ray.wait; `execute` may be called from many
        # threads at once (as `run` of the harness does): the actor table is shared.
        self._lock = threading.RLock()
        self.lost = 0  # actors that died while running
        self._started = False
        self._owns_ray = False
        self.size = 0

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
                ray.init(logging_level="ERROR", log_to_driver=False)
            self._owns_ray = True
        self._started = True
        self._ensure_actors()
        infos = self._wait_ready()
        if not self._actors:
            self.close()
            raise WorkerBroken(f"no node of the Ray cluster could start a sandbox: {infos}")
        for a in self._actors.values():
            print(f"codeharness: ray node {a.node[:12]} ({a.info['host']}): {a.info['sandbox']}"
                  + (f" ({a.info['mode']} mode)" if a.info.get("mode") else "") + f", {a.info['workers']} workers",
                  file=sys.stderr)
        return self

    def _ensure_actors(self) -> None:
        """An actor on every alive node with a CPU that has none."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        remote = ray.remote(NodePool)
        for node in ray.nodes():
            cpus = int(node.get("Resources", {}).get("CPU", 0))
            node_id = node["NodeID"]
            if not node.get("Alive") or cpus < 1 or node_id in self._actors \
                    or self._starts[node_id] >= MAX_STARTS_PER_NODE:
                continue
            self._starts[node_id] += 1
            workers = self.workers or cpus
            handle = remote.options(
                num_cpus=min(workers, cpus), max_concurrency=IN_FLIGHT_PER_WORKER * workers + 2, max_restarts=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            ).remote(self.inner, workers, self.memory_mb)
            self._actors[node_id] = _Actor(node_id, handle, IN_FLIGHT_PER_WORKER * workers, handle.describe.remote())
        self.size = sum(a.capacity for a in self._actors.values()) // IN_FLIGHT_PER_WORKER

    def _starting(self) -> dict:
        return {a.ready: a for a in self._actors.values() if a.info is None}

    def _admit(self, ref, problems: dict | None = None) -> None:
        """An actor answered (or failed) its describe(): it serves requests, or is dropped."""
        import ray

        with self._lock:
            actor = self._starting().get(ref)
            if actor is None:
                return
            try:
                actor.info = ray.get(ref)
            except Exception as exc:
                if problems is not None:
                    problems[actor.node[:12]] = " ".join(str(exc).split())[-300:]
                self._drop(actor.node)

    def _wait_ready(self) -> dict:
        import ray

        pending = self._starting()
        problems: dict = {}
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=START_TIMEOUT)
        for ref in pending:
            if ref in ready:
                self._admit(ref, problems)
            else:
                problems[pending[ref].node[:12]] = "did not start in time"
                self._drop(pending[ref].node)
        return problems

    def _drop(self, node: str) -> None:
        import ray

        actor = self._actors.pop(node, None)
        if actor is not None:
            try:
                ray.kill(actor.handle)
            except Exception:
                pass

    def close(self) -> None:
        if not self._started:
            return
        import ray

        closing = [a.handle.close.remote() for a in self._actors.values()]
        if closing:
            ray.wait(closing, num_returns=len(closing), timeout=30)
        for node in list(self._actors):
            self._drop(node)
        if self._owns_ray:
            ray.shutdown()
        self._started = False

    def describe(self) -> dict:
        return {"sandbox": self.name, "address": self.address or "local Ray instance",
                "nodes": [a.info for a in self._actors.values()], "lost_actors": self.lost}

    # ---- execution
    def execute(self, req: ExecRequest) -> Verdict:
        return next(iter(self.run([req])))

    def run(self, requests: Iterable[ExecRequest]) -> Iterator[Verdict]:
        import ray

        self.start()
        failures = _failures()
        todo = iter(requests)
        retry: collections.deque[tuple[ExecRequest, int]] = collections.deque()
        in_flight: dict = {}  # ObjectRef -> (request, attempts so far, node)
        exhausted = False
        try:
            while True:
                while True:
                    if retry:
                        req, attempts = retry[0]
                    elif not exhausted:
                        req = next(todo, None)
                        if req is None:
                            exhausted = True
                            continue
                        retry.append((req, 0))
                        attempts = 0
                    else:
                        break
                    with self._lock:
                        actor = self._least_loaded()
                        if actor is None:
                            break
                        actor.load += 1
                    retry.popleft()
                    in_flight[actor.handle.execute.remote(req)] = (req, attempts, actor)
                with self._lock:
                    starting = self._starting()
                if not in_flight and not starting:
                    if not retry and exhausted:
                        return
                    # Every actor is gone: the requests left fail as the harness's fault.
                    for req, attempts in retry:
                        yield Verdict(Status.SANDBOX_ERROR, "ray: no live sandbox actor", id=req.id,
                                      attempts=attempts)
                    retry.clear()
                    if not exhausted:
                        continue
                    return
                ready, _ = ray.wait(list(in_flight) + list(starting), num_returns=1, timeout=5.0)
                for ref in ready:
                    if ref in starting:
                        self._admit(ref)
                        continue
                    req, attempts, actor = in_flight.pop(ref)
                    with self._lock:
                        actor.load -= 1
                    try:
                        verdict = ray.get(ref)
                    except failures as exc:
                        self._lost(actor)
                        if attempts + 1 >= MAX_ATTEMPTS:
                            yield Verdict(Status.SANDBOX_ERROR, f"ray: {type(exc).__name__} {MAX_ATTEMPTS} times",
                                          id=req.id, attempts=attempts + 1)
                        else:
                            retry.append((req, attempts + 1))
                        continue
                    yield dataclasses.replace(verdict, id=req.id, attempts=verdict.attempts + attempts)
        except BaseException:
            for ref in in_flight:
                ray.cancel(ref, force=False)
            raise

    def _least_loaded(self) -> _Actor | None:
        free = [a for a in self._actors.values() if a.info is not None and a.load < a.capacity]
        return min(free, key=lambda a: a.load / a.capacity) if free else None

    def _lost(self, actor: _Actor) -> None:
        """``actor`` failed: drop it, and start a new one if its node lives."""
        with self._lock:
            if self._actors.get(actor.node) is not actor:  # dropped already (and maybe replaced)
                return
            self.lost += 1
            self._drop(actor.node)
            self._ensure_actors()
