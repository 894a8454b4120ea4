"""``ray`` sandbox: the warm pools of every node of a Ray cluster behind one ``Sandbox``.

As verl and agentic-ray keep warm sandboxes on Ray: one long-lived actor per alive
node (hard node-affinity scheduling), reserving the CPUs its pool uses so Ray never
oversubscribes the node, owning that node's pool (``docker`` when the node has a
daemon and the image, else ``local``; each node reports its choice). The driver keeps
a bounded number of requests in flight per actor with ``ray.wait``, in batches (one
Ray call per batch: the driver's CPU per verdict stays small), and gets small
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
import queue
import socket
import sys
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future

from .pool import Sandbox, WorkerBroken
from .records import ExecRequest, Status, Verdict

MAX_ATTEMPTS = 3
# Requests per actor call, per worker of its node, and calls in flight per actor: Ray's
# cost per call (~0.5 ms of driver CPU) is paid once per batch, and the node's pool
# always has the next batch queued.
BATCH_PER_WORKER = 64
BATCHES_IN_FLIGHT = 2
MAX_STARTS_PER_NODE = 3  # a node whose actors keep dying (or that is gone) gets no more
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


class _Source:
    """Where the dispatcher gets requests: ``take(n, block)`` gives up to ``n`` (waiting
    for the first only when ``block``); ``done`` once it has no more. A ``finite`` one
    (an iterable) is done when it gives fewer than asked; a queue says so itself.
    ``poll``: how often to come back for new requests while programs run."""

    def __init__(self, take, finite: bool, poll: float) -> None:
        self._take, self.finite, self.poll, self.done = take, finite, poll, False

    def take(self, n: int, block: bool) -> list[tuple[str, ExecRequest]]:
        out = self._take(n, block)
        if self.finite and len(out) < n:
            self.done = True
        return out


@dataclasses.dataclass
class _Actor:
    node: str
    handle: object
    capacity: int
    ready: object  # the ObjectRef of its describe(); requests go only to actors that answered it
    batch: int = 1  # requests per call
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
        self._queue: queue.Queue = queue.Queue()
        self._dispatcher: threading.Thread | None = None
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
            batch = BATCH_PER_WORKER * workers
            handle = remote.options(
                num_cpus=min(workers, cpus), max_concurrency=BATCHES_IN_FLIGHT + 2, max_restarts=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            ).remote(self.inner, workers, self.memory_mb)
            self._actors[node_id] = _Actor(node_id, handle, BATCHES_IN_FLIGHT * batch, handle.describe.remote(),
                                           batch)
        # Requests in flight over the cluster: what a caller calling `execute` from
        # threads (the harness's run) should keep coming.
        self.size = sum(a.capacity for a in self._actors.values())

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

        if self._dispatcher is not None:
            self._queue.put(None)
            self._dispatcher.join(timeout=60)
            self._dispatcher = None

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

        for key, verdict in self._dispatch(_Source(take, finite=True, poll=5.0)):
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

        source = _Source(take, finite=False, poll=0.02)
        try:
            for key, verdict in self._dispatch(source):
                req, done = waiting.pop(key)
                done.set_result(dataclasses.replace(verdict, id=req.id))
        except BaseException as exc:
            for _, done in waiting.values():
                done.set_exception(exc)

    def _dispatch(self, source: _Source) -> Iterator[tuple[str, Verdict]]:
        """(key, verdict) of every request ``source`` gives, each exactly once: batches
        to the least loaded live actors, resubmitting those of an actor that died."""
        import ray

        failures = _failures()
        retry: collections.deque[tuple[str, ExecRequest, int]] = collections.deque()
        in_flight: dict = {}  # ObjectRef -> ([(key, request, attempts so far)], actor)
        try:
            while True:
                while True:  # every actor with room gets a batch
                    with self._lock:
                        actor = self._least_loaded()
                    if actor is None:
                        break
                    room = min(actor.capacity - actor.load, actor.batch)
                    batch = [retry.popleft() for _ in range(min(room, len(retry)))]
                    if len(batch) < room and not source.done:
                        idle = not (in_flight or batch)
                        batch += [(k, r, 0) for k, r in source.take(room - len(batch), idle)]
                    if not batch:
                        break
                    with self._lock:
                        actor.load += len(batch)
                    in_flight[actor.handle.execute_batch.remote([r for _, r, _ in batch])] = (batch, actor)
                with self._lock:
                    starting = self._starting()
                    alive = bool(self._actors)
                if not in_flight and not starting:
                    if source.done and not retry:
                        return
                    if not alive:  # every actor is gone: what is left fails as the harness's fault
                        left = list(retry) + [(k, r, 0) for k, r in source.take(1 << 20, True)]
                        retry.clear()
                        for key, _, attempts in left:
                            yield key, Verdict(Status.SANDBOX_ERROR, "ray: no live sandbox actor", attempts=attempts)
                    continue
                ready, _ = ray.wait(list(in_flight) + list(starting), num_returns=1, timeout=source.poll)
                for ref in ready:
                    if ref in starting:
                        self._admit(ref)
                        continue
                    batch, actor = in_flight.pop(ref)
                    with self._lock:
                        actor.load -= len(batch)
                    try:
                        verdicts = ray.get(ref)
                    except failures as exc:
                        self._lost(actor)
                        for key, req, attempts in batch:
                            if attempts + 1 >= MAX_ATTEMPTS:
                                yield key, Verdict(Status.SANDBOX_ERROR,
                                                   f"ray: {type(exc).__name__} {MAX_ATTEMPTS} times",
                                                   attempts=attempts + 1)
                            else:
                                retry.append((key, req, attempts + 1))
                        continue
                    for (key, _, attempts), verdict in zip(batch, verdicts, strict=True):
                        yield key, dataclasses.replace(verdict, attempts=verdict.attempts + attempts)
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
