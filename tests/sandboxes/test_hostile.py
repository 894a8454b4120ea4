"""Hostile programs: each gets an exact verdict, and the host and the pool survive.

Runs in both sandboxes (``sandbox`` fixture: local in its strongest mode, and docker;
``tests/sandboxes/test_local_venv.py`` runs it in every local mode from a venv under /tmp).
"""

from __future__ import annotations

import os
import socket
import textwrap
import threading
from pathlib import Path

import pytest

from sandboxes import ExecRequest, Limits, Status

LIMITS = Limits(timeout=3.0, memory_mb=512, max_output_bytes=8 * 2**20, max_file_bytes=16 * 2**20,
                max_processes=32)
GOOD = ExecRequest("def f():\n    return 1\n", test="assert f() == 1\n", limits=LIMITS)


def run(sandbox, code: str, test: str | None = None, limits: Limits = LIMITS):
    verdict = sandbox.execute(ExecRequest(textwrap.dedent(code), test, limits=limits))
    # Whatever the program did, the worker must still serve the next one, first time.
    after = sandbox.execute(GOOD)
    assert after.status is Status.PASSED, after
    assert after.attempts == 1, after
    return verdict


def test_fork_bomb(sandbox):
    v = run(sandbox, """
        import os
        while True:
            os.fork()
    """)
    assert v.status is Status.RUNTIME_ERROR, v
    assert "BlockingIOError" in v.detail


def test_fork_bomb_catching_errors_times_out(sandbox):
    v = run(sandbox, """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """)
    assert v.status is Status.TIMEOUT, v


def test_memory_bomb_single_allocation(sandbox):
    v = run(sandbox, "x = bytearray(8 * 2**30)\n")
    assert v.status is Status.OOM, v


def test_memory_bomb_gradual(sandbox):
    v = run(sandbox, """
        hog = []
        while True:
            hog.append(bytearray(10 * 2**20))
    """)
    assert v.status is Status.OOM, v
    assert v.peak_memory_kb < 600 * 1024


def test_infinite_loop(sandbox):
    v = run(sandbox, "while True:\n    pass\n")
    assert (v.status, v.detail) == (Status.TIMEOUT, "CPU time limit of 3.0 s exceeded"), v
    assert 3.0 <= v.cpu_time < 3.5 and v.wall_time < LIMITS.wall_cap


SHORT = Limits(timeout=0.5, memory_mb=512)  # a 2.5 s wall-clock cap


def test_sleep_past_timeout(sandbox):
    v = run(sandbox, "import time\ntime.sleep(60)\n", limits=SHORT)
    assert (v.status, v.detail) == (Status.TIMEOUT, "wall-clock cap of 2.5 s exceeded"), v
    assert 2.5 <= v.wall_time < 3.5 and v.cpu_time < 0.5


def test_ignoring_sigterm(sandbox):
    v = run(sandbox, """
        import signal, time
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        while True:
            time.sleep(0.01)
    """, limits=SHORT)
    assert v.status is Status.TIMEOUT, v


def test_one_gigabyte_of_stdout(sandbox):
    v = run(sandbox, """
        import sys
        chunk = "x" * 2**20
        for _ in range(1024):
            sys.stdout.write(chunk)
    """)
    assert v.status is Status.OUTPUT_LIMIT, v
    assert v.wall_time < 3.0
    assert len(v.stdout_tail) <= 4096


def test_one_gigabyte_of_stderr(sandbox):
    v = run(sandbox, "import os\nwhile True:\n    os.write(2, b'e' * 65536)\n")
    assert v.status is Status.OUTPUT_LIMIT, v


def test_filling_the_disk_with_one_file(sandbox):
    v = run(sandbox, """
        with open("big", "wb") as fh:
            while True:
                fh.write(b"0" * 2**20)
    """)
    assert v.status is Status.OUTPUT_LIMIT, v
    assert "file larger than" in v.detail


