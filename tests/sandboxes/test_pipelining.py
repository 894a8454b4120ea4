"""A worker holds two requests: the one running and the next, sent ahead so the worker
never waits for the host between programs. Answers come back in order, a caller's
ceiling counts from its call (the wait behind another program included), and a worker
that dies takes nothing with it."""

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from support import make_sandbox

from sandboxes import ExecRequest, Limits, Status, forkserver
from sandboxes.pool import PIPELINE
from sandboxes.records import NOT_STARTED, START_SLACK


def test_the_fork_server_and_the_host_name_a_refusal_alike():
    assert (forkserver.NOT_STARTED, forkserver.START_SLACK) == (NOT_STARTED, START_SLACK)
    assert PIPELINE == 2


def test_inbox_keeps_lines_sent_ahead_with_their_arrival_and_sees_the_end():
    r, w = os.pipe()
    inbox = forkserver.Inbox(r)
    os.write(w, b'{"a": 1}\n{"b"')
    before = time.monotonic()
    assert inbox.pull()  # what a watch pulls while a program runs
    assert inbox.lines[0][0] == b'{"a": 1}' and before <= inbox.lines[0][1] <= time.monotonic()
    os.write(w, b': 2}\n')
    os.close(w)
    assert inbox.next()[0] == b'{"a": 1}'
    assert inbox.next()[0] == b'{"b": 2}'
    assert inbox.next() is None and inbox.eof
    os.close(r)


@pytest.mark.parametrize("kind", ["local", "docker"])
def test_requests_sent_ahead_run_one_after_another_in_order(kind):
    # One worker, many callers: each program appends its number and the time it
    # started to a file the next one reads, so a second program starting before the
    # first ended (or out of order) shows.
    code = ("import sys, time\nt = time.monotonic()\nprint(t)\ntime.sleep(0.05)\nprint(time.monotonic())\n")
    with make_sandbox(kind, workers=1) as sb:
        reqs = [ExecRequest(code, id=str(i), limits=Limits(timeout=5)) for i in range(12)]
        verdicts = list(sb.run(reqs))
    assert [v.id for v in verdicts] == [str(i) for i in range(12)]  # one worker: completion order = sent order
    spans = [tuple(map(float, v.stdout_tail.split())) for v in verdicts]
    assert all(v.status is Status.PASSED and v.attempts == 1 for v in verdicts)
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(11)), spans  # never two at once


@pytest.mark.parametrize("kind", ["local", "docker"])
def test_no_request_waits_behind_another_while_a_worker_is_free(kind):
    # Two slow programs at once on two workers: each gets its own worker, neither is
    # sent ahead to the other's (it would wait there a whole program).
    code = "import time\nprint(time.monotonic())\ntime.sleep(1)\n"
    with make_sandbox(kind, workers=2) as sb:
        sb.start()
        with ThreadPoolExecutor(2) as ex:
            got = list(ex.map(sb.execute, [ExecRequest(code, id=str(i), limits=Limits(timeout=5)) for i in range(2)]))
    starts = sorted(float(v.stdout_tail) for v in got)
    assert all(v.status is Status.PASSED for v in got)
    assert starts[1] - starts[0] < 0.5, starts


