"""``ray`` sandbox: the warm pools of every node of a Ray cluster behind one ``Sandbox``.

As verl and agentic-ray keep warm sandboxes on Ray: one long-lived actor per alive
node (hard node-affinity scheduling), reserving the CPUs its pool uses so Ray never
oversubscribes the node, owning that node's pool (``docker`` when the node has a
daemon and the image, else ``local``; each node reports its choice). The driver keeps
a bounded number of requests in flight per actor with ``ray.wait``, in batches (one
Ray call per batch: the driver's CPU per verdict stays small) whose small ``Verdict``
records stream back in chunks as they finish, and moves requests not started yet from a
busy node to an idle one (``ray_dispatch``); the caller (``run``) stays the only writer
of its store.

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

import collections
import dataclasses
import os
import pickle
import queue
import secrets
import socket
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future

from .base import Sandbox, WorkerBroken, get_sandbox
from .ray_dispatch import Source, dispatch
from .ray_fleet import Fleet
from .records import ExecRequest, Verdict

START_TIMEOUT = 300.0


# A call holds verdicts back until it has this many per worker of its node (half a batch:
# each chunk it yields costs the driver ~0.5 ms, a Ray object), or the node's queue is empty
# (a worker is about to idle: the driver must know, to give it work), or it lost some to a steal.
CHUNK_PER_WORKER = 32


class _Call:
    """One ``execute_batch`` on the node: its requests not answered (or stolen) yet, and
    what it has to say since it last yielded."""

    def __init__(self, requests: int) -> None:
        self.left, self.done, self.stolen = requests, [], []


class NodePool:
    """The actor: one node's warm pool. Its workers take the requests of every call in the
    order they came; those not started yet can be taken back (``steal``) for another node."""

    def __init__(self, inner: str | None, workers: int, memory_mb: int | None) -> None:
        self.sandbox = get_sandbox(inner, workers=workers, memory_mb=memory_mb)
        self.sandbox.start()
        self._cond = threading.Condition()
        self._queue: collections.deque = collections.deque()  # (call, index, request), not started
        self._closed = False
        # One thread per worker of the pool, each taking one request at a time: the rest wait
        # here, not inside the pool, so that a steal can still take them back.
        for i in range(self.sandbox.size):
            threading.Thread(target=self._work, daemon=True, name=f"node-pool-{i}").start()

    def describe(self) -> dict:
        import ray

        ctx = ray.get_runtime_context()
        return {"node": ctx.get_node_id(), "host": socket.gethostname(), "pid": os.getpid(),
                "workers": self.sandbox.size, **self.sandbox.describe()}

    def _work(self) -> None:
        while True:
            with self._cond:
                while not (self._queue or self._closed):
                    self._cond.wait()
                if self._closed:
                    return
                call, index, req = self._queue.popleft()
            try:
                answer = self.sandbox.execute(req)
            except Exception as exc:  # the pool broke: its call raises it (the driver replaces the actor)
                answer = exc
            with self._cond:
                call.done.append((index, answer))
                call.left -= 1
                self._cond.notify_all()

    def execute_batch(self, blob: bytes) -> Iterator[bytes]:
        """Called as a Ray streaming generator: ``chunks`` of the pickled batch, each
        pickled. One C-level pickle per batch and per chunk, not Ray's serializer, which
        calls back into Python for every request of a list (msgpack's hook, cloudpickle's
        ``reducer_override``): a third of the driver's Python time per verdict
        (docs/scale-out.md)."""
        for chunk in self.chunks(pickle.loads(blob)):
            yield pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL)

    def chunks(self, reqs: list[ExecRequest]) -> Iterator[tuple[list[tuple[int, Verdict]], list[int]]]:
        """(index, verdict) of ``reqs`` as they finish, with the indexes stolen since the
        last chunk (see ``CHUNK_PER_WORKER``)."""
        call, chunk = _Call(len(reqs)), CHUNK_PER_WORKER * self.sandbox.size
        with self._cond:
            self._queue.extend((call, i, r) for i, r in enumerate(reqs))
            self._cond.notify_all()
        while True:
            with self._cond:
                while not (call.left == 0 or call.stolen or len(call.done) >= chunk or self._closed
                           or call.done and not self._queue):
                    self._cond.wait()
                done, stolen, call.done, call.stolen = call.done, call.stolen, [], []
                last = call.left == 0 or self._closed
            broke = [answer for _, answer in done if isinstance(answer, Exception)]
            if len(broke) < len(done) or stolen:
                yield [(i, v) for i, v in done if not isinstance(v, Exception)], stolen
            if broke:
                raise broke[0]
            if last:
                return

    def steal(self, n: int) -> int:
        """Take back up to ``n`` requests not started yet, the last queued first (the
        node would have run them last); each call names its own in its next chunk. How
        many were taken."""
        with self._cond:
            taken = min(n, len(self._queue))
            for _ in range(taken):
                call, index, _ = self._queue.pop()
                call.stolen.append(index)
                call.left -= 1
            self._cond.notify_all()
        return taken

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.sandbox.close()


def _with_id(verdict: Verdict, id_: str) -> Verdict:
    """``verdict`` with ``id_``: the node's pool has set it already, but for verdicts the
    driver makes itself (an actor lost); copying every one costs the driver ~10-30 us each."""
    return verdict if verdict.id == id_ else dataclasses.replace(verdict, id=id_)


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


def connect(address: str) -> None:
    """``ray.init`` to the cluster at ``address``. Ray retries a refused connection for
    about 20 s with a log line a second from its C++ core, then raises a 40-line chain
    saying "Failed to connect": that log is held back (fd 2 goes to a file meanwhile;
    given back on success) and a failure is one line, naming the cause and the fix when
    it is Ray's token authentication."""
    import ray

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
            failure = None
        except Exception as exc:  # whatever Ray raises, said in one line below
            failure = exc
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        said = log.read().decode(errors="replace")
    if failure is None:
        sys.stderr.write(said)
        return
    chain, exc = [], failure
    while exc is not None and len(chain) < 20:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    if any(type(e).__name__ == "AuthenticationError" for e in chain) or "InvalidAuthToken" in said:
        raise WorkerBroken(auth_problem(address)) from None
    raise WorkerBroken(f"cannot connect to the Ray cluster at {address}: {type(failure).__name__}: "
                       + " ".join(str(failure).split())) from None


