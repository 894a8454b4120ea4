"""Hostile programs through HTTP: each gets SandboxFusion's answer for what it did, the
server lives on and answers the next request, and nothing of the program survives.
In both sandboxes (the ``sandbox`` fixture here names the kind the server runs, so the
``isolates`` marks of conftest.py apply as in tests/sandboxes/)."""

from __future__ import annotations

import os
import signal
import socket
import textwrap
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from support import docker_ready_or_skip, processes_mentioning, served, wait_for

from sandboxes.image import docker_client, owner_tag, sandbox_containers

MiB = 2**20


@pytest.fixture(scope="module", params=["local", "docker"])
def sandbox(request):
    if request.param == "docker":
        docker_ready_or_skip()
    return request.param


@pytest.fixture(scope="module")
def url(sandbox):
    with served("--sandbox", sandbox, "--workers", "2") as srv:
        yield srv.url


def run_code(url: str, code: str, **body) -> dict:
    resp = httpx.post(f"{url}/run_code", json={"code": textwrap.dedent(code), "language": "python", **body},
                      timeout=120)
    assert resp.status_code == 200, resp.text[:1000]
    return resp.json()


def hostile(url: str, code: str, **body) -> tuple[dict, dict]:
    """The answer and its run_result; whatever the program did, the server answers the
    next request as before."""
    answer = run_code(url, code, **body)
    after = run_code(url, "print(sum(range(10)))\n")
    assert (after["status"], after["run_result"]["stdout"]) == ("Success", "45\n"), after
    assert answer["status"] in ("Success", "Failed"), answer  # never the service's fault
    return answer, answer["run_result"]


def brief(run: dict) -> dict:
    return {k: (v[-2000:] if isinstance(v, str) else v) for k, v in run.items()}


def test_sleep(url):
    answer, run = hostile(url, "import time\ntime.sleep(60)\n", run_timeout=1)
    assert (answer["status"], answer["message"], run["status"]) == \
        ("Failed", "wall-clock cap of 1.0 s exceeded", "TimeLimitExceeded"), answer
    assert 1.0 <= run["execution_time"] < 2.0 and run["cpu_time"] < 0.5, run


def test_fork_bomb(url):
    answer, run = hostile(url, """
        import os
        while True:
            os.fork()
    """, run_timeout=3)
    assert (answer["status"], run["status"], run["return_code"]) == ("Failed", "Finished", 1), brief(run)
    # Every forked copy prints its traceback too, interleaved: not necessarily last.
    assert "BlockingIOError: [Errno 11] Resource temporarily unavailable\n" in run["stderr"], brief(run)


def test_memory_bomb_with_a_limit(url):
    answer, run = hostile(url, """
        hog = []
        while True:
            hog.append(bytearray(10 * 2**20))
    """, memory_limit_MB=256)
    assert (answer["status"], run["status"], run["return_code"]) == ("Failed", "Finished", 1), brief(run)
    assert run["stderr"].splitlines()[-1] == "MemoryError", brief(run)


def test_output_bomb(url):
    answer, run = hostile(url, """
        import sys
        chunk = "x" * 2**20
        for _ in range(1024):
            sys.stdout.write(chunk)
    """)
    assert answer["status"] == "Failed", brief(run)
    assert answer["message"] == f"more than {16 * MiB} bytes of output: the program was stopped", answer["message"]
    assert run["status"] == "Finished" and run["stderr"] == "", brief(run)
    # The first 16 MiB, as written.
    assert run["stdout"] == "x" * (16 * MiB), (len(run["stdout"]), run["stdout"].strip("x")[:200])


@pytest.mark.isolates("network")
def test_network(url):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        answer, run = hostile(url, f"""
            import socket
            print(sorted(name for _, name in socket.if_nameindex()), flush=True)
            socket.create_connection(("127.0.0.1", {port}), timeout=2)
        """)
        with pytest.raises(BlockingIOError):  # no connection reached the host's listener
            listener.accept()
    assert (answer["status"], run["return_code"], run["stdout"]) == ("Failed", 1, "['lo']\n"), brief(run)
    assert run["stderr"].splitlines()[-1].startswith("ConnectionRefusedError"), brief(run)


