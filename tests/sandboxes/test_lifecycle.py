"""Pools shut down cleanly: on exit, on Ctrl-C, when the parent is killed; dead
workers are replaced; stale containers are reaped."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import ROOT, docker_ready_or_skip, make_sandbox

from sandboxes import ExecRequest, Limits, Status
from sandboxes.image import (
    DEFAULT_IMAGE,
    OWNER_LABEL,
    SANDBOX_LABEL,
    debian_mirror,
    docker_client,
    owner_tag,
    reap_stale,
    sandbox_containers,
)

HOLDER = """
import json, sys, time
sys.path.insert(0, {root!r})
from sandboxes import DockerSandbox, LocalSandbox, ExecRequest, Limits
sb = {{"docker": DockerSandbox, "local": LocalSandbox}}[sys.argv[1]](workers=2).start()
import os
pipes = [os.fstat(w.proc.stdin.fileno()).st_ino for w in sb._all] if sys.argv[1] == "local" else []
print(json.dumps({{"pipes": pipes}}), flush=True)
sb.execute(ExecRequest("import os\\nos.execvp('sleep', ['sleep', '3061'])\\n", limits=Limits(timeout=60)))
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def _wait_until(cond, seconds: float = 20.0) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


@pytest.mark.parametrize("kind", ["local", "docker"])
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=["kill-9", "term", "int"])
def test_parent_death_leaves_nothing(kind, how):
    if kind == "docker":
        docker_ready_or_skip()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.format(root=str(ROOT)), kind],
                              stdout=subprocess.PIPE, text=True)
    info = json.loads(holder.stdout.readline())
    owner = owner_tag(holder.pid)
    if kind == "docker":
        client = docker_client()
        mine = lambda: sandbox_containers(client, owner)
        assert len(mine()) == 2
    assert _wait_until(lambda: _running(b"sleep\x003061"), 10)  # a program is running in one worker
    holder.send_signal(how)
    holder.wait(30)
    if kind == "docker":
        assert _wait_until(lambda: mine() == []), mine()
    else:
        assert _wait_until(lambda: not _fork_servers_reading(info["pipes"]))
        # The program they were running died with them.
        assert _wait_until(lambda: not _running(b"sleep\x003061"))


def _running(cmdline: bytes) -> list[int]:
    return [p for p in _pids() if cmdline in _cmdline(p)]


def _pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _fork_servers_reading(pipe_inodes):
    """Live fork servers (python, not the bwrap launcher) holding one of these pipes."""
    out = []
    for pid in _running(b"sys.stdin.buffer.readline()"):
        if not _cmdline(pid).startswith(sys.executable.encode()):
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.stat(f"/proc/{pid}/fd/{fd}").st_ino in pipe_inodes and _alive(pid):
                    out.append(pid)
                    break
            except OSError:
                continue
    return out


@pytest.mark.parametrize("kind", ["local", "docker"])
def test_dead_worker_is_replaced_and_request_retried(kind):
    with make_sandbox(kind, workers=1) as sb:
        (worker,) = sb._all
        # The fork server dies under the pool (OOM killer, crash, someone's kill -9).
        if kind == "docker":
            worker.client.api.kill(worker.container_id)
        else:
            (pid,) = _fork_servers_reading([os.fstat(worker.proc.stdin.fileno()).st_ino])
            os.kill(pid, signal.SIGKILL)
        v = sb.execute(ExecRequest("print('still here')\n", limits=Limits(timeout=5)))
        assert v.status is Status.PASSED and v.stdout_tail == "still here\n"
        assert v.attempts == 2
        assert len(sb._all) == 1 and worker not in sb._all


def test_sandbox_error_is_not_a_model_failure_and_is_retried_once():
    with make_sandbox("local", workers=1) as sb:
        # Test code that does not compile is the harness's fault, never the candidate's.
        v = sb.execute(ExecRequest("def f(): return 1\n", test="assert f( == 1\n", limits=Limits(timeout=5)))
        assert v.status is Status.SANDBOX_ERROR and v.attempts == 2
        assert "test code does not compile" in v.detail


def test_stale_containers_are_reaped():
    docker_ready_or_skip()
    client = docker_client()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    stale_owner = owner_tag(dead.pid)
    dead.wait()
    live_owner = owner_tag()
    made = [client.containers.create(DEFAULT_IMAGE, ["sleep", "300"],
                                     labels={SANDBOX_LABEL: "1", OWNER_LABEL: o}, network_mode="none")
            for o in (stale_owner, live_owner)]
    try:
        removed = reap_stale(client)
        assert made[0].id in removed
        assert made[1].id not in removed
        ids = {c["Id"] for c in sandbox_containers(client)}
        assert made[0].id not in ids and made[1].id in ids
    finally:
        for c in made:
            try:
                c.remove(force=True)
            except Exception:
                pass


