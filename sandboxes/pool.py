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
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout  # not the builtin before 3.11
from pathlib import Path

from .base import Sandbox, WorkerBroken
from .records import NOT_STARTED, START_SLACK, ExecRequest, Status, Verdict

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
PIPELINE = 2  # requests a worker holds: the one running and the next
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
            self.connected()
            self.info = json.loads(self.channel.readline(START_TIMEOUT))
        except (WorkerBroken, OSError) as exc:
            raise WorkerBroken(f"fork server did not start: {exc}; {self.diagnostics()}") from None
        if not self.info.get("ready"):
            raise WorkerBroken(f"unexpected greeting from fork server: {self.info!r}")

    def request(self, req: ExecRequest) -> Verdict:
        self.send(req.to_wire())
        return self.receive(req)

    def send(self, wire: dict) -> None:
        try:
            self.channel.send(json.dumps(wire).encode() + b"\n")
        except (OSError, ValueError) as exc:  # ValueError: pipe already closed
            raise WorkerBroken(f"cannot send to fork server: {exc}") from None

    def receive(self, req: ExecRequest) -> Verdict:
        """The verdict of ``req``, the oldest request sent and not answered: it has
        started by the time the one before it was answered."""
        runs = len(req.cases) if req.cases else 1  # each case runs under its own limit
        line = self.channel.readline(req.limits.wall_ceiling * runs + GRACE_SECONDS * runs ** 0.5)
        try:
            return Verdict.from_wire(json.loads(line), id=req.id)
        except (ValueError, KeyError, TypeError) as exc:
            raise WorkerBroken(f"garbled answer from fork server: {exc}") from None

    def connected(self) -> None:
        """The server has its modules: switch ``channel`` here if it answers on another."""
        return None

    def diagnostics(self) -> str:
        return ""

    @abstractmethod
    def close(self) -> None:
        """Stop the worker and release everything it holds; idempotent."""


