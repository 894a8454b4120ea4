import os
import shutil
import signal
from pathlib import Path

# Tests never reach the HuggingFace hub (it is not reachable here): `datasets` must
# fail fast instead of retrying, and local dataset folders must load offline.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Ray clusters of the tests live on the loopback interface only (Ray's switch for it).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
# Tests never write to the user's home: the execution cache lives under the temp dir
# (kept between runs, so a second run of the suite is warm).
_TMP = __import__("tempfile").gettempdir()
os.environ.setdefault("CODEHARNESS_CACHE", os.path.join(_TMP, "codeharness-test-cache"))
# `datasets` caches every local folder it loads (Arrow files, locks) under ~/.cache/huggingface.
os.environ.setdefault("HF_DATASETS_CACHE", os.path.join(_TMP, "codeharness-test-hf-datasets"))
# A runner that starts the suite in the background (`cmd &` without job control)
# leaves SIGINT ignored, and every process started from here would inherit that:
# the Ctrl-C tests would test nothing. Python's own handler: children get the default.
signal.signal(signal.SIGINT, signal.default_int_handler)

import pytest  # noqa: E402
from support import REPLAY, harness, make_sandbox, pool  # noqa: E402

# `local:MODE` pins a local isolation mode (the venv test runs the hostile suite so).
SANDBOX_KINDS = os.environ.get("CODEHARNESS_TEST_SANDBOXES", "local,docker").split(",")
# What each sandbox keeps from programs; a test marked `isolates(WHAT)` runs only where
# that is promised (the weaker local modes promise less, and say so when they start).
STRONG = {"network", "files", "processes", "scratch"}
ISOLATES = {"docker": STRONG, "local:bwrap": STRONG, "local:unshare": {"network", "processes", "scratch"},
            "local:none": set()}


def _isolation(kind: str) -> set[str]:
    if kind == "local":
        from sandboxes.local import available_modes

        kind = "local:" + available_modes()[0]
    return ISOLATES[kind]


@pytest.fixture(scope="session", params=SANDBOX_KINDS)
def sandbox(request):
    if request.param == "docker":
        request.applymarker(pytest.mark.docker)
    sb = make_sandbox(request.param)
    with sb:
        yield sb


def pytest_configure(config):
    config.addinivalue_line("markers", "isolates(what): checks a promise (network, files, processes, scratch) "
                                       "that only some sandboxes make")


def pytest_collection_modifyitems(config, items):
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        kind = callspec.params.get("sandbox") if callspec else None
        if kind == "docker" or "docker" in item.name:
            item.add_marker(pytest.mark.docker)
        marker = item.get_closest_marker("isolates")
        if kind and marker and not set(marker.args) <= _isolation(kind):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


# One finished run for every test that needs one to damage (each gets its own copy).
@pytest.fixture(scope="module")
def cluster():
    """A real Ray cluster on this machine: 2 nodes of 1 CPU each."""
    import ray
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c
    if ray.is_initialized():
        ray.shutdown()
    c.shutdown()


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("finished")
    run_dir = tmp / "existing"
    proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp, REPLAY[0], name="ok.yaml"),
                   "--limit", "1", "--n", "1", "--sandbox", "local", "--run-dir", str(run_dir), "--no-calibrate")
    assert proc.returncode == 0, proc.stderr
    return run_dir


@pytest.fixture
def existing_run(finished_run, tmp_path) -> Path:
    return Path(shutil.copytree(finished_run, tmp_path / "existing"))
