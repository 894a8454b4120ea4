"""``docker`` sandbox: a pool of warm containers, one fork server (PID 1) in each.

Containers: no network, read-only root, tmpfs scratch, every capability dropped,
no-new-privileges, memory/pids/CPU limits, an unprivileged uid of their own. The
host talks to the fork server over the container's attached stdin/stdout; with
``stdin_once`` the daemon closes the server's stdin when this process goes away, so
the server exits and ``auto_remove`` deletes the container even after ``kill -9``.
Containers are labelled with their owner; stale ones are reaped on start.
"""

from __future__ import annotations

import random
import socket
import struct

from .base import WorkerBroken
from .image import DEFAULT_IMAGE, OWNER_LABEL, SANDBOX_LABEL, docker_client, owner_tag, reap_stale
from .pool import BOOTSTRAP, Channel, Worker, WorkerPool

STDOUT = 1
SCRATCH_MB = 512


class AttachChannel(Channel):
    """The attach stream multiplexes stdout/stderr in 8-byte-header frames."""

    def __init__(self, sock) -> None:
        super().__init__()
        self.sock: socket.socket = getattr(sock, "_sock", sock)
        self._frames = bytearray()

    def fileno(self) -> int:
        return self.sock.fileno()

    def _recv(self) -> bytes:
        data = self.sock.recv(1 << 16)
        if not data:
            raise WorkerBroken("container closed its output")
        self._frames += data
        out = bytearray()
        while len(self._frames) >= 8:
            stream, size = struct.unpack(">BxxxL", self._frames[:8])
            if len(self._frames) < 8 + size:
                break
            if stream == STDOUT:
                out += self._frames[8 : 8 + size]
            del self._frames[: 8 + size]
        return bytes(out)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)


class ContainerWorker(Worker):
    def __init__(self, client, config: dict) -> None:
        self.client = client
        self.container_id = None
        self.channel = None
        try:
            self.container_id = client.api.create_container(**config)["Id"]
            sock = client.api.attach_socket(self.container_id, params={"stdin": 1, "stdout": 1, "stream": 1})
            self.channel = AttachChannel(sock)
            client.api.start(self.container_id)
            self.handshake()
        except BaseException:
            self.close()
            raise

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
        if self.channel is not None:
            try:
                self.channel.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
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
            return ContainerWorker(self._client, self._config())
        except docker.errors.DockerException as exc:
            raise WorkerBroken(f"cannot start sandbox container: {exc}") from None

