"""``local`` sandbox: the same fork server as Docker, run on the host.

Isolation, strongest available first:

* ``bwrap`` (bubblewrap): private network (loopback only), PID, IPC and UTS
  namespaces; the file system is empty except read-only system and Python
  directories and a private size-limited tmpfs ``/tmp``. Run as root, the server
  drops to a fresh unprivileged uid before the first program.
* ``unshare`` (util-linux): private network (loopback up), PID, IPC and UTS
  namespaces and private size-limited ``/tmp`` and ``/dev/shm``; the rest of the
  host's files are visible with the program's uid's permissions.
* ``none``: resource limits, process-group cleanup and a private temp dir only.

In every mode the dropped uid can import the interpreter's whole library, wherever it
lives (a venv under /tmp, pyenv under a 0700 /root): see ``namespaces``. A mode
weaker than bwrap says so on stderr when a sandbox starts.

What it cannot isolate, in every mode: CPU and memory are rlimits per process, not a
cgroup (a program and its children can together use up to ``max_processes`` times
the memory limit); without bwrap the program can read whatever its uid can read.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

from .base import WorkerBroken
from .forkreap import count_tasks
from .pool import BOOTSTRAP, Channel, Worker, WorkerPool
from .records import ExecRequest, Limits, Status

MODES = ("bwrap", "unshare", "none")
SCRATCH_MB = 512


class PipeChannel(Channel):
    def __init__(self, proc: subprocess.Popen) -> None:
        super().__init__()
        self.proc = proc

    def fileno(self) -> int:
        return self.proc.stdout.fileno()

    def _recv(self) -> bytes:
        data = os.read(self.fileno(), 1 << 16)
        if not data:
            raise WorkerBroken("fork server closed its output")
        return data

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()


class ProcessWorker(Worker):
    def __init__(self, argv: list[str], pass_fds: tuple[int, ...] = ()) -> None:
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     close_fds=True, pass_fds=pass_fds, start_new_session=True)
        self.channel = PipeChannel(self.proc)
        self.handshake()

    def diagnostics(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-2000:].decode(errors="replace").strip()

    def close(self) -> None:
        # End of file on its stdin makes the server kill the running program and
        # exit, even mid-program. stdout is left to be closed when the worker is
        # dropped: a thread blocked reading it must see that EOF, and a descriptor
        # closed under a blocked select() would never wake it.
        for f in (self.proc.stdin, self._stderr):
            try:
                f.close()
            except OSError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# Modules the fork server has not loaded: importing them proves the sandbox uid can
# read the interpreter's standard library and site-packages.
PROBE_PROGRAM = "import socket, datetime, sqlite3, xml.etree.ElementTree, sortedcontainers\n"
WEAKNESS = {
    "unshare": "programs can read every host file their uid may read outside /tmp (world-readable files); "
               "network, processes and /tmp are private",
    "none": "programs share the host's network, see its processes and can read every world-readable file",
}


def available_modes() -> list[str]:
    """Isolation modes that actually work on this host, strongest first."""
    return [mode for mode, why in mode_problems().items() if why is None]


@functools.lru_cache(maxsize=1)
def mode_problems() -> dict[str, str | None]:
    """Why each mode cannot run programs here (None: it can). A mode works when a real
    fork server starts in it and a program there imports modules the server had not."""
    problems: dict[str, str | None] = {}
    for mode in MODES:
        tool = {"bwrap": "bwrap", "unshare": "unshare"}.get(mode)
        if tool and not shutil.which(tool):
            problems[mode] = f"`{tool}` is not installed"
            continue
        problems[mode] = _probe(mode)
    return problems


def _probe(mode: str) -> str | None:
    try:
        with LocalSandbox(workers=1, mode=mode, announce=False) as sb:
            v = sb.execute(ExecRequest(PROBE_PROGRAM, limits=Limits(timeout=20)))
    except Exception as exc:  # the server did not start: its own words say why
        return " ".join(str(exc).split())
    if v.status is not Status.PASSED:
        return f"a program could not import the standard library ({v.status.value}: {v.detail})"
    return None


def _python_dirs() -> list[str]:
    """The interpreter's directories and every site-packages directory on its path: a
    venv's ``.pth`` may add another environment's packages (a nested venv, a system
    site), and programs must import them as the server does. Other path entries (the
    project itself, the working directory) stay hidden: they may hold benchmark tests."""
    dirs = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                           os.path.dirname(os.path.realpath(sys.executable)))}
    dirs |= {os.path.realpath(p) for p in sys.path
             if os.path.basename(p.rstrip(os.sep)) in ("site-packages", "dist-packages") and os.path.isdir(p)}
    # Nested paths are covered by their parents.
    return sorted(d for d in dirs if not any(d != o and d.startswith(o + os.sep) for o in dirs))


# What programs see in /etc/hosts (Docker writes the same into a container): `localhost`
# resolves, and nothing of the host's names shows.
HOSTS = b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def _bwrap_prefix(hosts_fd: int) -> list[str]:
    """bwrap's arguments; ``hosts_fd`` is a file with HOSTS that bwrap reads."""
    argv = ["bwrap", "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid",
            "--unshare-net", "--unshare-uts", "--unshare-cgroup-try", "--as-pid-1"]
    if os.getuid() == 0:
        # Root keeps just enough to drop to ``uid`` itself; the programs get nothing.
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user"]
    # The scratch tmpfs first: a venv under /tmp is bound inside it, not hidden by it.
    argv += ["--perms", "1777", "--size", str(SCRATCH_MB * 2**20), "--tmpfs", "/tmp"]
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    for d in _python_dirs():
        if not d.startswith("/usr/"):
            argv += ["--ro-bind", d, d]
            # bwrap creates the parents (e.g. /root) with the host's 0700 modes;
            # the dropped uid must be able to walk through them.
            parent = os.path.dirname(d)
            while parent not in ("/", "/tmp"):
                argv += ["--chmod", "0755", parent]
                parent = os.path.dirname(parent)
    argv += ["--perms", "0755", "--dir", "/etc"]  # else made with the host's mode for root's dirs: 0700
    for f in ("/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(f):
            argv += ["--ro-bind", f, f]
    argv += ["--perms", "0644", "--ro-bind-data", str(hosts_fd), "/etc/hosts"]
    # A private /dev/shm the program's uid can write: POSIX semaphores and shared memory
    # (multiprocessing's Lock, Pool, shared_memory) live there, as in Docker.
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(SCRATCH_MB * 2**20),
             "--tmpfs", "/dev/shm", "--chdir", "/tmp"]
    return argv


