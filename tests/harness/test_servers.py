"""One model on several servers: spreading, taking a failed server out, failing over."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import threading
import time

from openai_server import FaultyOpenAIServer
from support import answer_with_reference, harness_process, pool

from harness.providers.servers import Server, ServerSet


class Down(Exception):
    pass


def test_least_in_flight_cooldown_and_failover():
    now = [0.0]
    a, b = Server("a", client="A"), Server("b", client="B")
    servers = ServerSet([a, b], retryable=(Down,), cooldown=30.0, clock=lambda: now[0])
    a.in_flight = 2
    assert servers.pick(set()) is b  # fewest in flight
    b.in_flight = 3
    assert servers.pick(set()) is a

    a.in_flight = b.in_flight = 0
    calls = []

    async def flaky(client):
        calls.append(client)
        if client == "A":
            raise Down("a is down")
        return f"answer from {client}"

    # Equal load: the one with fewer requests so far (a) is tried first, fails, b answers.
    assert asyncio.run(servers.call(flaky)) == ("answer from B", b)
    assert calls == ["A", "B"] and a.stats() == {"requests": 1, "failed": 1} and b.stats() == {"requests": 1,
                                                                                                 "failed": 0}
    now[0] = 29.0  # a is still out
    assert asyncio.run(servers.call(flaky))[1] is b and calls[-1] == "B"
    now[0] = 31.0  # a is back, and tried again
    assert servers.pick(set()) is a

    async def dead(client):
        raise Down(f"{client} is down")

    try:
        asyncio.run(servers.call(dead))
    except Down as exc:  # every server failed the request: the last failure reaches the caller
        assert str(exc) == "B is down"
    else:
        raise AssertionError("no failure raised")
    # Both down (until 61): the one back soonest, a, is still tried rather than none.
    now[0] = 32.0
    assert servers.pick(set()) is a and servers.stats() == {"a": {"requests": 2, "failed": 2},
                                                            "b": {"requests": 3, "failed": 1}}


def test_two_servers_share_a_run_and_one_stopping_loses_nothing(tmp_path):
    with FaultyOpenAIServer(answer_with_reference, delay=0.05) as first, \
            FaultyOpenAIServer(answer_with_reference, delay=0.05) as second:
        model = {"name": "local", "provider": "openai", "base_url": [first.url, second.url], "model": "fake",
                 "n": 2, "price": {"input": 1, "output": 2}, "max_tokens": 300}
        run_dir = tmp_path / "run"
        proc = harness_process("run", "--dataset", "humaneval", "--models", pool(tmp_path, model), "--limit", "15",
                               "--sandbox", "local", "--run-dir", str(run_dir), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)

        def stop_second_after_a_few():
            deadline = time.monotonic() + 120
            while len(second.requests) < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            second.__exit__(None, None, None)

        stopper = threading.Thread(target=stop_second_after_a_few)
        stopper.start()
        out, err = proc.communicate(timeout=600)
        stopper.join()
    assert proc.returncode == 0, err[-3000:]
    with sqlite3.connect(run_dir / "run.sqlite") as con:
        rows = con.execute("SELECT problem, sample, status, generation_error FROM samples").fetchall()
    assert len(rows) == 30 and {(p, s) for p, s, _, _ in rows} == {(f"HumanEval/{i}", s) for i in range(15)
                                                                   for s in range(2)}
    assert [r for r in rows if r[2] != "passed"] == []  # every sample generated and passed
    assert len(second.requests) >= 4 and len(first.requests) + len(second.requests) == 30
    line = next(ln for ln in err.splitlines() if "requests per server" in ln)
    assert first.url in line and second.url in line
    assert f"{first.url} {len(first.requests) + _failed(line, first.url)} (" in line
    assert _failed(line, second.url) >= 1, line  # the stopped server failed at least once, then was left


def _failed(line: str, url: str) -> int:
    part = line.split(url, 1)[1]
    return int(part.split("(", 1)[1].split(" failed", 1)[0])
