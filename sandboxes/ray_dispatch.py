"""How the ``ray`` sandbox gets requests to its node actors, and verdicts back, while
actors and nodes fail.

Batches: one Ray call per batch of requests (Ray's ~0.5 ms of driver CPU per call is
paid once per batch, not per verdict), two in flight per actor so that its node's pool
always has the next one queued.

Whose fault a failed call was decides what becomes of its requests:

- A node that dies is nobody's: ``NodeDiedError``, the node no longer alive in
  ``ray.nodes()``, or the actor unreachable (``ActorUnavailableError``: what a killed
  raylet gives, seconds before the GCS notices; an actor process that dies on a live node
  is reported dead by its raylet instead). Its requests go back into batches for the other
  actors at once, each charged an attempt, so that requests end even if nodes keep dying.
- An actor that dies while its node lives (or any other of Ray's errors for a call there)
  was killed by something it ran, maybe by one program of its batch (a "poison").
  Resent together, the batch would kill the next actor too, and every request in it
  would end as ``sandbox_error``. So its requests become suspects, uncharged: each is
  sent alone to an actor with nothing else in flight, which gets nothing else until it
  answers; a poison then takes down only the actor running it alone, and only a failure
  alone is charged. A suspect that failed alone is the next one sent, so that a poison's
  deaths come in a row and it is soon settled (``MAX_ATTEMPTS`` failures alone:
  ``sandbox_error``). While there are suspects and no actor is free for them, the least
  loaded one gets no new batches until it is.
- A call that raised in the node's pool (``RayTaskError``) is treated like a death on a
  live node, not as the run's error (which would fail every request the run still waits
  for): the actor lives, but a pool that raised has closed itself (``WorkerPool.run``), so
  the actor is replaced, and a request that makes the pool raise even alone ends as
  ``sandbox_error`` after ``MAX_ATTEMPTS``.

Bounds: a request is in at most one batch that fails on a live node (it is a suspect
after that) and every other failure is charged, so every request ends. A node gets new
actors until ``MAX_FAILURES_IN_A_ROW`` failures in a row, with no call answered in
between: a start that failed, a death (or raise) in a batch, a request that ended there
as ``sandbox_error`` by failing alone (its failures alone count once, as it ends: they
were its own; those of a request that then succeeds elsewhere count each). So one poison
counts two, a one-node cluster keeps its actor through a few poisons in a row while
innocent work remains, and a node whose actors cannot start, or die on whatever they
run, is given up soon. Ray's own ``ActorPool`` is not used: it wedges on one bad actor
(ray#50313).
"""

from __future__ import annotations

import collections
import dataclasses
import sys
import threading
from collections.abc import Iterator

from .records import ExecRequest, Status, Verdict

MAX_ATTEMPTS = 3
# Requests per actor call, per worker of its node, and calls in flight per actor.
BATCH_PER_WORKER = 64
BATCHES_IN_FLIGHT = 2
MAX_FAILURES_IN_A_ROW = 5  # per node; then it gets no more actors (a poison counts 2)


class Source:
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
class Actor:
    node: str
    handle: object
    capacity: int
    ready: object  # the ObjectRef of its describe(); requests go only to actors that answered it
    batch: int = 1  # requests per call
    load: int = 0
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
                handle = remote.options(
                    num_cpus=min(workers, cpus), max_concurrency=BATCHES_IN_FLIGHT + 2, max_restarts=0,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                ).remote(self.inner, workers, self.memory_mb)
                self.actors[node_id] = Actor(node_id, handle, BATCHES_IN_FLIGHT * batch, handle.describe.remote(),
                                             batch)

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


def _why(exc: Exception, times: str = "") -> str:
    """``ActorDiedError`` [N times], or for what the pool raised, its type [N times] and message."""
    import ray.exceptions as rex

    if not isinstance(exc, rex.RayTaskError):
        return type(exc).__name__ + times
    cause = getattr(exc, "cause", None) or exc
    return " ".join(f"the node's pool raised {type(cause).__name__}{times}: {cause}".split())[:300]


