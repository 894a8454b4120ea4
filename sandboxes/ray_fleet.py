"""The actors of the ``ray`` sandbox: one per alive node, started, admitted, dropped
and replaced; what each has in flight (``ray_dispatch`` decides what goes where)."""

from __future__ import annotations

import collections
import dataclasses
import sys
import threading

# Requests per actor call, per worker of its node, and batches' worth in flight per actor.
BATCH_PER_WORKER = 64
BATCHES_IN_FLIGHT = 2
MAX_CALLS = 8  # per actor (calls that wait on a slow program, and small ones to idle workers, add up)
MAX_FAILURES_IN_A_ROW = 5  # per node; then it gets no more actors (a poison counts 2)


@dataclasses.dataclass
class Actor:
    node: str
    handle: object
    capacity: int
    ready: object  # the ObjectRef of its describe(); requests go only to actors that answered it
    batch: int = 1  # requests per call
    workers: int = 1
    load: int = 0  # requests sent and neither answered nor stolen
    calls: int = 0
    dry: bool = False  # a steal took nothing from it: no other until it answers
    owed: int = 0  # requests a steal took from it that its calls have not named yet
    info: dict | None = None
    alone: bool = False  # running a suspect alone: nothing else until it answers
    reserved: bool = False  # no new batches: it is to run suspects once its batches are done


class Fleet:
    """The actors: one per alive node with a CPU, of ``actor_class`` (the node's pool),
    scheduled with hard node affinity and reserving the CPUs its pool uses."""

    def __init__(self, actor_class: type, inner: str | None, workers: int | None, memory_mb: int | None) -> None:
        self.actor_class, self.inner, self.workers, self.memory_mb = actor_class, inner, workers, memory_mb
        self.actors: dict[str, Actor] = {}
        self.failures: collections.Counter[str] = collections.Counter()  # per node, since a call was answered
        self.lost: list[dict] = []  # what actors that failed while running (died, their pool raised) said at start
        # The dispatcher thread changes the table; `describe` and `close` read it from others.
        self.lock = threading.RLock()

    @property
    def size(self) -> int:
        """Requests in flight over the cluster: what a caller calling ``execute`` from
        threads (the harness's run) should keep coming."""
        with self.lock:
            return sum(a.capacity for a in self.actors.values())

    def ensure(self) -> None:
        """An actor on every alive node with a CPU that has none and is not given up."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        remote = ray.remote(self.actor_class)
        with self.lock:
            for node in ray.nodes():
                cpus = int(node.get("Resources", {}).get("CPU", 0))
                node_id = node["NodeID"]
                if not node.get("Alive") or cpus < 1 or node_id in self.actors \
                        or self.failures[node_id] >= MAX_FAILURES_IN_A_ROW:
                    continue
                workers = self.workers or cpus
                batch = BATCH_PER_WORKER * workers
                handle = remote.options(  # its calls, and a steal, describe and close at once
                    num_cpus=min(workers, cpus), max_concurrency=MAX_CALLS + 3, max_restarts=0,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                ).remote(self.inner, workers, self.memory_mb)
                self.actors[node_id] = Actor(node_id, handle, BATCHES_IN_FLIGHT * batch, handle.describe.remote(),
                                             batch, workers)

    def starting(self) -> dict:
        with self.lock:
            return {a.ready: a for a in self.actors.values() if a.info is None}

    def serving(self) -> list[Actor]:
        with self.lock:
            return [a for a in self.actors.values() if a.info is not None]

    def admit(self, ref, problems: dict | None = None) -> bool:
        """An actor answered its describe() (True: it serves requests), or failed it and
        is dropped."""
        import ray

        with self.lock:
            actor = self.starting().get(ref)
            if actor is None:
                return True
            try:
                actor.info = ray.get(ref)
                return True
            except Exception as exc:
                if problems is not None:
                    problems[actor.node[:12]] = " ".join(str(exc).split())[-300:]
                self.failures[actor.node] += 1
                self.drop(actor.node)
                return False

    def wait_ready(self, timeout: float) -> dict:
        """Admit the starting actors; what went wrong with those that did not start, per node."""
        import ray

        pending = self.starting()
        problems: dict = {}
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=timeout)
        for ref in pending:
            if ref in ready:
                self.admit(ref, problems)
            else:
                problems[pending[ref].node[:12]] = "did not start in time"
                with self.lock:
                    self.failures[pending[ref].node] += 1
                self.drop(pending[ref].node)
        return problems

    def answered(self, actor: Actor) -> None:
        with self.lock:
            self.failures[actor.node] = 0

    def node_fault(self, actor: Actor, exc: Exception) -> bool:
        """Whether ``actor``'s node is to blame for its call failing with ``exc``."""
        import ray.exceptions as rex

        if isinstance(exc, rex.RayTaskError):
            return False  # the actor answered: its node lives
        if isinstance(exc, (rex.NodeDiedError, rex.ActorUnavailableError)):
            return True
        return not _node_alive(actor.node)

    def failed(self, actor: Actor, why: str, then: str, counts: bool = True) -> None:
        """A call of ``actor`` failed (``why``; ``then``: what becomes of its requests). The
        actor is dropped (once, however many of its calls fail), a failure of its node's
        unless not ``counts``, and every node without an actor that lives and is not given
        up gets one."""
        with self.lock:
            if self.actors.get(actor.node) is not actor:  # dropped already (and maybe replaced)
                return
            self.lost.append(actor.info or {"node": actor.node})
            self.failures[actor.node] += int(counts)
            self.drop(actor.node)
            self.ensure()
            if self.failures[actor.node] >= MAX_FAILURES_IN_A_ROW:
                then += f"; the node is given up after {MAX_FAILURES_IN_A_ROW} failures in a row"
            print(f"codeharness: ray node {actor.node[:12]} ({(actor.info or {}).get('host', '?')}): actor lost "
                  f"({why}): {then}", file=sys.stderr)

    def blame(self, nodes: list[str]) -> None:
        """A failure more for each of ``nodes`` (once given up, a node stays so)."""
        with self.lock:
            for node in nodes:
                self.failures[node] += 1

    def drop(self, node: str) -> None:
        import ray

        with self.lock:
            actor = self.actors.pop(node, None)
        if actor is not None:
            try:
                ray.kill(actor.handle)
            except Exception:
                pass

    def close(self) -> None:
        """Close the pools of the actors that serve (those still starting are only killed)."""
        import ray

        with self.lock:
            actors = list(self.actors.values())
        closing = [a.handle.close.remote() for a in actors if a.info is not None]
        if closing:
            ray.wait(closing, num_returns=len(closing), timeout=30)
        for a in actors:
            self.drop(a.node)


def _node_alive(node: str) -> bool:
    import ray

    try:
        return any(n["NodeID"] == node and n.get("Alive") for n in ray.nodes())
    except Exception:  # the GCS itself does not answer
        return False