@pytest.mark.isolates("files")
def test_host_files(url, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CANARY")
    for path in (secret, "/etc/shadow"):
        answer, run = hostile(url, f"print(open({str(path)!r}).read())\n")
        assert (answer["status"], run["return_code"], run["stdout"]) == ("Failed", 1, ""), (path, brief(run))
        assert run["stderr"].splitlines()[-1].startswith(("FileNotFoundError", "PermissionError")), brief(run)


@pytest.mark.isolates("processes")
def test_daemons_do_not_survive(url):
    mark = f"codeharness-daemon-{uuid.uuid4().hex}"
    answer, run = hostile(url, f"""
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                late = "import time; time.sleep(5); open('{mark}', 'w').write('alive')"
                os.execv(sys.executable, [sys.executable, "-c", late, "{mark}"])
            os._exit(0)
        time.sleep(0.5)  # the daemon has started
        print("parent leaves")
    """)
    assert (answer["status"], run["stdout"]) == ("Success", "parent leaves\n"), brief(run)
    assert processes_mentioning(mark.encode()) == []


def pattern(mib: int) -> str:
    """``mib`` MiB of numbered 8-byte lines: any lost, doubled or moved byte shows."""
    return "".join(f"{i:07d}\n" for i in range(mib * MiB // 8))


@pytest.mark.parametrize("mib", [1, 10])
def test_large_stdout_returned_intact(url, mib):
    answer, run = hostile(url, f"""
        import sys
        for i in range({mib * MiB // 8}):
            sys.stdout.write(f"{{i:07d}}\\n")
        sys.stderr.write("done\\n")
    """)
    assert (answer["status"], run["return_code"], run["stderr"]) == ("Success", 0, "done\n"), answer["message"]
    assert len(run["stdout"]) == mib * MiB
    assert run["stdout"] == pattern(mib)


def sleeper(mark: str) -> str:
    """A program that sleeps 30 s as a process whose command line holds ``mark``."""
    return ("import os, sys\n"
            f"os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(30)', '{mark}'])\n")


def gauge(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    return next(float(line.split()[1]) for line in text.splitlines() if line.startswith(name + " "))


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_while_programs_run_and_wait(sandbox, sig):
    mark = f"codeharness-stop-{uuid.uuid4().hex}"
    env = {**os.environ, "CODEHARNESS_TEST_STOP": mark}
    with served("--sandbox", sandbox, "--workers", "2", "--queue", "8", env=env) as srv:
        owner = owner_tag(srv.process.pid)
        body = {"code": sleeper(mark), "language": "python", "run_timeout": 40}
        with ThreadPoolExecutor(8) as pool:
            def one(_):
                try:
                    return httpx.post(f"{srv.url}/run_code", json=body, timeout=60)
                except httpx.HTTPError as exc:
                    return exc
            futures = [pool.submit(one, i) for i in range(8)]
            # 2 run, 4 more are in the sandbox (handed ahead), 2 wait in the queue.
            wait_for(lambda: len(processes_mentioning(mark.encode())) == 2 and
                     (gauge(srv.url, "codeharness_running"), gauge(srv.url, "codeharness_queue_depth")) == (6, 2), 60)
            began = time.monotonic()
            srv.process.send_signal(sig)
            _, err = srv.process.communicate(timeout=30)
            took = time.monotonic() - began
            answers = [f.result() for f in futures]
    assert took < 15, took  # liveness: seconds, not the programs' 30 s
    assert srv.process.returncode == 0, err
    assert err.endswith(f"codeharness serve: {signal.Signals(sig).name}: stopping\n"), err
    got = sorted((r.status_code, r.json()["status"] if r.status_code == 200 else r.headers["retry-after"])
                 for r in answers if isinstance(r, httpx.Response))
    assert [type(r).__name__ for r in answers if not isinstance(r, httpx.Response)] == []
    # The running programs' requests too: refused (verl retries a 504), not answered
    # SandboxError, which its reward would score 0.
    assert got == [(504, "5")] * 8, got
    assert processes_mentioning(mark.encode()) == []
    assert processes_mentioning(b"", environ=f"CODEHARNESS_TEST_STOP={mark}".encode()) == []
    if sandbox == "docker":
        assert sandbox_containers(docker_client(), owner) == []
