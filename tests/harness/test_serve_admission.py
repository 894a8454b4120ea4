"""``harness serve``'s admission queue under asyncio (lanes, FIFO, refusals, deadlines,
cancellation, close) and its Prometheus text, without a server."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from harness.serve import admission as admission_module
from harness.serve.admission import Admission, Overloaded
from harness.serve.metrics import Metrics

# ---------------------------------------------------------------- admission

THREADS = ThreadPoolExecutor(max_workers=32)  # runs the started calls, as a sandbox's lanes would


class Gate:
    """A call that holds its lane until opened (run on a thread of its own, as a
    sandbox runs a submitted request); counts calls in flight."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.lock = threading.Lock()
        self.inside = 0
        self.most = 0
        self.order: list = []

    def fn(self, tag):
        def call(began: float):
            with self.lock:
                self.inside += 1
                self.most = max(self.most, self.inside)
                self.order.append(tag)
            self.opened.wait(10)
            with self.lock:
                self.inside -= 1
            return tag
        return lambda began: THREADS.submit(call, began)


async def settle(cond, tick: float = 0.0005) -> None:
    """Let the loop (and the lanes' threads) run until ``cond()``; ``tick`` 0: check
    again before any task that became ready after this one runs."""
    give_up = time.monotonic() + 10
    while not cond():
        assert time.monotonic() < give_up, "the condition never held"
        await asyncio.sleep(tick)


async def held(adm, gate):
    """A task on the one lane, inside ``gate`` until it opens."""
    holder = asyncio.create_task(adm.run(gate.fn("holder")))
    await settle(lambda: gate.inside == 1)
    return holder


async def queued(adm, fn, start_by=None):
    """A task waiting in the queue (the only one) for ``fn``'s lane."""
    waiter = asyncio.create_task(adm.run(fn, start_by))
    await settle(lambda: adm.queued == 1)
    return waiter


def test_lanes_and_fifo_order():
    async def main():
        adm, gate = Admission(lanes=2, queue_size=10), Gate()
        tasks = [asyncio.create_task(adm.run(gate.fn(i))) for i in range(7)]
        await settle(lambda: gate.inside == 2)
        assert (adm.running, adm.queued) == (2, 5)
        gate.opened.set()
        assert await asyncio.gather(*tasks) == list(range(7))
        assert gate.most == 2
        assert sorted(gate.order) == list(range(7))  # two threads: their order is theirs (FIFO: below)
        assert (adm.running, adm.queued) == (0, 0)
        adm.close()
    asyncio.run(main())


def test_strict_fifo_on_one_lane():
    async def main():
        adm, gate = Admission(lanes=1, queue_size=10), Gate()
        tasks = [asyncio.create_task(adm.run(gate.fn(i))) for i in range(6)]
        await settle(lambda: gate.inside == 1)
        gate.opened.set()
        await asyncio.gather(*tasks)
        assert gate.order == [0, 1, 2, 3, 4, 5] and gate.most == 1
        adm.close()
    asyncio.run(main())


def test_prefetch_runs_that_many_more_calls_at_once_the_rest_in_fifo_order():
    async def main():
        adm, gate = Admission(lanes=1, queue_size=10, prefetch=1), Gate()
        tasks = [asyncio.create_task(adm.run(gate.fn(i))) for i in range(5)]
        await settle(lambda: gate.inside == 2 and adm.queued == 3)
        assert adm.running == 2  # in the sandbox: one runs, the next waits at the worker
        adm.mean_service = 2.0  # a newcomer: 3 waiting + 2 calls - 2 at once + 1 = 4 ahead, 2 served per 2 s
        assert adm.expected_wait() == 4.0
        gate.opened.set()
        assert await asyncio.gather(*tasks) == [0, 1, 2, 3, 4]
        assert sorted(gate.order[:2]) == [0, 1] and sorted(gate.order) == [0, 1, 2, 3, 4] and gate.most == 2
        assert (adm.running, adm.queued) == (0, 0)
        adm.close()
    asyncio.run(main())


