"""How the ``ray`` sandbox gets requests to its node actors, and verdicts back, while
actors and nodes fail.

Batches: one Ray call per batch of requests (Ray's ~0.5 ms of driver CPU per call is
paid once per batch, not per verdict), two batches' worth in flight per actor so that its
node's pool always has the next one queued. A call is a streaming generator: the node's
workers take the requests of all its calls in order, and each call yields its verdicts in
chunks of half a batch, or at once when the node's queue runs empty (a worker is about
to idle). An actor gets the next batch when a batch's worth of room is free, or when it
has idle workers.

Steals: a slow program holds up what is queued behind it on its node (samples of one
problem are adjacent, and a hard problem's time out together). So when nothing is left
to send and an actor has idle workers, the actor with the most queued gives back a share
of the requests it has not started (the last queued: its node would run them last; in
proportion to both nodes' workers) through ``steal``; its calls name them in their next
chunk, and they go, uncharged, to the idle one first. A steal that took nothing is not
repeated on that actor until it answers again. A request that failed with its call is
one its call had not answered: requests answered or given back are settled.

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
import pickle
from collections.abc import Iterator

from .ray_fleet import MAX_CALLS, Actor, Fleet
from .records import ExecRequest, Status, Verdict

MAX_ATTEMPTS = 3


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


def _why(exc: Exception, times: str = "") -> str:
    """``ActorDiedError`` [N times], or for what the pool raised, its type [N times] and message."""
    import ray.exceptions as rex

    if not isinstance(exc, rex.RayTaskError):
        return type(exc).__name__ + times
    cause = getattr(exc, "cause", None) or exc
    return " ".join(f"the node's pool raised {type(cause).__name__}{times}: {cause}".split())[:300]


@dataclasses.dataclass
class _Flight:
    """An actor call streaming back: its requests, and the indexes not answered or stolen yet."""
    batch: list
    actor: Actor
    alone: bool
    pending: set


def _steal(fleet: Fleet) -> tuple[Actor, int] | None:
    """The actor to take work back from for one with idle workers, and how much: its
    estimated queue (requests beyond its workers), shared in proportion to workers."""
    actors = fleet.serving()
    if any(a.owed > 0 for a in actors):  # its load is stale until its calls name what was taken
        return None
    idle = [a for a in actors if not (a.alone or a.reserved) and a.load < a.workers and a.calls < MAX_CALLS]
    busy = [a for a in actors if not (a.alone or a.dry) and a.load > a.workers]
    if not (idle and busy):
        return None
    thief = min(idle, key=lambda a: a.load / a.workers)
    victim = max(busy, key=lambda a: (a.load - a.workers) / a.workers)
    return victim, max(1, (victim.load - victim.workers) * thief.workers // (thief.workers + victim.workers))


def dispatch(fleet: Fleet, source: Source) -> Iterator[tuple[str, Verdict]]:
    """(key, verdict) of every request ``source`` gives, each exactly once: batches to the
    least loaded serving actors, work taken back from a busy actor for an idle one,
    suspects alone (see the module's docstring)."""
    import ray
    import ray.exceptions as rex

    retry: collections.deque[tuple[str, ExecRequest, int]] = collections.deque()  # (key, request, attempts)
    suspects: collections.deque[tuple[str, ExecRequest, int]] = collections.deque()
    in_flight: dict = {}  # ObjectRefGenerator -> _Flight
    steals: dict = {}  # ObjectRef of a steal -> its victim
    failed_alone: collections.defaultdict[str, list[str]] = collections.defaultdict(list)  # key -> nodes

    def send(actor: Actor, batch: list, alone: bool) -> None:
        with fleet.lock:
            actor.load += len(batch)
            actor.calls += 1
            actor.alone, actor.dry = alone, False
        blob = pickle.dumps([r for _, r, _ in batch], protocol=pickle.HIGHEST_PROTOCOL)  # see execute_batch
        call = actor.handle.execute_batch.remote(blob)  # a generator: it streams
        in_flight[call] = _Flight(batch, actor, alone, set(range(len(batch))))

    def ended(call, flight: _Flight) -> None:
        del in_flight[call]
        with fleet.lock:
            flight.actor.load -= len(flight.pending)
            flight.actor.calls -= 1
            flight.actor.alone = False

    try:
        while True:
            actors = fleet.serving()
            for actor in actors:
                if suspects and actor.load == 0:
                    send(actor, [suspects.popleft()], alone=True)
                actor.reserved = actor.reserved and bool(suspects)
            if suspects and actors and not any(a.alone or a.reserved for a in actors):
                min(actors, key=lambda a: a.load / a.capacity).reserved = True
            while True:  # every other actor with room for a batch, or with idle workers, gets one
                free = [a for a in fleet.serving() if not (a.alone or a.reserved) and a.calls < MAX_CALLS
                        and (a.capacity - a.load >= a.batch or a.load < a.workers)]
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
            # Nothing left to send: an actor with idle workers takes over some of another's
            # queue (a slow program there holds up what is queued behind it).
            theft = None if steals or retry or suspects else _steal(fleet)
            if theft is not None:
                steals[theft[0].handle.steal.remote(theft[1])] = theft[0]
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
            ready, _ = ray.wait([*in_flight, *steals, *starting], num_returns=1, timeout=source.poll)
            for ref in ready:
                if ref in starting:
                    if not fleet.admit(ref):
                        fleet.ensure()  # another try, while the node is not given up
                    continue
                if ref in steals:
                    victim = steals.pop(ref)
                    try:  # what it took comes in its calls' chunks
                        taken = ray.get(ref)
                        victim.owed += taken
                        victim.dry = taken == 0
                    except rex.RayError:
                        pass  # its calls fail too, and say so
                    continue
                flight = in_flight[ref]
                batch, actor, alone = flight.batch, flight.actor, flight.alone
                try:
                    answered, stolen = pickle.loads(ray.get(next(ref)))
                except (rex.RayError, StopIteration) as exc:  # any of Ray's: this call's failure, never the run's
                    # (StopIteration: its stream ended with requests unanswered, as no call of a live actor does)
                    ended(ref, flight)
                    node_fault = fleet.node_fault(actor, exc)
                    lost = [batch[i] for i in sorted(flight.pending)]
                    given_up = []
                    for key, req, attempts in lost:
                        attempts += 1 if node_fault or alone else 0
                        if attempts >= MAX_ATTEMPTS:
                            failed_alone.pop(key, None)
                            given_up.append((key, Verdict(Status.SANDBOX_ERROR,
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
                            else f"its request is sandbox_error after {MAX_ATTEMPTS} attempts" if given_up
                            else "its request is retried alone" if alone
                            else "its requests are retried one at a time")
                    # A failure alone counts against the node only once settled: as one when the
                    # request ends as sandbox_error (a poison), or each when it later succeeds.
                    fleet.failed(actor, _why(exc) + (", node gone" if node_fault else ""), then,
                                 counts=node_fault or not alone or bool(given_up))
                    yield from given_up
                    continue
                with fleet.lock:
                    actor.load -= len(answered) + len(stolen)
                    actor.owed -= len(stolen)
                    actor.dry = False
                flight.pending.difference_update(i for i, _ in answered)
                flight.pending.difference_update(stolen)
                retry.extendleft(batch[i] for i in sorted(stolen, reverse=True))  # first, uncharged: never started
                if not flight.pending:
                    ended(ref, flight)
                    if alone:
                        fleet.blame(failed_alone.pop(batch[0][0], []))  # they failed an innocent request
                    fleet.answered(actor)
                for i, verdict in answered:
                    key, _, attempts = batch[i]
                    if attempts:  # a copy only then: dataclasses.replace costs ~10-30 us
                        verdict = dataclasses.replace(verdict, attempts=verdict.attempts + attempts)
                    yield key, verdict
    except BaseException:
        for ref in in_flight:
            ray.cancel(ref, force=False)
        raise