def _unshare_prefix() -> list[str]:
    argv = ["unshare", "--net", "--pid", "--fork", "--mount-proc", "--ipc", "--uts", "--kill-child"]
    if os.getuid() != 0:
        argv.insert(1, "--map-root-user")
    return argv


_ANNOUNCED: set[str] = set()


class LocalSandbox(WorkerPool):
    name = "local"

    def __init__(self, workers: int | None = None, mode: str | None = None, announce: bool = True) -> None:
        super().__init__(workers)
        if mode is not None and mode not in MODES:
            raise ValueError(f"unknown local isolation mode {mode!r}; choose from {', '.join(MODES)}")
        self.mode = mode
        self.announce = announce

    @classmethod
    def identity(cls) -> str:
        """The isolation mode a default sandbox chooses here and the interpreter's version."""
        return f"local:{available_modes()[0]}:{sys.version.split()[0]}"

    def _prepare(self) -> None:
        if self.mode is None:
            self.mode = available_modes()[0]
        if self.announce and self.mode != "bwrap" and self.mode not in _ANNOUNCED:
            # Every command that executes says so (once, however many pools it starts):
            # a weaker mode must never pass unnoticed.
            _ANNOUNCED.add(self.mode)
            why = mode_problems().get("bwrap")
            print(f"codeharness: local sandbox in {self.mode!r} mode: {WEAKNESS[self.mode]}"
                  + (f" (bwrap unusable: {why})" if why else ""), file=sys.stderr)
        self._scratch = tempfile.mkdtemp(prefix="codeharness-local-") if self.mode == "none" else None

    def describe(self) -> dict:
        """Isolation of this sandbox (probes the host if the mode is not chosen yet)."""
        mode = self.mode or available_modes()[0]
        return {
            "sandbox": self.name,
            "mode": mode,
            "network": "loopback only (private namespace)" if mode != "none" else "HOST NETWORK (not isolated)",
            "filesystem": {"bwrap": "read-only system dirs + private tmpfs",
                           "unshare": "private size-limited /tmp and /dev/shm; OTHER HOST FILES readable "
                                      "with the program's uid permissions"}.get(
                mode, "HOST FILES readable with the program's uid permissions"),
            "processes": "private PID namespace" if mode != "none" else "process group + subreaper cleanup",
            "memory": "RLIMIT_AS per process (no cgroup)",
            "uid": "fresh unprivileged uid" if os.getuid() == 0 else "your own uid",
        } | ({"not isolated": WEAKNESS[mode], "bwrap": f"unusable: {mode_problems()['bwrap']}"}
             if mode != "bwrap" else {})

    def _spawn(self) -> Worker:
        uid = random.randint(200_000, 2_000_000_000) if os.getuid() == 0 else 0
        argv = [sys.executable] + BOOTSTRAP[1:]
        private_tmp = ["--tmp", "/tmp", "--wipe", "/tmp,/dev/shm", "--uid", str(uid)]
        hosts = None
        if self.mode == "bwrap":
            hosts = tempfile.TemporaryFile()
            hosts.write(HOSTS)
            hosts.seek(0)
            argv = _bwrap_prefix(hosts.fileno()) + argv + private_tmp
        elif self.mode == "unshare":
            argv = _unshare_prefix() + argv + private_tmp + [
                "--scratch", json.dumps(["/tmp", "/dev/shm"]), "--scratch-mb", str(SCRATCH_MB), "--loopback", "1",
                "--expose", json.dumps(_python_dirs())]
        else:
            tmp = tempfile.mkdtemp(dir=self._scratch)
            os.chmod(self._scratch, 0o755)
            if uid:
                os.chown(tmp, uid, uid)
            argv += ["--tmp", tmp, "--uid", str(uid), "--expose", json.dumps(_python_dirs())]
        if not uid:
            argv += ["--nproc-base", str(count_tasks(os.getuid()))]
        try:
            return ProcessWorker(argv, (hosts.fileno(),) if hosts else ())
        except OSError as exc:
            raise WorkerBroken(f"cannot start local fork server: {exc}") from None
        finally:
            if hosts:
                hosts.close()  # bwrap has read it by the handshake

    def close(self) -> None:
        super().close()
        scratch = getattr(self, "_scratch", None)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
