"""The bounded queue in front of the sandbox: at most ``lanes`` requests run, at most
``queue_size`` wait, in arrival order. A request that cannot start in time for its
answer to be useful is refused at once (``Overloaded``, answered 504 with
``Retry-After``: what verl, SandboxFusion's client and ROLL retry), never left to hang.

``prefetch`` requests beyond the lanes are handed to the lanes' threads ahead of time:
a lane whose program ends takes the next one at once, from its own thread, instead of
idling until the event loop (busy with HTTP) hands it one; what a request waits for
there counts against its deadline as the queue's wait does.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
    """Runs blocking calls (``sandbox.execute``) on ``lanes`` threads, FIFO."""

    def __init__(self, lanes: int, queue_size: int, prefetch: int = 0) -> None:
        self.lanes = lanes
        self.queue_size = queue_size
        self.depth = lanes + prefetch  # requests handed to the lanes' threads at most
        self.running = 0  # requests handed to the lanes' threads: running, or next at a lane
        self.closing = False
        self.mean_service = 0.05  # seconds a lane is held, running mean; refined as requests finish
        self._waiting: deque[asyncio.Future] = deque()
        self._pool = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="lane")

    @property
    def queued(self) -> int:
        return len(self._waiting)

    def expected_wait(self) -> float:
        """Seconds a request arriving now would wait for a lane."""
        ahead = self.queued + self.running - self.lanes + 1
        return max(0, ahead) * self.mean_service / self.lanes

    async def run(self, fn: Callable[[float], T], start_by: float | None = None) -> T:
        """``fn(began)`` on a lane once one is free (``began``: the monotonic time it
        started). ``start_by``: the monotonic time after which starting is pointless;
        None: it waits as long as it takes.

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
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                if start_by is None:
                    await waiter
                else:
                    await asyncio.wait_for(asyncio.shield(waiter), max(0.0, start_by - time.monotonic()))
            except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
                if waiter.done() and not waiter.cancelled() and waiter.result():
                    self._release()  # granted just as we gave up: pass the lane on
                elif waiter in self._waiting:  # cancelled with its task, or not woken yet
                    waiter.cancel()
                    self._waiting.remove(waiter)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise Overloaded("waited in the queue past its deadline", self.expected_wait()) from None
            if not waiter.result():  # woken by close()
                raise Overloaded("the server is stopping", 5)
        else:
            self.running += 1
        try:
            call = asyncio.get_running_loop().run_in_executor(self._pool, _on_lane, fn, start_by)
        except RuntimeError:  # close() shut the pool between the grant and now
            self._release()
            raise Overloaded("the server is stopping", 5) from None
        # The lane frees when the call ends, not when its awaiting task is cancelled
        # (a client gone): a lane's thread still running is never counted free.
        call.add_done_callback(self._finish)
        try:
            result, _ = await asyncio.shield(call)
        except asyncio.CancelledError:
            if call.cancelled() and self.closing:  # close() dropped it before a lane took it
                raise Overloaded("the server is stopping", 5) from None
            raise
        if result is _LATE:
            raise Overloaded("waited for a lane past its deadline", self.expected_wait())
        return result

    def _finish(self, call: asyncio.Future) -> None:
        if not call.cancelled() and call.exception() is None:
            result, seconds = call.result()
            if result is not _LATE:
                self.mean_service += EWMA * (seconds - self.mean_service)
        self._release()

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
        self._pool.shutdown(wait=False, cancel_futures=True)


_LATE = object()  # a lane took the request past its deadline to start: not run


def _on_lane(fn: Callable[[float], T], start_by: float | None) -> tuple[T | object, float]:
    """On a lane's thread: ``fn(began)`` and the seconds it held the lane, or ``_LATE``."""
    began = time.monotonic()
    if start_by is not None and began > start_by:
        return _LATE, 0.0
    return fn(began), time.monotonic() - began