def test_queue_full_is_overloaded_with_retry_after():
    async def main():
        adm, gate = Admission(lanes=1, queue_size=2), Gate()
        tasks = [asyncio.create_task(adm.run(gate.fn(i))) for i in range(3)]
        await settle(lambda: gate.inside == 1 and adm.queued == 2)
        with pytest.raises(Overloaded) as exc:
            await adm.run(gate.fn("late"))
        assert (exc.value.reason, exc.value.retry_after) == ("queue full (2 waiting)", 1)
        adm.mean_service = 2.5  # 3 ahead on one lane: 7.5 s
        with pytest.raises(Overloaded) as exc:
            await adm.run(gate.fn("late"))
        assert exc.value.retry_after == 8
        gate.opened.set()
        assert await asyncio.gather(*tasks) == [0, 1, 2]
        assert (adm.running, adm.queued) == (0, 0)
        adm.close()
    asyncio.run(main())


def test_start_by_in_the_past_is_overloaded():
    async def main():
        adm, gate = Admission(lanes=1, queue_size=5), Gate()
        now = admission_module.time.monotonic()
        with pytest.raises(Overloaded) as exc:  # a free lane does not matter: it is too late
            await adm.run(gate.fn("late"), start_by=now - 1)
        assert exc.value.retry_after == 1
        holder = await held(adm, gate)
        adm.mean_service = 1.0
        with pytest.raises(Overloaded) as exc:  # the expected wait passes the deadline
            await adm.run(gate.fn("late"), start_by=admission_module.time.monotonic() + 0.5)
        assert exc.value.reason == "the queue would hold it past its deadline"
        assert (adm.running, adm.queued) == (1, 0)
        gate.opened.set()
        assert await holder == "holder"
        assert gate.order == ["holder"] and adm.running == 0
        adm.close()
    asyncio.run(main())


def test_a_waiter_past_its_deadline_leaves_the_queue():
    async def main():
        adm, gate = Admission(lanes=1, queue_size=5), Gate()
        holder = await held(adm, gate)
        adm.mean_service = 0.0
        with pytest.raises(Overloaded) as exc:
            await adm.run(gate.fn("late"), start_by=admission_module.time.monotonic() + 0.02)
        assert exc.value.reason == "waited in the queue past its deadline"
        assert (adm.running, adm.queued) == (1, 0)
        gate.opened.set()
        await holder
        assert gate.order == ["holder"] and (adm.running, adm.queued) == (0, 0)
        adm.close()
    asyncio.run(main())


@pytest.mark.parametrize("deadline", [None, 60.0])
def test_cancelling_a_waiter_leaves_the_counts_right(deadline):
    async def main():
        adm, gate = Admission(lanes=1, queue_size=5), Gate()
        start_by = None if deadline is None else admission_module.time.monotonic() + deadline
        holder = await held(adm, gate)
        waiter = await queued(adm, gate.fn("cancelled"), start_by)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert (adm.running, adm.queued) == (1, 0)
        gate.opened.set()
        await holder
        assert (adm.running, adm.queued) == (0, 0)
        assert await adm.run(gate.fn("next")) == "next"
        assert gate.order == ["holder", "next"]
        adm.close()
    asyncio.run(main())


def test_cancelling_a_waiter_just_granted_passes_the_lane_on():
    async def main():
        adm, gate = Admission(lanes=1, queue_size=5), Gate()
        holder = await held(adm, gate)
        waiter = await queued(adm, gate.fn("granted"))
        gate.opened.set()
        # the holder hands its lane to the waiter, which has not resumed yet
        await settle(lambda: adm.queued == 0, tick=0)
        assert not waiter.done() and adm.running == 1
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await holder
        assert gate.order == ["holder"] and (adm.running, adm.queued) == (0, 0)
        adm.close()
    asyncio.run(main())


def test_a_cancelled_call_holds_its_lane_until_its_thread_ends():
    async def main():
        adm, gate = Admission(lanes=1, queue_size=5), Gate()
        gone = asyncio.create_task(adm.run(gate.fn("client gone")))
        await settle(lambda: gate.inside == 1)
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert adm.running == 1  # the thread still runs: the next request waits for it
        nxt = asyncio.create_task(adm.run(gate.fn("next")))
        await settle(lambda: adm.queued == 1)
        gate.opened.set()
        assert await nxt == "next"
        assert gate.order == ["client gone", "next"] and gate.most == 1
        assert (adm.running, adm.queued) == (0, 0)
        adm.close()
    asyncio.run(main())