def dispatch(fleet: Fleet, source: Source) -> Iterator[tuple[str, Verdict]]:
    """(key, verdict) of every request ``source`` gives, each exactly once: batches to the
    least loaded serving actors, suspects alone (see the module's docstring)."""
    import ray
    import ray.exceptions as rex

    retry: collections.deque[tuple[str, ExecRequest, int]] = collections.deque()  # (key, request, attempts)
    suspects: collections.deque[tuple[str, ExecRequest, int]] = collections.deque()
    in_flight: dict = {}  # ObjectRef -> (batch, actor, alone)
    failed_alone: collections.defaultdict[str, list[str]] = collections.defaultdict(list)  # key -> nodes

    def send(actor: Actor, batch: list, alone: bool) -> None:
        with fleet.lock:
            actor.load += len(batch)
            actor.alone = alone
        in_flight[actor.handle.execute_batch.remote([r for _, r, _ in batch])] = (batch, actor, alone)

    try:
        while True:
            actors = fleet.serving()
            for actor in actors:
                if suspects and actor.load == 0:
                    send(actor, [suspects.popleft()], alone=True)
                actor.reserved = actor.reserved and bool(suspects)
            if suspects and actors and not any(a.alone or a.reserved for a in actors):
                min(actors, key=lambda a: a.load / a.capacity).reserved = True
            while True:  # every other actor with room gets a batch
                free = [a for a in fleet.serving() if not (a.alone or a.reserved) and a.load < a.capacity]
                if not free:
                    break
                actor = min(free, key=lambda a: a.load / a.capacity)
                room = min(actor.capacity - actor.load, actor.batch)
                batch = [retry.popleft() for _ in range(min(room, len(retry)))]
                if len(batch) < room and not source.done:
                    idle = not (in_flight or batch)
                    batch += [(k, r, 0) for k, r in source.take(room - len(batch), idle)]
                if not batch:
                    break
                send(actor, batch, alone=False)
            starting = fleet.starting()
            if not in_flight:
                if source.done and not retry and not suspects:
                    return  # an actor still starting is close()'s
                if not (starting or fleet.serving()):  # every actor is gone: the rest fails as the harness's fault
                    left = [*retry, *suspects, *((k, r, 0) for k, r in source.take(1 << 20, True))]
                    retry.clear()
                    suspects.clear()
                    for key, _, attempts in left:
                        yield key, Verdict(Status.SANDBOX_ERROR, "ray: no live sandbox actor", attempts=attempts)
                    continue
                if not starting:
                    continue
            ready, _ = ray.wait(list(in_flight) + list(starting), num_returns=1, timeout=source.poll)
            for ref in ready:
                if ref in starting:
                    if not fleet.admit(ref):
                        fleet.ensure()  # another try, while the node is not given up
                    continue
                batch, actor, alone = in_flight.pop(ref)
                with fleet.lock:
                    actor.load -= len(batch)
                    actor.alone = False
                try:
                    verdicts = ray.get(ref)
                except rex.RayError as exc:  # any of Ray's: this call's failure, never the run's
                    node_fault = fleet.node_fault(actor, exc)
                    ended = []
                    for key, req, attempts in batch:
                        attempts += 1 if node_fault or alone else 0
                        if attempts >= MAX_ATTEMPTS:
                            failed_alone.pop(key, None)
                            ended.append((key, Verdict(Status.SANDBOX_ERROR,
                                                       f"ray: {_why(exc, f' {MAX_ATTEMPTS} times')}",
                                                       attempts=attempts)))
                        elif alone:
                            if not node_fault:
                                failed_alone[key].append(actor.node)
                            suspects.appendleft((key, req, attempts))
                        elif node_fault:
                            retry.append((key, req, attempts))
                        else:
                            suspects.append((key, req, attempts))
                    then = ("its requests go to the other actors" if node_fault and not alone
                            else f"its request is sandbox_error after {MAX_ATTEMPTS} attempts" if ended
                            else "its request is retried alone" if alone
                            else "its requests are retried one at a time")
                    # A failure alone counts against the node only once settled: as one when the
                    # request ends as sandbox_error (a poison), or each when it later succeeds.
                    fleet.failed(actor, _why(exc) + (", node gone" if node_fault else ""), then,
                                 counts=node_fault or not alone or bool(ended))
                    yield from ended
                    continue
                if alone:
                    fleet.blame(failed_alone.pop(batch[0][0], []))  # they failed an innocent request
                fleet.answered(actor)
                for (key, _, attempts), verdict in zip(batch, verdicts, strict=True):
                    yield key, dataclasses.replace(verdict, attempts=verdict.attempts + attempts)
    except BaseException:
        for ref in in_flight:
            ray.cancel(ref, force=False)
        raise