def auth_problem(address: str) -> str:
    """What to do when the cluster's token authentication refused this driver."""
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        why = "this driver's (~/.ray/auth_token, RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH) is missing or another"
    else:
        why = "this driver sends none (RAY_AUTH_MODE is not 'token')"
    return (f"the Ray cluster at {address} requires an authentication token and {why}: export RAY_AUTH_MODE=token "
            "with the cluster's token in ~/.ray/auth_token (or RAY_AUTH_TOKEN), or start every node with "
            "RAY_AUTH_MODE=disabled exported (README: Large jobs)")


def start_local() -> None:
    """A new Ray instance of this process. Ray 2.60 gives it token authentication and,
    without a token, writes one to ~/.ray/auth_token, whose mere presence then turns
    token authentication on for every later `ray start --head` on the machine (and the
    README's cluster refuses the nodes and drivers without it). A token of this process
    alone, in its environment (the instance's processes inherit it), writes nothing."""
    import ray

    if "RAY_AUTH_MODE" not in os.environ:
        from ray._raylet import Config

        os.environ["RAY_AUTH_MODE"] = "token"
        if not {"RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"} & set(os.environ):
            os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(16)
        Config.initialize("")  # Ray read its settings at import: again, as Ray's own switch to token auth does
    # "local": a new instance, as said, never the cluster a `ray start` here left behind.
    ray.init(address="local", logging_level="ERROR", log_to_driver=False)


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

    @classmethod
    def from_options(cls, workers: int | None = None, memory_mb: int | None = None) -> RaySandbox:
        """Each node's pool sizes its own containers for ``memory_mb``."""
        return cls(workers=workers, memory_mb=memory_mb)

    @classmethod
    def identity(cls) -> str:
        """Only the name: each node chooses Docker or local itself."""
        return cls.name

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
                connect(self.address)
            else:
                print("codeharness: no --ray-address and no RAY_ADDRESS: starting a local Ray instance",
                      file=sys.stderr)
                start_local()
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
            yield _with_id(verdict, originals.pop(key))

    def submit(self, req: ExecRequest) -> Future[Verdict]:
        """Safe from many threads at once (``run`` of the harness calls ``execute`` so):
        one dispatcher thread collects the requests and sends them in batches."""
        self.start()
        done: Future = Future()
        with self._lock:
            if self._dispatcher is None or not self._dispatcher.is_alive():
                self._dispatcher = threading.Thread(target=self._serve_queue, daemon=True,
                                                    name="ray-sandbox-dispatch")
                self._dispatcher.start()
            self._queue.put((req, done))
        return done

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
                done.set_result(_with_id(verdict, req.id))
        except BaseException as exc:
            for _, done in waiting.values():
                done.set_exception(exc)
