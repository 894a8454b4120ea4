"""``docker`` sandbox: a pool of warm containers, one fork server (PID 1) in each.

Containers: no network, read-only root, tmpfs scratch, every capability dropped,
no-new-privileges, memory/pids/CPU limits, an unprivileged uid of their own. The
host sends the fork server its code over the container's attached stdin; the server
then connects to a Unix socket this process listens at, bind-mounted read-only into
the container, and speaks the protocol there: through the attach stream every request
and verdict was relayed by dockerd and the container's shim, which spent as much CPU
per program as this whole process (docs/performance.md). The socket's file is removed
once the server is connected, so nothing else in the container can reach it. A daemon
that is not on this machine (``DOCKER_HOST`` tcp/ssh) cannot mount the socket: then
the protocol stays on the attach stream. When this process goes away, even by
``kill -9``, the server's channel closes (and, with ``stdin_once``, its stdin), so it
exits and ``auto_remove`` deletes the container. Containers are labelled with their
owner; stale ones are reaped on start.
"""

from __future__ import annotations

import os
import random
import secrets
import select
import shutil
import socket
import struct
import tempfile
import time

from .base import WorkerBroken
from .image import DEFAULT_IMAGE, OWNER_LABEL, SANDBOX_LABEL, docker_client, owner_tag, reap_stale
from .pool import BOOTSTRAP, START_TIMEOUT, Channel, Worker, WorkerPool

STDOUT = 1
SCRATCH_MB = 512
CHANNEL_DIR = "/run/codeharness"  # in the container: where the host's socket is mounted