def test_closing_after_a_grant_refuses_the_granted_request():
    async def main():
        adm, gate = Admission(lanes=1, queue_size=5), Gate()
        holder = await held(adm, gate)
        waiter = await queued(adm, gate.fn("granted"))
        gate.opened.set()
        await settle(lambda: adm.queued == 0, tick=0)  # granted, not yet resumed
        adm.close()
        with pytest.raises(Overloaded, match="the server is stopping"):
            await waiter
        assert await holder == "holder"
        assert gate.order == ["holder"] and (adm.running, adm.queued) == (0, 0)
    asyncio.run(main())


def test_close_wakes_waiters_and_refuses_new_ones():
    async def main():
        adm, gate = Admission(lanes=1, queue_size=5), Gate()
        holder = await held(adm, gate)
        waiters = [asyncio.create_task(adm.run(gate.fn("w1"))),
                   asyncio.create_task(adm.run(gate.fn("w2"), admission_module.time.monotonic() + 60))]
        await settle(lambda: adm.queued == 2)
        adm.close()
        for waiter in waiters:
            with pytest.raises(Overloaded) as exc:
                await waiter
            assert (exc.value.reason, exc.value.retry_after) == ("the server is stopping", 5)
        with pytest.raises(Overloaded, match="the server is stopping"):
            await adm.run(gate.fn("new"))
        gate.opened.set()
        assert await holder == "holder"  # what runs finishes
        assert gate.order == ["holder"] and (adm.running, adm.queued) == (0, 0)
    asyncio.run(main())


def test_mean_service_moves_toward_the_observed_time(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(admission_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))

    def two_seconds(began: float) -> Future:
        clock[0] = began + 2.0
        done: Future = Future()
        done.set_result(began)
        return done

    async def main():
        adm = Admission(lanes=1, queue_size=1)
        assert await adm.run(two_seconds) == 100.0
        assert adm.mean_service == pytest.approx(0.05 + 0.2 * (2.0 - 0.05), abs=1e-12)
        for _ in range(200):
            await adm.run(two_seconds)
        assert adm.mean_service == pytest.approx(2.0, abs=1e-4)
        adm.close()
    asyncio.run(main())


# ---------------------------------------------------------------- /metrics

def test_metrics_text():
    adm = SimpleNamespace(queued=3, running=2, lanes=4)
    metrics = Metrics(adm)
    metrics.observe("run_code", 200, "Success", 0.03)
    metrics.observe("run_code", 200, "Success", 0.2)
    metrics.observe("run_code", 200, "Failed", 1.5)
    metrics.observe("run_tests", 400, "bad_request", 7.0)
    metrics.rejected.labels("queue full").inc()
    lines = set(metrics.render().decode().splitlines())
    assert {
        'codeharness_requests_total{code="200",endpoint="run_code",status="Success"} 2.0',
        'codeharness_requests_total{code="200",endpoint="run_code",status="Failed"} 1.0',
        'codeharness_requests_total{code="400",endpoint="run_tests",status="bad_request"} 1.0',
        'codeharness_request_seconds_bucket{endpoint="run_code",le="0.025"} 0.0',
        'codeharness_request_seconds_bucket{endpoint="run_code",le="0.05"} 1.0',
        'codeharness_request_seconds_bucket{endpoint="run_code",le="0.25"} 2.0',
        'codeharness_request_seconds_bucket{endpoint="run_code",le="1.0"} 2.0',
        'codeharness_request_seconds_bucket{endpoint="run_code",le="2.5"} 3.0',
        'codeharness_request_seconds_bucket{endpoint="run_code",le="+Inf"} 3.0',
        'codeharness_request_seconds_count{endpoint="run_code"} 3.0',
        'codeharness_request_seconds_sum{endpoint="run_code"} 1.73',
        'codeharness_request_seconds_bucket{endpoint="run_tests",le="5.0"} 0.0',
        'codeharness_request_seconds_bucket{endpoint="run_tests",le="10.0"} 1.0',
        'codeharness_rejected_total{reason="queue full"} 1.0',
        "codeharness_queue_depth 3.0",
        "codeharness_running 2.0",
        "codeharness_lanes 4.0",
    } <= lines
    adm.queued, adm.running = 0, 1  # the gauges read the queue when scraped
    lines = set(metrics.render().decode().splitlines())
    assert {"codeharness_queue_depth 0.0", "codeharness_running 1.0"} <= lines
