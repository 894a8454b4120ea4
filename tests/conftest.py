import os
import signal

# Tests never reach the HuggingFace hub (it is not reachable here): `datasets` must
# fail fast instead of retrying, and local dataset folders must load offline.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# A runner that starts the suite in the background (`cmd &` without job control)
# leaves SIGINT ignored, and every process started from here would inherit that:
# the Ctrl-C tests would test nothing. Python's own handler: children get the default.
signal.signal(signal.SIGINT, signal.default_int_handler)

import pytest  # noqa: E402

from sandboxes import DockerSandbox, LocalSandbox  # noqa: E402
from sandboxes.image import DockerUnavailable, docker_client, image_present  # noqa: E402

SANDBOX_KINDS = ["local", "docker"]


def docker_ready_or_skip() -> None:
    """Docker tests skip on a laptop without Docker, but FAIL in CI (REQUIRE_DOCKER=1)."""
    try:
        ready = image_present(docker_client())
        why = "sandbox image missing (python -m harness sandbox build)"
    except DockerUnavailable as exc:
        ready, why = False, str(exc)
    if not ready:
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail(f"Docker is required here (REQUIRE_DOCKER=1) but {why}")
        pytest.skip(why)


def make_sandbox(kind: str, workers: int = 2):
    if kind == "docker":
        docker_ready_or_skip()
        return DockerSandbox(workers=workers)
    return LocalSandbox(workers=workers)


@pytest.fixture(scope="session", params=SANDBOX_KINDS)
def sandbox(request):
    if request.param == "docker":
        request.applymarker(pytest.mark.docker)
    sb = make_sandbox(request.param)
    with sb:
        yield sb


def pytest_collection_modifyitems(items):
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec and callspec.params.get("sandbox") == "docker" or "docker" in item.name:
            item.add_marker(pytest.mark.docker)