class SocketChannel(Channel):
    """The fork server's own connection to this process: no daemon in between."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()

    def _recv(self) -> bytes:
        data = self.sock.recv(1 << 16)
        if not data:
            raise WorkerBroken("the fork server's channel closed")
        return data

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)


class AttachChannel(SocketChannel):
    """The container's attach stream: stdout and stderr multiplexed in frames with an
    8-byte header."""

    def __init__(self, sock) -> None:
        super().__init__(getattr(sock, "_sock", sock))
        self._frames = bytearray()

    def _recv(self) -> bytes:
        self._frames += super()._recv()
        out = bytearray()
        while len(self._frames) >= 8:
            stream, size = struct.unpack(">BxxxL", self._frames[:8])
            if len(self._frames) < 8 + size:
                break
            if stream == STDOUT:
                out += self._frames[8 : 8 + size]
            del self._frames[: 8 + size]
        return bytes(out)


class ContainerWorker(Worker):
    def __init__(self, client, config: dict, direct: bool) -> None:
        self.client = client
        self.container_id = None
        self.channel = self.attach = None
        self.listener, self.socket_dir = None, None
        try:
            if direct:
                config = self._listen(config)
            self.container_id = client.api.create_container(**config)["Id"]
            sock = client.api.attach_socket(self.container_id, params={"stdin": 1, "stdout": 1, "stream": 1})
            self.channel = self.attach = AttachChannel(sock)
            client.api.start(self.container_id)
            self.handshake()
        except BaseException:
            self.close()
            raise

    def _listen(self, config: dict) -> dict:
        """A socket for the server to connect to, and ``config`` mounting it and telling
        the server where it is."""
        self.socket_dir = tempfile.mkdtemp(prefix="codeharness-chan-")
        os.chmod(self.socket_dir, 0o711)  # the container's uid only needs to pass through
        path = os.path.join(self.socket_dir, "chan")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        os.chmod(path, 0o777)  # connecting needs write permission; the file goes at once
        self.listener.listen(1)
        host_config = dict(config["host_config"], Binds=[f"{self.socket_dir}:{CHANNEL_DIR}:ro"])
        return dict(config, host_config=host_config, command=config["command"] + ["--connect", f"{CHANNEL_DIR}/chan"])

    def connected(self) -> None:
        if self.listener is None:
            return
        secret = secrets.token_hex(16).encode() + b"\n"
        self.attach.send(secret)
        poller = select.poll()
        poller.register(self.listener, select.POLLIN)
        poller.register(self.attach.fileno(), select.POLLIN)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            ready = {fd for fd, _ in poller.poll(left * 1000)} if left > 0 else set()
            if not ready:
                raise WorkerBroken(f"the fork server did not connect within {START_TIMEOUT:.0f} s")
            if self.listener.fileno() not in ready:
                self.attach._recv()  # WorkerBroken at end of stream: the container is gone
                continue
            channel = SocketChannel(self.listener.accept()[0])
            try:  # the server says the secret first; another process on the host cannot
                if channel.readline(max(deadline - time.monotonic(), 0.1)) == secret[:-1]:
                    break
            except WorkerBroken:
                pass
            channel.sock.close()
        self._unlisten()
        self.channel = channel

    def _unlisten(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self.socket_dir = None

    def diagnostics(self) -> str:
        try:
            logs = self.client.api.logs(self.container_id, stdout=False, stderr=True, tail=20)
            return logs.decode(errors="replace").strip()
        except Exception as exc:  # the container may be gone already
            return f"(no logs: {exc})"

    def close(self) -> None:
        # shutdown, not close: it wakes a thread blocked reading the socket with EOF,
        # where a descriptor closed under its select() would never wake it. The
        # socket is closed when the worker is dropped.
        for channel in {self.channel, self.attach} - {None}:
            try:
                channel.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._unlisten()
        if self.container_id is not None:
            try:
                self.client.api.remove_container(self.container_id, force=True)
            except Exception:
                pass  # already removed (auto_remove) or daemon gone


class DockerSandbox(WorkerPool):
    name = "docker"

    def __init__(self, workers: int | None = None, image: str = DEFAULT_IMAGE,
                 container_memory_mb: int = 4096, pids_limit: int = 256, cpus: float = 1.0) -> None:
        super().__init__(workers)
        self.image = image
        self.container_memory_mb = container_memory_mb
        self.pids_limit = pids_limit
        self.cpus = cpus
        self._client = None
        self._direct = False

    @classmethod
    def from_options(cls, workers: int | None = None, memory_mb: int | None = None) -> DockerSandbox:
        """``memory_mb`` sizes the per-container cgroup so that the program's own limit,
        not the cgroup's OOM killer, is what stops it."""
        if memory_mb:
            return cls(workers=workers, container_memory_mb=max(4096, 2 * memory_mb))
        return cls(workers=workers)

    @classmethod
    def identity(cls) -> str:
        """The image's id: a rebuilt image executes again."""
        return f"docker:{docker_client().images.get(DEFAULT_IMAGE).id}"

    def _prepare(self) -> None:
        import docker.errors

        self._client = docker_client()
        try:
            self._client.images.get(self.image)
        except docker.errors.ImageNotFound:
            raise WorkerBroken(f"sandbox image {self.image!r} not found; build it with "
                               "`python -m harness sandbox build`") from None
        reap_stale(self._client)
        # A socket can be mounted only from this machine's file system into its own daemon's
        # containers (the SDK's base URL for a Unix-socket daemon; tcp/ssh ones are remote).
        self._direct = self._client.api.base_url == "http+docker://localhost"

    def describe(self) -> dict:
        return {
            "sandbox": self.name,
            "image": self.image,
            "network": "none",
            "filesystem": f"read-only image root + {SCRATCH_MB} MB tmpfs /tmp",
            "capabilities": "all dropped, no-new-privileges",
            "memory": f"{self.container_memory_mb} MB per container + RLIMIT_AS per program",
            "pids": self.pids_limit,
            "cpus": self.cpus,
            "uid": "fresh unprivileged uid per container",
        }

    def _config(self) -> dict:
        """Low-level create arguments: the high-level API cannot set StdinOnce."""
        uid = random.randint(200_000, 2_000_000_000)
        host_config = self._client.api.create_host_config(
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={SCRATCH_MB}m,mode=1777"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=f"{self.container_memory_mb}m",
            memswap_limit=f"{self.container_memory_mb}m",
            pids_limit=self.pids_limit,
            nano_cpus=int(self.cpus * 1e9),
            auto_remove=True,
        )
        return dict(
            image=self.image,
            command=BOOTSTRAP + ["--tmp", "/tmp", "--wipe", "/tmp,/dev/shm"],
            user=f"{uid}:{uid}",
            working_dir="/tmp",
            labels={SANDBOX_LABEL: "1", OWNER_LABEL: owner_tag()},
            # detach=False + stdin_open is how the SDK sets StdinOnce: the daemon
            # closes the server's stdin when our attach goes away.
            stdin_open=True,
            detach=False,
            tty=False,
            host_config=host_config,
        )

    def close(self) -> None:
        super().close()
        if self._client is not None:
            self._client.close()

    def _spawn(self) -> Worker:
        import docker.errors

        try:
            return ContainerWorker(self._client, self._config(), direct=self._direct)
        except docker.errors.DockerException as exc:
            raise WorkerBroken(f"cannot start sandbox container: {exc}") from None