class WorkerPool(Sandbox):
    """A pool of warm fork-server workers on this machine."""

    def __init__(self, workers: int | None = None) -> None:
        self.size = workers or os.cpu_count() or 1
        self._inbox: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._waiting_lanes = 0  # lanes with nothing in flight, waiting for a request
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
        if errors:
            for fut in futures:
                if not fut.exception():
                    self._discard(fut.result())
            self.close()
            raise errors[0]
        for i, fut in enumerate(futures):
            threading.Thread(target=self._lane, args=(fut.result(),), daemon=True,
                             name=f"sandbox-{self.name}-{i}").start()
        self._started = True
        return self

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._all = list(self._all), set()
        for w in workers:
            w.close()
        for _ in range(self.size):
            self._inbox.put(_STOP)

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
    def submit(self, req: ExecRequest) -> Future[Verdict]:
        """Start one request; safe from many threads at once. A harness failure
        (``sandbox_error``: the worker died, hung or reported one) retires that worker
        and is retried once on a fresh one. ``limits.ceiling`` counts from this call."""
        future: Future[Verdict] = Future()
        self._submit(req, lambda job: _settle(future, job.result))
        return future

    def execute(self, req: ExecRequest) -> Verdict:
        future = self.submit(req)
        while True:
            try:
                return future.result(1.0)
            except FutureTimeout:
                if self._closed:  # a lane that died would never answer it
                    try:
                        return future.result(GRACE_SECONDS)
                    except FutureTimeout:
                        raise WorkerBroken("sandbox closed") from None

    def run(self, requests: Iterable[ExecRequest]) -> Iterator[Verdict]:
        """Verdicts in completion order. As many requests again as the workers hold wait
        in the pool, so a lane finds the next one to send ahead the moment it looks."""
        outbox: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        pending = 0

        def take() -> Verdict:
            nonlocal pending
            while True:
                try:
                    job = outbox.get(timeout=1.0)
                    break
                except queue.Empty:
                    if self._closed:
                        raise WorkerBroken("sandbox closed") from None
            pending -= 1
            return job.outcome()

        try:
            for req in requests:
                self._submit(req, outbox.put)
                pending += 1
                if pending >= 2 * PIPELINE * self.size:
                    yield take()
            while pending:
                yield take()
        except BaseException:
            # Ctrl-C or an abandoned iterator: stop the workers now, so the lanes blocked
            # on them return at once instead of after the programs' timeouts.
            self.close()
            raise

    def _submit(self, req: ExecRequest, then) -> None:
        self.start()
        job = _Job(req, time.monotonic(), then)
        # Under the lock that close() sets _closed under: a job is either refused here or
        # queued ahead of the lanes' stop signals, so a lane answers it.
        with self._lock:
            if self._closed:
                raise WorkerBroken("sandbox closed")
            self._inbox.put(job)

    def _lane(self, w: Worker | None) -> None:
        """One worker's thread. It sends the next request before the answer to the one
        running is back (``PIPELINE`` in flight), so the worker does not wait for this
        process between programs; answers come back in the order sent."""
        flight: deque[_Job] = deque()  # sent to ``w``, oldest first
        backlog: deque[_Job] = deque()  # to send before anything new: what a broken worker held
        stopping = False
        while True:
            while len(flight) < PIPELINE:
                if backlog:
                    job = backlog.popleft()
                elif stopping:
                    break
                else:
                    # A second request only when every idle lane has one to take: one sent
                    # ahead here waits behind this worker's program, however long it runs.
                    if flight and self._inbox.qsize() <= self._waiting_lanes:
                        break
                    job = self._take(block=not flight)
                    if job is None:
                        break
                    if job is _STOP:
                        stopping = True
                        continue
                if self._closed:
                    job.finish(WorkerBroken("sandbox closed"))
                    continue
                if w is None:
                    try:
                        w = self._new_worker()
                    except Exception as exc:  # the next request tries again
                        job.finish(WorkerBroken("sandbox closed") if self._closed else exc)
                        continue
                wire = self._wire(job)
                if wire is None:
                    continue
                job.attempts += 1
                flight.append(job)
                try:
                    w.send(wire)
                except WorkerBroken:
                    break  # receiving tells the oldest in flight
            if not flight:
                if stopping:
                    return
                continue
            job = flight[0]
            try:
                verdict = w.receive(job.req)
            except Exception as exc:  # WorkerBroken, or anything else that broke the exchange
                verdict = Verdict(Status.SANDBOX_ERROR, f"{exc.__class__.__name__}: {exc}")
            flight.popleft()
            if verdict.status is Status.SANDBOX_ERROR and verdict.detail != NOT_STARTED:
                self._discard(w)
                w = None
                if job.attempts < 2 and not self._closed:
                    backlog.appendleft(job)
                else:
                    job.finish(WorkerBroken("sandbox closed") if self._closed else verdict)
                backlog.extend(flight)  # after the failed one, in the order they came
                flight.clear()
                continue
            job.finish(verdict)

    def _take(self, block: bool) -> _Job | object | None:
        if not block:
            try:
                return self._inbox.get(block=False)
            except queue.Empty:
                return None
        with self._lock:
            self._waiting_lanes += 1
        try:
            return self._inbox.get()
        finally:
            with self._lock:
                self._waiting_lanes -= 1

    @staticmethod
    def _wire(job: _Job) -> dict | None:
        """What is sent for ``job``, its ceiling and ``start_within`` what is left of
        them; None (and the job answered) when it can no longer start in time or run
        its course."""
        wire = job.req.to_wire()
        waited = time.monotonic() - job.called
        ceiling, start_within = job.req.limits.ceiling, job.req.start_within
        if (start_within is not None and waited > start_within
                or ceiling is not None and ceiling - waited < min(job.req.limits.wall_cap, ceiling) - START_SLACK):
            job.finish(Verdict(Status.SANDBOX_ERROR, NOT_STARTED))
            return None
        if ceiling is not None:
            wire["limits"]["ceiling"] = wire["limits"]["wall_ceiling"] = ceiling - waited
        if start_within is not None:
            wire["start_within"] = start_within - waited
        return wire


_STOP = object()  # a lane's signal to end


def _settle(future: Future, result: Verdict | BaseException) -> None:
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


class _Job:
    """A request on its way through a lane, and its outcome once ``finish`` ran."""

    def __init__(self, req: ExecRequest, called: float, then) -> None:
        self.req, self.called, self.then = req, called, then
        self.attempts = 0
        self.result: Verdict | BaseException | None = None

    def finish(self, result: Verdict | BaseException) -> None:
        attempts = max(1, self.attempts)
        # A copy only when something changes (a retry, a verdict made here): on the host's
        # side of every program, dataclasses.replace was ~5 % of its CPU.
        if isinstance(result, Verdict) and (result.id != self.req.id or result.attempts != attempts):
            result = dataclasses.replace(result, id=self.req.id, attempts=attempts)
        self.result = result
        self.then(self)

    def outcome(self) -> Verdict:
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


_LIVE: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for sb in list(_LIVE):
        sb.close()
