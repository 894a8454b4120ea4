"""A pool of warm fork-server workers behind the ``Sandbox`` contract (``base``).

Concrete sandboxes only say how to start one worker (a container, a namespaced host
process); the pool owns concurrency, deadlines, retry of ``sandbox_error`` on a fresh
worker, and shutdown on exit, Ctrl-C or error.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import queue
import select
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .base import Sandbox, WorkerBroken
from .records import ExecRequest, Status, Verdict

# The server's modules arrive as the first line on its stdin, [[name, source], ...,
# [main name, main source]], so they need no file inside the image or namespace,
# never go stale there, and `ps` shows a short command line.
FORK_SERVER_MODULES = ("judge", "namespaces", "forkchild", "forkreap", "forkwatch", "forkserver")
SERVER_MODULES = [[name, (Path(__file__).parent / f"{name}.py").read_text()] for name in FORK_SERVER_MODULES]
BOOTSTRAP = ["python3", "-I", "-c",  # with site: distro packages (sortedcontainers) import
             "import sys,json,types\n"
             "*mods,(name,src)=json.loads(sys.stdin.buffer.readline())\n"
             "for n,s in mods:\n"
             " m=types.ModuleType(n);exec(compile(s,n,'exec'),vars(m));sys.modules[n]=m\n"
             "exec(compile(src,name,'exec'))"]
# Time the worker may take beyond the program's own wall-clock cap (fork, cleanup, I/O).
GRACE_SECONDS = 10.0
START_TIMEOUT = 60.0


class Channel(ABC):
    """A duplex byte stream to one fork server, read line by line with a deadline."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._poll: tuple[int, select.poll] | None = None  # (fd, its poller): made once, not per line

    @abstractmethod
    def fileno(self) -> int: ...

    @abstractmethod
    def _recv(self) -> bytes:
        """Bytes of the server's stdout now readable (maybe none yet, e.g. half a
        frame); raises WorkerBroken at end of stream."""

    @abstractmethod
    def send(self, data: bytes) -> None: ...

    def readline(self, timeout: float) -> bytes:
        try:
            return self._readline(timeout)
        except (OSError, ValueError) as exc:  # closed under us by a shutdown
            raise WorkerBroken(f"channel closed: {exc}") from None

    def _readline(self, timeout: float) -> bytes:
        fd = self.fileno()
        if fd < 0:
            raise ValueError("closed")
        if self._poll is None or self._poll[0] != fd:
            self._poll = (fd, select.poll())
            self._poll[1].register(fd, select.POLLIN)
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self._poll[1].poll(left * 1000):
                raise WorkerBroken(f"no answer within {timeout:.0f} s")
            self._buf += self._recv()
        line, _, rest = bytes(self._buf).partition(b"\n")
        self._buf = bytearray(rest)
        return line


