"""Programs end as under the interpreter they were written for; real contest
solutions from the bundled CodeContests data that depend on each rule."""

import pytest

from benchmarks import get_benchmark
from benchmarks.requests import exec_request
from sandboxes import ExecRequest, Limits, Status


@pytest.fixture(scope="module")
def train300():
    return {p.id: p for p in get_benchmark("codecontests").load("train300")}


@pytest.mark.parametrize("pid,why", [
    ("288_C", "writes through a FastIO IOWrapper that only flushes at interpreter shutdown"),
    ("938_E", "buffers in a StringIO and writes it to sys.__stdout__ from an atexit handler"),
    ("1183_H", "reads with readline()[:-1], so every input needs its final newline"),
    ("1337_E", "reads with readline()[:-1], so every input needs its final newline"),
])
def test_contest_solutions_that_rely_on_interpreter_exit(sandbox, train300, pid, why):
    p = train300[pid]
    v = sandbox.execute(exec_request(p, p.references[0], Limits(timeout=20)))
    assert v.status is Status.PASSED, (why, v)
    assert v.passed_tests == v.total_tests == p.test_count


def test_main_in_a_thread_with_a_big_stack(sandbox):
    code = ("import sys, threading\nsys.setrecursionlimit(10 ** 6)\nthreading.stack_size(2 ** 26)\n"
            "def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n"
            "def main():\n    print(depth(int(input())))\nthreading.Thread(target=main).start()\n")
    v = sandbox.execute(ExecRequest(code, stdin="50000\n", limits=Limits(timeout=10)))
    assert v.status is Status.PASSED and v.stdout_tail == "50000\n", v


def test_stdio_objects_look_like_the_interpreters(sandbox):
    code = ("import sys\nprint(sys.stdin.mode, sys.stdout.mode, sys.stdin.buffer.read().decode().strip())\n"
            "sys.stdout.buffer.write(b'bytes\\n')\n")
    v = sandbox.execute(ExecRequest(code, stdin="in", limits=Limits(timeout=10)))
    # As under `python3` writing to a pipe: text is buffered above the byte layer.
    assert v.status is Status.PASSED and v.stdout_tail == "bytes\nr w in\n", v