def test_closed_pool_leaves_no_containers():
    docker_ready_or_skip()
    client = docker_client()
    with make_sandbox("docker", workers=2) as sb:
        sb.execute(ExecRequest("print(1)\n"))
        ids = {w.container_id for w in sb._all}
    assert len(ids) == 2
    left = lambda: ids & {c["Id"] for c in sandbox_containers(client)}
    assert _wait_until(lambda: not left(), 10), left()


def test_a_remote_daemon_keeps_the_protocol_on_the_attach_stream():
    """A daemon on another machine cannot mount this machine's socket: the server then
    answers through the container's attach stream, with the same verdicts, and leaves
    no socket directory behind either way."""
    docker_ready_or_skip()
    from sandboxes.docker_sandbox import AttachChannel, DockerSandbox, SocketChannel

    class RemoteDaemon(DockerSandbox):
        def _prepare(self) -> None:
            super()._prepare()
            self._direct = False

    req = ExecRequest("print(input()[::-1])\n", stdin="olleh\n", limits=Limits(timeout=5))
    for cls, channel in ((RemoteDaemon, AttachChannel), (DockerSandbox, SocketChannel)):
        with cls(workers=1) as sb:
            v = sb.execute(req)
            assert (v.status, v.stdout_tail) == (Status.PASSED, "hello\n"), v
            assert [type(w.channel) for w in sb._all] == [channel]
            assert all(w.socket_dir is None and w.listener is None for w in sb._all)


def test_a_host_process_that_connects_first_cannot_pose_as_the_server():
    """Anyone on the host who finds the socket's path can connect to it before the
    container's server does: without the secret the server got on stdin, it is dropped."""
    docker_ready_or_skip()
    import socket as socketlib

    from sandboxes import docker_sandbox

    forgers = []

    class Raced(docker_sandbox.ContainerWorker):
        def _listen(self, config: dict) -> dict:
            config = super()._listen(config)
            forger = socketlib.socket(socketlib.AF_UNIX)
            forger.connect(os.path.join(self.socket_dir, "chan"))
            forger.sendall(b'{"ready": true, "forged": true}\n')
            forgers.append(forger)
            return config

    class RacedSandbox(docker_sandbox.DockerSandbox):
        def _spawn(self):
            return Raced(self._client, self._config(), direct=True)

    with RacedSandbox(workers=1) as sb:
        v = sb.execute(ExecRequest("print(6 * 7)\n", limits=Limits(timeout=5)))
        assert (v.status, v.stdout_tail) == (Status.PASSED, "42\n"), v
        assert "forged" not in next(iter(sb._all)).info
    assert len(forgers) == 1 and forgers[0].recv(1) == b""  # dropped: end of stream


def test_debian_mirror_from_apt_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n")
    assert debian_mirror(tmp_path) == "http://mirror.example/debian"
    other = tmp_path / "other"
    other.mkdir()
    (other / "sources.list").write_text("# comment\ndeb [arch=amd64] http://old.example/debian bookworm main\n")
    assert debian_mirror(other) == "http://old.example/debian"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert debian_mirror(empty) == "http://deb.debian.org/debian"


@pytest.mark.parametrize("mode", ["bwrap", "unshare", "none"])
def test_every_local_mode_runs_and_cleans_up(mode):
    from sandboxes.local import LocalSandbox, available_modes

    if mode not in available_modes():
        pytest.skip(f"{mode} does not work on this host")
    before = set(Path("/tmp").glob("codeharness-local-*"))
    daemon = ("import os\nif os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', ['sleep', '3062'])\n"
              "open('scratch.txt', 'w').write('x')\n")
    with LocalSandbox(workers=2, mode=mode) as sb:
        assert sb.describe()["mode"] == mode
        verdicts = sb.map([
            ExecRequest("def f():\n    return 1\n", test="assert f() == 1\n"),
            ExecRequest("def f():\n    return 2\n", test="assert f() == 1\n"),
            ExecRequest("while True:\n    pass\n", limits=Limits(timeout=1)),
            ExecRequest(daemon),
        ])
        assert [v.status for v in verdicts] == [Status.PASSED, Status.FAILED, Status.TIMEOUT, Status.PASSED]
        pipes = [os.fstat(w.proc.stdin.fileno()).st_ino for w in sb._all]
    # The daemon died with its program; servers and temp dirs are gone with the pool.
    assert not _running(b"sleep\x003062")
    assert _wait_until(lambda: not _fork_servers_reading(pipes), 10)
    assert set(Path("/tmp").glob("codeharness-local-*")) == before
