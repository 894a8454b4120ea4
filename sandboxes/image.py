"""The sandbox image and the Docker daemon: build, check, reap leaked containers."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

IMAGE_REPO = "codeharness-sandbox"
PYTHON_TAG = "py3.11"  # Debian bookworm's python3; the Dockerfile pins the same version
IMAGE_REVISION = "r3"  # bump when the image's contents change: r2 sortedcontainers, r3 numpy
DEFAULT_IMAGE = f"{IMAGE_REPO}:{PYTHON_TAG}-{IMAGE_REVISION}"
# Importable in every sandbox, as on the judges the benchmarks come from (LeetCode's
# reference solutions use sortedcontainers; AtCoder's, in RunBugRun, numpy).
EXTRA_DEBIAN_PACKAGES = ("python3-sortedcontainers", "python3-numpy")
SANDBOX_LABEL = "org.codeharness.sandbox"
OWNER_LABEL = "org.codeharness.owner"
DOCKERFILE_DIR = Path(__file__).with_name("docker")
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"


class DockerUnavailable(RuntimeError):
    pass


def docker_client():
    """A client for a daemon that answers, or ``DockerUnavailable`` saying why not."""
    try:
        import docker
    except ImportError:
        raise DockerUnavailable("the `docker` Python package is not installed") from None
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:
        raise DockerUnavailable(f"no Docker daemon reachable ({exc.__class__.__name__}: {exc})") from None
    return client


def _start_time(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rfind(")") + 2 :].split()[19]


def owner_tag(pid: int | None = None) -> str:
    """host:pid:start-time — the pid alone could be reused by a later process."""
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def sandbox_containers(client, owner: str | None = None) -> list[dict]:
    """Our containers (id, labels), from one list call: inspecting each one would race
    with ``auto_remove``."""
    label = f"{OWNER_LABEL}={owner}" if owner else SANDBOX_LABEL
    return client.api.containers(all=True, filters={"label": label})


def reap_stale(client) -> list[str]:
    """Remove sandbox containers whose owning process on this host is gone."""
    import docker.errors

    removed = []
    host = socket.gethostname()
    for c in sandbox_containers(client):
        owner = (c.get("Labels") or {}).get(OWNER_LABEL, "")
        parts = owner.split(":")
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue
        if owner_tag(int(parts[1])) == owner:
            continue  # owner still running
        try:
            client.api.remove_container(c["Id"], force=True)
            removed.append(c["Id"])
        except docker.errors.NotFound:
            pass  # auto_remove got there first
    return removed


def image_present(client, tag: str = DEFAULT_IMAGE) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def debian_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt uses (deb822 or one-line format)."""
    files = sorted(sources_dir.glob("sources.list.d/*.sources")) + [sources_dir / "sources.list"]
    files += sorted(sources_dir.glob("sources.list.d/*.list"))
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        for m in re.finditer(r"^URIs:\s*(\S+)(?:(?!^Types:).)*?^Suites:\s*([^\n]*)", text, re.M | re.S):
            if SUITE in m.group(2).split() and "security" not in m.group(1):
                return m.group(1)
        for m in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", text, re.M):
            if m.group(2) == SUITE:
                return m.group(1)
    return DEFAULT_MIRROR


def build_image(tag: str = DEFAULT_IMAGE, method: str = "auto", mirror: str | None = None,
                log: Callable[[str], None] = print) -> str:
    """Build the sandbox image; returns the method that worked.

    ``dockerfile`` needs a registry for its base image; ``debootstrap`` needs only
    a Debian mirror and root, and is what ``auto`` falls back to offline.
    """
    client = docker_client()
    methods = ["dockerfile", "debootstrap"] if method == "auto" else [method]
    errors = []
    for m in methods:
        log(f"building {tag} with {m} ...")
        try:
            if m == "dockerfile":
                client.images.build(path=str(DOCKERFILE_DIR), tag=tag, pull=True, rm=True)
            elif m == "debootstrap":
                _build_debootstrap(client, tag, mirror or debian_mirror(), log)
            else:
                raise ValueError(f"unknown build method {m!r} (dockerfile, debootstrap, auto)")
        except Exception as exc:
            errors.append(f"{m}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc!r}")
            log(f"  {m} failed: {errors[-1]}")
            continue
        return m
    raise RuntimeError("could not build the sandbox image: " + "; ".join(errors))


def _build_debootstrap(client, tag: str, mirror: str, log: Callable[[str], None]) -> None:
    if not shutil.which("debootstrap"):
        raise RuntimeError("debootstrap is not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise RuntimeError("debootstrap needs root")
    with tempfile.TemporaryDirectory(prefix="codeharness-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        log(f"  debootstrap {SUITE} from {mirror} (a few minutes) ...")
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=" + ",".join(("python3",) + EXTRA_DEBIAN_PACKAGES),
             SUITE, str(rootfs), mirror],
            capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"debootstrap failed: {(proc.stderr or proc.stdout).strip()[-500:]}")
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
        tarball = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        repo, _, version = tag.partition(":")
        log("  docker import ...")
        client.api.import_image_from_file(
            str(tarball), repository=repo, tag=version or "latest",
            changes=[f"LABEL {SANDBOX_LABEL}=1", "WORKDIR /tmp", 'CMD ["python3"]'])


def image_python(client, tag: str = DEFAULT_IMAGE) -> str:
    """Python version inside the image, by running it once."""
    out = client.containers.run(tag, ["python3", "-c", "import sys; print(sys.version.split()[0])"],
                                network_mode="none", remove=True)
    return out.decode().strip()