@pytest.mark.parametrize("kind", ["local", "docker"])
def test_a_ceiling_counts_the_wait_behind_another_program(kind):
    sleeper = ExecRequest("import time\ntime.sleep(2)\n", id="sleeper", limits=Limits(timeout=5, wall=4))
    # Its caller allows 1.5 s and the program's own cap is 1 s: sent ahead at once, it
    # would start after the sleeper's 2 s, with nothing left: refused unrun, not cut.
    late = ExecRequest("print('ran')\n", id="late", limits=Limits(timeout=1, wall=1, ceiling=1.5))
    ok = ExecRequest("print('ran')\n", id="ok", limits=Limits(timeout=1, wall=1, ceiling=30))
    # No ceiling, but it must start within 0.5 s of its call: it cannot either.
    impatient = ExecRequest("print('ran')\n", id="impatient", limits=Limits(timeout=1), start_within=0.5)
    with make_sandbox(kind, workers=1) as sb:
        sb.start()
        with ThreadPoolExecutor(4) as ex:
            first = ex.submit(sb.execute, sleeper)
            time.sleep(0.3)
            rest = [ex.submit(sb.execute, r) for r in (late, ok, impatient)]
            got = [f.result(30) for f in (first, *rest)]
        assert sb.execute(late).status is Status.PASSED  # on an idle worker the same requests run
        assert sb.execute(impatient).status is Status.PASSED
    assert [(v.id, v.status) for v in got] == [("sleeper", Status.PASSED), ("late", Status.SANDBOX_ERROR),
                                               ("ok", Status.PASSED), ("impatient", Status.SANDBOX_ERROR)]
    assert got[1].detail == got[3].detail == NOT_STARTED and got[1].stdout_tail == got[3].stdout_tail == ""
    assert got[2].stdout_tail == "ran\n"


def test_a_worker_killed_with_a_request_waiting_behind_loses_neither():
    with make_sandbox("local", workers=1) as sb:
        sb.start()
        (worker,) = sb._all
        gate = ExecRequest("import time\ntime.sleep(0.5)\n", id="gate", limits=Limits(timeout=5))
        slow = ExecRequest("import time\ntime.sleep(1)\nprint('slow')\n", id="slow", limits=Limits(timeout=5))
        nxt = ExecRequest("print('next')\n", id="next", limits=Limits(timeout=5))
        with ThreadPoolExecutor(3) as ex:
            futures = [ex.submit(sb.execute, gate)]
            time.sleep(0.1)
            futures.append(ex.submit(sb.execute, slow))
            time.sleep(0.05)
            futures.append(ex.submit(sb.execute, nxt))
            # When the gate is answered, its lane sends both: ``slow`` runs, ``next`` waits
            # in the worker's inbox; then the worker dies.
            time.sleep(0.9)
            server = _children_reading(worker)
            for pid in server:
                os.kill(pid, signal.SIGKILL)
            got = [f.result(30) for f in futures]
    assert server, "no fork server found"
    assert [(v.id, v.status, v.stdout_tail) for v in got] == [("gate", Status.PASSED, ""),
                                                              ("slow", Status.PASSED, "slow\n"),
                                                              ("next", Status.PASSED, "next\n")]
    # Both were sent twice: to the worker that died, then to its replacement.
    assert [v.attempts for v in got] == [1, 2, 2]


def test_close_answers_what_waits_in_a_lane():
    with make_sandbox("local", workers=1) as sb:
        sb.start()
        results = []

        def call(req):
            try:
                results.append(sb.execute(req))
            except Exception as exc:  # the contract: WorkerBroken once closed
                results.append(exc)

        reqs = [ExecRequest("import time\ntime.sleep(30)\n", id=str(i), limits=Limits(timeout=40)) for i in range(3)]
        threads = [threading.Thread(target=call, args=(r,)) for r in reqs]
        for t in threads:
            t.start()
        time.sleep(1)
        began = time.monotonic()
        sb.close()
        for t in threads:
            t.join(30)
    assert time.monotonic() - began < 15
    assert len(results) == 3
    assert {type(r).__name__ for r in results} == {"WorkerBroken"}, results


def _children_reading(worker) -> list[int]:
    """The fork server of a local worker: the python process holding the pool's pipe
    (it moved the pipe off its fd 0)."""
    target = f"pipe:[{os.fstat(worker.proc.stdin.fileno()).st_ino}]"
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if b"python" not in fh.read():
                    continue
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == target for fd in os.listdir(f"/proc/{pid}/fd")):
                out.append(int(pid))
        except OSError:
            continue
    return out
