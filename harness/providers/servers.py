"""Several servers of one model (vLLM / llama.cpp / SGLang replicas): each request goes
to the healthy server with the fewest requests in flight; a server that fails (cannot
be reached, times out, answers 5xx or 429 after its own retries) is taken out for a
while and the request is tried on the others. Only when every server has failed the
same request does the failure reach the caller."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

COOLDOWN_S = 30.0  # a failed server gets no requests for this long, then is tried again


@dataclass
class Server:
    url: str
    client: Any
    in_flight: int = 0
    requests: int = 0
    failures: int = 0
    down_until: float = 0.0

    def stats(self) -> dict:
        return {"requests": self.requests, "failed": self.failures}


class ServerSet:
    def __init__(self, servers: list[Server], retryable: tuple[type[BaseException], ...],
                 cooldown: float = COOLDOWN_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.servers = servers
        self.retryable = retryable
        self.cooldown = cooldown
        self.clock = clock

    def pick(self, exclude: set[str]) -> Server | None:
        """Fewest in flight among those up; if all are down, the one back soonest."""
        now = self.clock()
        candidates = [s for s in self.servers if s.url not in exclude]
        up = [s for s in candidates if s.down_until <= now]
        if up:
            return min(up, key=lambda s: (s.in_flight, s.requests))
        return min(candidates, key=lambda s: s.down_until) if candidates else None

    def mark_down(self, server: Server) -> None:
        server.failures += 1
        server.down_until = self.clock() + self.cooldown

    async def call(self, fn: Callable[[Any], Awaitable[Any]]) -> tuple[Any, Server]:
        """``fn(client)`` on one server after another until one answers: (answer, server)."""
        tried: set[str] = set()
        last: BaseException | None = None
        while (server := self.pick(tried)) is not None:
            tried.add(server.url)
            server.in_flight += 1
            server.requests += 1
            try:
                return await fn(server.client), server
            except self.retryable as exc:
                self.mark_down(server)
                last = exc
            finally:
                server.in_flight -= 1
        assert last is not None  # a set has at least one server
        raise last

    def stats(self) -> dict[str, dict]:
        return {s.url: s.stats() for s in self.servers}
