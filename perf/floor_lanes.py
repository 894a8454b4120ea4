"""The physical floor's lanes for perf/core_floor.py, standard library only.

A lane is a warm process of a fork-context Pool that forks a child per program (or per
stdin/stdout case), which execs it and reports by exit status: no isolation, no limits,
no pipes. The same code runs under the host's interpreter (the floor of ``local``, whose
fork servers run ``sys.executable``) and, for ``docker``, inside the sandbox image under
its own ``python3``:

    python3 floor_lanes.py JOB OUT   # JOB: a pickled dict(kind, tasks, workers, warm)

A floor measured with another interpreter than the sandbox's measures the interpreters,
not the sandbox: on this machine the image's Debian build ran the HumanEval set 20-50 %
faster than the pyenv build the host's venv uses.
"""

from __future__ import annotations

import gc
import importlib.util
import io
import multiprocessing as mp
import os
import pickle
import resource
import signal
import sys
import time
from pathlib import Path


def _sandbox_module(name: str):
    """sandboxes/NAME.py, loaded by path: this file runs where the package's dependencies
    are not installed (the image), and these two need none."""
    spec = importlib.util.spec_from_file_location(f"_floor_{name}", _SANDBOXES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_SANDBOXES = Path(__file__).resolve().parents[1] / "sandboxes"
judge = _sandbox_module("judge")  # the sandbox's own rule for stdout
# A fork server's warm interpreter: the modules it imports once so that no child pays for
# them (forkchild's imports). Without them every child here imported what its tests use.
_sandbox_module("forkchild")


def lane_init() -> None:
    # Programs may print; their output must not reach the caller's stdout. One dup2 per
    # lane, not per program, so it costs the floor nothing.
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    # As the fork server does: objects that exist now are never collected, so a child's
    # garbage collection does not write to (and copy) the pages it shares with the lane.
    gc.freeze()


def _run_assert(code: str, test: str) -> bool:
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            ns = {"__name__": "__main__"}
            exec(compile(code, "main.py", "exec"), ns)
            exec(compile(test, "tests.py", "exec"), ns)
            status = 0
        except BaseException:  # SystemExit too: exiting early is not a pass (as in ExecRequest)
            pass
        os._exit(status)  # skips atexit/flush: the child's only output is its status
    _, status = os.waitpid(pid, 0)
    return status == 0


def floor_chunk(chunk: list[tuple[str, str]]) -> list[bool]:
    return [_run_assert(code, test) for code, test in chunk]


def _run_case(code: str, stdin: str, expected: str, opts: tuple[bool, bool, float]) -> bool:
    # memfds, not pipes: the child never blocks on a full pipe and no reader thread is
    # needed; the sandbox has to do at least this much to feed and judge a case.
    inp, out = os.memfd_create("in"), os.memfd_create("out")
    try:
        os.write(inp, stdin.encode())
        os.lseek(inp, 0, os.SEEK_SET)
        pid = os.fork()
        if pid == 0:
            os.dup2(inp, 0)
            os.dup2(out, 1)
            # Pool workers replace sys.stdin with devnull; give the child fresh streams on fd 0/1.
            sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)))
            sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)))
            # The sandbox's CPU limit (10 s), so a slow reference costs both sides the
            # same; the alarm only guards the run against a reference that hangs.
            resource.setrlimit(resource.RLIMIT_CPU, (10, 10))
            signal.alarm(60)
            status = 1
            try:
                exec(compile(code, "main.py", "exec"), {"__name__": "__main__"})
                status = 0
            except SystemExit as e:
                status = 0 if e.code in (None, 0) else 1
            except BaseException:
                pass
            try:
                sys.stdout.flush()
            except BaseException:
                status = 1
            os._exit(status)
        _, status = os.waitpid(pid, 0)
        got = os.pread(out, os.fstat(out).st_size, 0).decode(errors="replace")
    finally:
        os.close(inp)
        os.close(out)
    sensitive, strict, tol = opts
    return status == 0 and judge.compare_stdout(got, expected, tol, sensitive, strict) is None


def floor_cases(task: tuple[str, list[tuple[str, str]], tuple[bool, bool, float]]) -> list[bool]:
    code, cases, opts = task
    return [_run_case(code, i, o, opts) for i, o in cases]


KINDS = {"assert": floor_chunk, "cases": floor_cases}


def lanes(workers: int):
    """``workers`` warm lanes: fork, not forkserver/spawn, so they start with everything
    the caller imported."""
    return mp.get_context("fork").Pool(workers, initializer=lane_init)


def run(pool, kind: str, tasks: list) -> tuple[list, float]:
    """Each task's results, and the seconds they took."""
    start = time.perf_counter()
    results = list(pool.imap(KINDS[kind], tasks))
    return results, time.perf_counter() - start


def main() -> None:
    job_path, out_path = sys.argv[1:3]
    with open(job_path, "rb") as f:
        job = pickle.load(f)
    with lanes(job["workers"]) as pool:
        run(pool, job["kind"], job["tasks"][:job["warm"]])  # imports, page cache
        answer = run(pool, job["kind"], job["tasks"])
    with open(out_path, "wb") as f:
        pickle.dump(answer, f)


if __name__ == "__main__":
    main()