class Worker(ABC):
    """One fork server: a process speaking the line protocol over a ``Channel``."""

    channel: Channel
    info: dict

    def handshake(self) -> None:
        try:
            self.channel.send(json.dumps(SERVER_MODULES).encode() + b"\n")
            self.info = json.loads(self.channel.readline(START_TIMEOUT))
        except (WorkerBroken, OSError) as exc:
            raise WorkerBroken(f"fork server did not start: {exc}; {self.diagnostics()}") from None
        if not self.info.get("ready"):
            raise WorkerBroken(f"unexpected greeting from fork server: {self.info!r}")

    def request(self, req: ExecRequest) -> Verdict:
        try:
            self.channel.send(json.dumps(req.to_wire()).encode() + b"\n")
        except (OSError, ValueError) as exc:  # ValueError: pipe already closed
            raise WorkerBroken(f"cannot send to fork server: {exc}") from None
        runs = len(req.cases) if req.cases else 1  # each case runs under its own limit
        line = self.channel.readline(req.limits.wall_ceiling * runs + GRACE_SECONDS * runs ** 0.5)
        try:
            return Verdict.from_wire(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            raise WorkerBroken(f"garbled answer from fork server: {exc}") from None

    def diagnostics(self) -> str:
        return ""

    @abstractmethod
    def close(self) -> None:
        """Stop the worker and release everything it holds; idempotent."""


class WorkerPool(Sandbox):
    """A pool of warm fork-server workers on this machine."""

    def __init__(self, workers: int | None = None) -> None:
        self.size = workers or os.cpu_count() or 1
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._all: set[Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._started = False
        _LIVE.add(self)

    # ---- subclass hooks
    @abstractmethod
    def _spawn(self) -> Worker:
        """Start one worker and complete its handshake."""

    @abstractmethod
    def _prepare(self) -> None:
        """Once before the first worker starts (checks, image lookup, reaping)."""

    # ---- lifecycle
    def start(self) -> Sandbox:
        if self._started:
            return self
        self._prepare()
        with ThreadPoolExecutor(self.size) as ex:
            futures = [ex.submit(self._new_worker) for _ in range(self.size)]
            errors = [f.exception() for f in futures if f.exception()]
        for fut in futures:
            if not fut.exception():
                self._idle.put(fut.result())
        if errors:
            self.close()
            raise errors[0]
        self._started = True
        return self

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._all = list(self._all), set()
        for w in workers:
            w.close()

    def _new_worker(self) -> Worker:
        w = self._spawn()
        with self._lock:
            if self._closed:
                w.close()
                raise WorkerBroken("sandbox closed")
            self._all.add(w)
        return w

    def _discard(self, w: Worker) -> None:
        with self._lock:
            self._all.discard(w)
        w.close()

    # ---- execution
    def execute(self, req: ExecRequest) -> Verdict:
        """Run one request. A harness failure (``sandbox_error``: the worker died, hung
        or reported one) retires that worker and is retried once on a fresh one."""
        self.start()
        verdict = None
        attempts = 0
        while attempts < 2:
            attempts += 1
            if self._closed:
                raise WorkerBroken("sandbox closed")
            w = self._idle.get()
            try:
                verdict = w.request(req)
            except Exception as exc:  # WorkerBroken, or anything else that broke the exchange
                verdict = Verdict(Status.SANDBOX_ERROR, f"{exc.__class__.__name__}: {exc}", id=req.id)
            if verdict.status is Status.SANDBOX_ERROR:
                self._discard(w)
                w = self._replacement()
            if w is not None:
                self._idle.put(w)
            if verdict.status is not Status.SANDBOX_ERROR:
                break
        return dataclasses.replace(verdict, id=req.id, attempts=attempts)

    def _replacement(self) -> Worker | None:
        if self._closed:
            return None
        try:
            return self._new_worker()
        except Exception:
            if self._closed:
                return None
            raise

    def run(self, requests: Iterable[ExecRequest]) -> Iterator[Verdict]:
        """Verdicts in completion order, at most two requests a worker in flight. One
        thread a worker, fed through queues: futures and ``wait`` cost the host more
        CPU per program than the rest of the exchange."""
        self.start()
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        outbox: queue.SimpleQueue = queue.SimpleQueue()

        def lane() -> None:
            while (req := inbox.get()) is not _END:
                try:
                    outbox.put(self.execute(req))
                except BaseException as exc:  # the consumer raises it
                    outbox.put(_Raised(exc))

        lanes = [threading.Thread(target=lane, name=f"sandbox-{self.name}-{i}", daemon=True)
                 for i in range(self.size)]
        for t in lanes:
            t.start()
        pending = 0

        def take() -> Verdict:
            nonlocal pending
            item = outbox.get()
            pending -= 1
            if isinstance(item, _Raised):
                raise item.exc
            return item

        try:
            for req in requests:
                inbox.put(req)
                pending += 1
                if pending >= 2 * self.size:
                    yield take()
            while pending:
                yield take()
        except BaseException:
            # Ctrl-C or an abandoned iterator: stop the workers now, so the lanes blocked
            # on them return at once instead of after the programs' timeouts.
            self.close()
            raise
        finally:
            for _ in lanes:
                inbox.put(_END)
            for t in lanes:
                t.join()


_END = object()  # no more requests for a lane


@dataclasses.dataclass(frozen=True)
class _Raised:
    exc: BaseException


_LIVE: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for sb in list(_LIVE):
        sb.close()
