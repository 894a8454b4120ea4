"""The bounded queue in front of the sandbox: at most ``lanes`` requests run, at most
``queue_size`` wait, in arrival order. A request that cannot start in time for its
answer to be useful is refused at once (``Overloaded``, answered 504 with
``Retry-After``: what verl, SandboxFusion's client and ROLL retry), never left to hang.

``prefetch`` calls beyond the lanes run at once: the sandbox holds them and sends each
to a worker while that worker's program runs, so a worker starts the next program the
moment one ends instead of idling until the event loop (busy with HTTP) hands it one.

A call is started, not run: it returns a future the sandbox completes from its own
thread (``Sandbox.submit``), so no thread here waits on it; a thread per call and its
two hand-overs cost the service more CPU per request than the HTTP stack did.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")
EWMA = 0.2  # weight of the newest service time in the running mean: Retry-After follows the load


class Overloaded(Exception):
    """Refused before it ran; ``retry_after``: seconds after which a retry may start."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = max(1, math.ceil(retry_after))


class Admission:
    """Starts calls (``sandbox.submit``), ``lanes + prefetch`` running at once, FIFO."""

    def __init__(self, lanes: int, queue_size: int, prefetch: int = 0) -> None:
        self.lanes = lanes
        self.queue_size = queue_size
        self.depth = lanes + prefetch  # calls at once
        self.running = 0  # calls running: programs running, or next at a worker
        self.closing = False
        self.mean_service = 0.05  # seconds a call takes, running mean; refined as calls finish
        self._waiting: deque[asyncio.Future] = deque()

    @property
    def queued(self) -> int:
        return len(self._waiting)

    def expected_wait(self) -> float:
        """Seconds a request arriving now would wait for a lane."""
        ahead = self.queued + self.running - self.depth + 1
        return max(0, ahead) * self.mean_service / self.depth

    async def run(self, start: Callable[[float], Future[T]], start_by: float | None = None) -> T:
        """The result of ``start(began)``'s future, started once a lane is free
        (``began``: the monotonic time it started). ``start_by``: the monotonic time
        after which starting is pointless; None: it waits as long as it takes.

        Raises:
            Overloaded: the queue is full, or the request could not start by ``start_by``.
        """
        if self.closing:
            raise Overloaded("the server is stopping", 5)
        if start_by is not None and time.monotonic() > start_by:
            raise Overloaded("arrived past its deadline to start", self.expected_wait())
        if self.running >= self.depth or self._waiting:
            if self.queued >= self.queue_size:
                raise Overloaded(f"queue full ({self.queue_size} waiting)", self.expected_wait())
            if start_by is not None and time.monotonic() + self.expected_wait() > start_by:
                raise Overloaded("the queue would hold it past its deadline", self.expected_wait())
            loop = asyncio.get_running_loop()
            waiter = loop.create_future()
            self._waiting.append(waiter)
            # A timer rather than wait_for, which costs a task and a shield per request.
            timer = None if start_by is None else loop.call_later(max(0.0, start_by - time.monotonic()),
                                                                  self._expire, waiter)
            try:
                granted = await waiter
            except asyncio.CancelledError:  # its client is gone
                if waiter.done() and not waiter.cancelled() and waiter.result():
                    self._release()  # granted just as the task was cancelled: pass the lane on
                elif waiter in self._waiting:
                    self._waiting.remove(waiter)
                raise
            finally:
                if timer is not None:
                    timer.cancel()
            if granted is None:
                raise Overloaded("waited in the queue past its deadline", self.expected_wait())
            if not granted:
                raise Overloaded("the server is stopping", 5)
        else:
            self.running += 1
        if self.closing:  # granted a lane, but close() came before this task resumed
            self._release()
            raise Overloaded("the server is stopping", 5)
        began = time.monotonic()
        try:
            call = asyncio.wrap_future(start(began))
        except BaseException:
            self._release()
            raise
        # The lane frees when the call ends, not when its awaiting task is cancelled
        # (a client gone): a program still running is never counted free.
        call.add_done_callback(lambda _: self._finish(began))
        return await asyncio.shield(call)

    def _finish(self, began: float) -> None:
        self.mean_service += EWMA * (time.monotonic() - began - self.mean_service)
        self._release()

    def _expire(self, waiter: asyncio.Future) -> None:
        """``start_by`` passed while ``waiter`` was still in the queue."""
        if not waiter.done():
            self._waiting.remove(waiter)
            waiter.set_result(None)

    def _release(self) -> None:
        """Hand the lane to the next live waiter, or free it."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(True)  # the lane passes on: running stays the same
                return
        self.running -= 1

    def close(self) -> None:
        """Refuse what waits and what comes; running calls finish (the sandbox's close
        ends them)."""
        self.closing = True
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(False)
