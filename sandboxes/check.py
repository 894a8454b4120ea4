"""What ``python -m harness sandbox check`` reports."""

from __future__ import annotations

from .docker_sandbox import DockerSandbox
from .image import DEFAULT_IMAGE, DockerUnavailable, docker_client, image_present, image_python
from .local import LocalSandbox, available_modes, mode_problems


def check() -> dict:
    report: dict = {}
    docker_ready = False
    try:
        client = docker_client()
        report["docker daemon"] = f"reachable (server {client.version().get('Version', '?')})"
        if image_present(client):
            report["docker image"] = f"{DEFAULT_IMAGE} present (Python {image_python(client)})"
            docker_ready = True
        else:
            report["docker image"] = f"{DEFAULT_IMAGE} missing: run `python -m harness sandbox build`"
    except DockerUnavailable as exc:
        report["docker daemon"] = str(exc)
    modes = available_modes()
    report["local isolation modes"] = modes
    unusable = {mode: why for mode, why in mode_problems().items() if why}
    if unusable:
        report["unusable local modes"] = unusable
    chosen = DockerSandbox() if docker_ready else LocalSandbox(mode=modes[0])
    report["default sandbox"] = chosen.name
    report["isolation"] = chosen.describe()
    return report