@pytest.mark.isolates("scratch")
def test_filling_the_disk_with_many_files(sandbox):
    v = run(sandbox, """
        import os
        i = 0
        while True:
            with open(f"f{i}", "wb") as fh:
                fh.write(b"0" * 15 * 2**20)
            i += 1
    """)
    assert v.status is Status.RUNTIME_ERROR, v
    assert "No space left on device" in v.detail
    # The scratch space is empty again for the next program (but for the way to an
    # interpreter or site-packages that live under /tmp, as a venv's may).
    v2 = sandbox.execute(ExecRequest(
        "import os, sys\n"
        "ways = [p + '/' for p in [sys.prefix, *sys.path] if p == sys.prefix or 'site-packages' in p]\n"
        "own = [e for e in os.listdir('/tmp') if not any(w.startswith(f'/tmp/{e}/') for w in ways)]\n"
        "print(len(own), len(os.listdir('.')))\n", limits=LIMITS))
    assert v2.status is Status.PASSED and v2.stdout_tail.split() == ["1", "0"], v2


@pytest.fixture
def host_listener():
    """A real listener on the host's 127.0.0.1 that records any connection."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(0.2)
    accepted = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            accepted.append(conn)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], accepted
    stop.set()
    t.join()
    srv.close()


@pytest.mark.isolates("network")
def test_network_is_loopback_only(sandbox, host_listener):
    port, accepted = host_listener
    v = run(sandbox, f"""
        import socket
        print(sorted(name for _, name in socket.if_nameindex()))
        socket.create_connection(("127.0.0.1", {port}), timeout=2)
    """)
    assert v.status is Status.RUNTIME_ERROR, v
    assert v.stdout_tail.strip() == "['lo']"
    assert "ConnectionRefusedError" in v.detail
    assert accepted == []


@pytest.mark.isolates("files")
def test_reading_host_files(sandbox, tmp_path):
    canary = tmp_path / "secret.txt"
    canary.write_text("TOP-SECRET-CANARY")
    # A file the user already has in their home (tests never write there): hidden too.
    home_file = next((f for f in sorted(Path.home().iterdir()) if f.is_file() and os.access(f, os.R_OK)), None)
    # World-readable, straight under the host's /tmp: only a private file system hides it.
    open_canary = Path(f"/tmp/codeharness-canary-{os.getpid()}")
    open_canary.write_text("TOP-SECRET-CANARY")
    open_canary.chmod(0o644)
    try:
        for path in (canary, *([home_file] if home_file else []), open_canary, Path("/etc/shadow")):
            v = run(sandbox, f"print(open({str(path)!r}).read())\n")
            assert v.status is Status.RUNTIME_ERROR, (path, v)
            assert "FileNotFoundError" in v.detail or "PermissionError" in v.detail, (path, v)
            assert "TOP-SECRET" not in v.stdout_tail
    finally:
        open_canary.unlink()


@pytest.mark.isolates("scratch")
def test_writing_outside_its_temp_dir(sandbox):
    for target in ("/etc/codeharness-pwned", "/usr/codeharness-pwned", "/codeharness-pwned"):
        v = run(sandbox, f"open({target!r}, 'w').write('x')\n")
        assert v.status is Status.RUNTIME_ERROR, (target, v)
        assert not Path(target).exists()
    # Writing into shared scratch outside its own dir works, but the next program
    # never sees it.
    v = run(sandbox, "import os\nopen('/tmp/left-behind', 'w').write('x')\nprint(os.getcwd())\n")
    assert v.status is Status.PASSED, v
    v2 = sandbox.execute(ExecRequest("import os\nprint(os.path.exists('/tmp/left-behind'))\n", limits=LIMITS))
    assert v2.stdout_tail.strip() == "False", v2


@pytest.mark.isolates("processes")
def test_killing_its_parent(sandbox):
    v = run(sandbox, """
        import os, signal, sys
        for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGSTOP):
            try:
                os.kill(os.getppid(), sig)
            except OSError:
                pass
        sys.exit(0)
    """, test="assert f() == 1\n")
    assert v.status is Status.FAILED, v
    assert v.attempts == 1


def test_the_protocol_channel_is_out_of_reach(sandbox):
    """A program that could write to its server's channel could forge its own verdict: it
    has no descriptor but its stdio and the result fd, and (docker) the socket the server
    connected to is gone from the file system."""
    v = run(sandbox, """
        import os, socket
        fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect("/run/codeharness/chan")
            reached = "connected"
        except OSError as exc:
            reached = type(exc).__name__
        print(fds, reached, os.path.exists("/run/codeharness/chan"))
    """)
    # 0-3: stdin, stdout, stderr, the result fd; 4: the listing's own directory fd.
    assert (v.status, v.stdout_tail) == (Status.PASSED, "[0, 1, 2, 3, 4] FileNotFoundError False\n"), v


@pytest.mark.isolates("processes")
def test_detached_daemon_is_killed(sandbox):
    v = run(sandbox, """
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                while True:
                    time.sleep(0.1)
            os._exit(0)
        def f():
            return 2
    """, test="assert f() == 1\n")
    assert v.status is Status.FAILED, v
    # Only the fork server (PID 1) and the probe itself are alive in the namespace.
    probe = sandbox.execute(ExecRequest(
        "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n", limits=LIMITS))
    pids = eval(probe.stdout_tail)
    assert len(pids) == 2 and 1 in pids, probe


def test_recursion_overflow(sandbox):
    v = run(sandbox, "def f(n):\n    return f(n + 1)\nf(0)\n")
    assert v.status is Status.RUNTIME_ERROR, v
    assert "RecursionError" in v.detail


@pytest.mark.isolates("scratch")
def test_unremovable_directories_do_not_break_the_worker(sandbox):
    v = run(sandbox, """
        import os
        os.makedirs("a/b")
        open("a/b/f", "w").write("x")
        os.makedirs("/tmp/outside/c")
        for d in ("a/b", "a", "/tmp/outside/c", "/tmp/outside"):
            os.chmod(d, 0)
    """)
    assert v.status is Status.PASSED, v
    # ``run`` already checked that the next program ran first time on a worker.


def test_syntax_error(sandbox):
    v = run(sandbox, "def f(:\n")
    assert v.status is Status.SYNTAX_ERROR, v
    v = run(sandbox, "x = 1\x00\n")
    assert v.status is Status.SYNTAX_ERROR, v


def test_stdin_and_exit_codes(sandbox):
    v = sandbox.execute(ExecRequest("import sys\nprint(sum(map(int, sys.stdin.read().split())))\n",
                                    stdin="1 2\n3\n", limits=LIMITS))
    assert v.status is Status.PASSED and v.stdout_tail == "6\n", v
    v = sandbox.execute(ExecRequest("import sys\nsys.exit(3)\n", limits=LIMITS))
    assert v.status is Status.RUNTIME_ERROR and v.exit_code == 3, v
    v = sandbox.execute(ExecRequest("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", limits=LIMITS))
    assert v.status is Status.RUNTIME_ERROR and v.signal == 11, v


def test_no_new_privileges(sandbox):
    v = sandbox.execute(ExecRequest(
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith(('NoNewPrivs', 'CapEff'))])\n",
        limits=LIMITS))
    assert v.stdout_tail.strip() == "['0000000000000000', '1']", v


def test_runs_as_unprivileged_user_in_fresh_dir(sandbox):
    probe = "import os\nprint(os.getuid(), os.getgid(), os.getcwd(), os.listdir('.'))\n"
    first = sandbox.execute(ExecRequest(probe + "open('mine', 'w')\n", limits=LIMITS))
    second = sandbox.execute(ExecRequest(probe, limits=LIMITS))
    for v in (first, second):
        uid, gid, cwd, listing = v.stdout_tail.split(" ", 3)
        assert int(uid) != 0 and int(gid) != 0
        assert listing.strip() == "[]"


def test_big_integers_and_deep_recursion_allowed(sandbox):
    v = sandbox.execute(ExecRequest(
        "import sys\nprint(len(str(10 ** 5000)))\n"
        "def d(n):\n    return 0 if n == 0 else 1 + d(n - 1)\nprint(d(20000))\n", limits=LIMITS))
    assert v.status is Status.PASSED and v.stdout_tail.split() == ["5001", "20000"], v


def test_no_leftover_processes_on_host(sandbox):
    """Everything a program starts dies with it: nothing runs as a sandbox uid on the host."""
    # An odd duration, so no other `sleep` on the host (a shell waiting 300 s...) is counted.
    run(sandbox, "import subprocess\nsubprocess.Popen(['sleep', '297.31'], start_new_session=True)\n")
    uids = {os.stat(f"/proc/{p}").st_uid for p in os.listdir("/proc") if p.isdigit()
            and os.path.exists(f"/proc/{p}/cmdline") and b"sleep\x00297.31" in _cmdline(p)}
    assert uids == set()


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_the_whole_standard_library_imports(sandbox):
    """Modules the fork server had not loaded import too (a Python under a directory only
    root may enter, e.g. pyenv under /root, once hid them from the sandbox uid)."""
    v = sandbox.execute(ExecRequest(
        "import socket, datetime, sqlite3, zoneinfo, xml.etree.ElementTree, email.mime.text, sortedcontainers\n"
        "print(datetime.date(2024, 2, 29).isoformat(), sqlite3.connect(':memory:').execute('select 7').fetchone())\n",
        limits=LIMITS))
    assert v.status is Status.PASSED, v
    assert v.stdout_tail == "2024-02-29 (7,)\n"


def test_a_descendant_does_not_report_for_the_program(sandbox):
    """A forked child runs the harness's own code when its exec fails; its report must not
    turn the program's clean exit, or its failed test, into something else."""
    fork_exec = "import os\npid = os.fork()\nif pid == 0:\n    os.execv('/nonexistent', ['x'])\nos.waitpid(pid, 0)\n"
    v = sandbox.execute(ExecRequest(fork_exec + "print('parent done')\n", limits=LIMITS))
    assert (v.status, v.exit_code, v.stdout_tail) == (Status.PASSED, 0, "parent done\n"), v
    # The program leaves before the tests; the child it forked passes them in its place.
    proxy = "import os\ndef f():\n    return 1\npid = os.fork()\nif pid:\n    os.waitpid(pid, 0)\n    os._exit(0)\n"
    v = sandbox.execute(ExecRequest(proxy, test="assert f() == 1\n", limits=LIMITS))
    assert (v.status, v.detail) == (Status.FAILED, "program exited before the tests completed"), v


def test_processes_shared_memory_and_localhost_work_as_in_docker(sandbox):
    """Correct programs that use multiprocessing (its semaphores and shared memory live
    in /dev/shm) or resolve `localhost` pass in every sandbox, not only in Docker."""
    v = sandbox.execute(ExecRequest(
        "import multiprocessing as mp, socket\nfrom multiprocessing import shared_memory\n"
        "def sq(x):\n    return x * x\n"
        "if __name__ == '__main__':\n"
        "    with mp.Pool(2) as pool:\n        total = sum(pool.map(sq, range(10)))\n"
        "    lock = mp.Lock()\n    shm = shared_memory.SharedMemory(create=True, size=16)\n"
        "    shm.buf[0] = 7\n    seven = shm.buf[0]\n    shm.close()\n    shm.unlink()\n"
        "    print(total, seven, socket.gethostbyname('localhost'))\n", limits=LIMITS))
    assert (v.status, v.stdout_tail) == (Status.PASSED, "285 7 127.0.0.1\n"), v
