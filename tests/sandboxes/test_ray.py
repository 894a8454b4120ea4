"""The ``ray`` sandbox on a real 2-node Ray cluster on this machine (1 CPU per node)."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import ray
from support import free_port, harness, harness_process, processes_mentioning, stop_ray_in
from test_lifecycle import _wait_until

from benchmarks import get_benchmark
from benchmarks.requests import exec_request
from sandboxes import ExecRequest, Limits, LocalSandbox, RaySandbox, Status
from sandboxes.image import OWNER_LABEL, SANDBOX_LABEL, DockerUnavailable, docker_client, image_present
from sandboxes.ray_dispatch import MAX_ATTEMPTS
from sandboxes.ray_fleet import BATCH_PER_WORKER
from sandboxes.ray_sandbox import NodePool

LIMITS = Limits(timeout=3.0, memory_mb=512)
BOOTSTRAP_MARK = b"json.loads(sys.stdin.buffer.readline())"  # every fork server's command line

pytestmark = pytest.mark.slow


def _requests() -> list[ExecRequest]:
    humaneval = get_benchmark("humaneval").load()[:12]
    reqs = [ExecRequest(p.references[0], p.tests.code, limits=LIMITS, id=f"ok/{p.id}") for p in humaneval]
    reqs += [ExecRequest(p.prompt + "    return None\n", p.tests.code, limits=LIMITS, id=f"none/{p.id}")
             for p in humaneval]
    for p in [p for p in get_benchmark("codecontests").load(split="train") if p.references][:3]:
        reqs.append(exec_request(p, p.references[0], Limits(timeout=10), id=f"cc/{p.id}"))
        reqs.append(exec_request(p, "print(0)\n", Limits(timeout=10), id=f"cc-wrong/{p.id}"))
    reqs += [
        ExecRequest("while True:\n    pass\n", limits=LIMITS, id="busy-loop"),
        ExecRequest("x = bytearray(8 * 2**30)\n", limits=LIMITS, id="memory-bomb"),
        ExecRequest("import os\nwhile True:\n    os.fork()\n", limits=LIMITS, id="fork-bomb"),
        ExecRequest("import time\ntime.sleep(30)\n", limits=LIMITS, id="sleeper"),
    ]
    return reqs


def _outcome(verdicts):
    return {v.id: (v.status, v.detail, v.passed_tests, v.total_tests) for v in verdicts}


class FaultyPool(NodePool):
    """A node's pool that dies (as an actor killed by what it runs would) whenever its batch
    holds the request ``poison``, and raises whenever it holds ``raises``."""

    def chunks(self, reqs):  # a generator, as the one it stands for
        if any(r.id == "poison" for r in reqs):
            os._exit(1)
        if any(r.id == "raises" for r in reqs):
            raise RuntimeError("the pool broke on this one")
        yield from super().chunks(reqs)


class FaultyRay(RaySandbox):
    actor_class = FaultyPool


# The nodes' workers cannot import this module (tests/ is not on their path): what it
# sends them travels by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _good_requests() -> list[ExecRequest]:
    """40 well-behaved HumanEval programs: 20 canonical solutions, 20 that fail the tests."""
    humaneval = get_benchmark("humaneval").load()[:20]
    return [ExecRequest(code, p.tests.code, limits=LIMITS, id=f"{kind}/{p.id}") for p in humaneval
            for kind, code in (("ok", p.references[0]), ("none", p.prompt + "    return None\n"))]


def _full(v) -> tuple:
    return v.status, v.detail, v.passed_tests, v.total_tests, v.attempts


def _run_with(cluster, bad: ExecRequest) -> tuple[dict, RaySandbox]:
    """``bad`` first, then the 40 good requests (all in the same batch): the verdicts by id
    (the good ones checked against the local sandbox's), and the sandbox, closed."""
    good = _good_requests()
    with LocalSandbox(workers=2) as local:
        expected = {v.id: _full(v) for v in local.map(good)}
    assert sum(e[0] is Status.PASSED for e in expected.values()) == 20
    with FaultyRay(address=cluster.address, inner="local") as sb:
        seen = list(sb.run([bad, *good]))
        assert len(sb.describe()["nodes"]) == 2  # no node given up: each has an actor (serving or starting)
    assert sorted(v.id for v in seen) == sorted([bad.id, *expected])  # every request exactly once
    assert {v.id: _full(v) for v in seen if v.id != bad.id} == expected
    return {v.id: v for v in seen}, sb


def test_a_program_that_kills_its_actor_fails_alone(cluster, capsys):
    """The batch it killed is retried one request at a time: only the poison dies again."""
    verdicts, sb = _run_with(cluster, ExecRequest("print(1)\n", limits=LIMITS, id="poison"))
    assert _full(verdicts["poison"]) == (Status.SANDBOX_ERROR, f"ray: ActorDiedError {MAX_ATTEMPTS} times", 0, 0,
                                         MAX_ATTEMPTS)
    # One death in its batch, then MAX_ATTEMPTS alone.
    assert sb.lost == sb.describe()["lost_actors"] == 1 + MAX_ATTEMPTS
    assert _lost_lines(capsys.readouterr().err) == [
        ("ActorDiedError", "its requests are retried one at a time"),
        *[("ActorDiedError", "its request is retried alone")] * (MAX_ATTEMPTS - 1),
        ("ActorDiedError", f"its request is sandbox_error after {MAX_ATTEMPTS} attempts")]


def test_a_request_that_makes_the_pool_raise_fails_alone(cluster, capsys):
    """An exception in the node's pool (RayTaskError) fails that request only, not the run."""
    verdicts, sb = _run_with(cluster, ExecRequest("print(1)\n", limits=LIMITS, id="raises"))
    assert _full(verdicts["raises"]) == (
        Status.SANDBOX_ERROR, f"ray: the node's pool raised RuntimeError {MAX_ATTEMPTS} times: the pool broke on "
        "this one", 0, 0, MAX_ATTEMPTS)
    assert sb.lost == 1 + MAX_ATTEMPTS  # a pool that raised is replaced
    assert [why for why, _ in _lost_lines(capsys.readouterr().err)] == \
        ["the node's pool raised RuntimeError: the pool broke on this one"] * (1 + MAX_ATTEMPTS)


def test_same_verdicts_through_ray_as_through_local(cluster):
    reqs = _requests()
    with LocalSandbox(workers=2) as local:
        expected = _outcome(local.map(reqs))
    with RaySandbox(address=cluster.address, inner="local") as sb:
        nodes = sb.describe()["nodes"]
        assert len(nodes) == 2 and len({n["node"] for n in nodes}) == 2  # one actor per node
        assert all(n["workers"] == 1 and n["sandbox"] == "local" for n in nodes)
        got = _outcome(sb.map(reqs))
    assert got == expected
    assert expected["busy-loop"][0] is Status.TIMEOUT and expected["memory-bomb"][0] is Status.OOM
    assert expected["fork-bomb"][0] is Status.RUNTIME_ERROR and expected["sleeper"][0] is Status.TIMEOUT
    assert sum(expected[r.id][0] is Status.PASSED for r in reqs) == 15  # 12 canonical + 3 reference


def test_a_node_killed_mid_run_loses_nothing(cluster):
    doomed = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    # Enough for a full batch on every actor (1 worker each), so the doomed node dies 1 s in
    # with a batch in flight (a batch runs for seconds).
    n = 3 * BATCH_PER_WORKER + 108
    reqs = [ExecRequest(f"import time\ntime.sleep(0.05)\nprint({i})\n", limits=LIMITS, id=str(i)) for i in range(n)]
    before = set(_fork_servers())
    with RaySandbox(address=cluster.address, inner="local") as sb:
        assert len(sb.describe()["nodes"]) == 3
        killer = threading.Timer(1.0, cluster.remove_node, (doomed,), {"allow_graceful": False})
        killer.start()
        seen = list(sb.run(reqs))
        killer.join()
        assert sb.lost >= 1
    assert sorted(int(v.id) for v in seen) == list(range(n))  # every request exactly once
    assert all(v.status is Status.PASSED and v.stdout_tail == f"{v.id}\n" for v in seen)
    assert _wait_until(lambda: set(_fork_servers()) <= before, 30)


def test_a_killed_actor_leaves_nothing_running(cluster):
    """SIGKILL of an actor process: its fork servers and containers go with it."""
    try:
        docker = docker_client()
        docker = docker if image_present(docker) else None
    except DockerUnavailable:
        docker = None
    inner = "docker" if docker is not None else "local"
    before = set(_fork_servers())
    with RaySandbox(address=cluster.address, inner=inner) as sb:
        assert sb.execute(ExecRequest("print(1)\n", limits=LIMITS)).status is Status.PASSED
        victim = sb.describe()["nodes"][0]["pid"]
        os.kill(victim, 9)
        # The requests still all run, on the other actor (or the dead one's replacement).
        verdicts = sb.map([ExecRequest(f"print({i})\n", limits=LIMITS) for i in range(6)])
        assert [v.stdout_tail for v in verdicts] == [f"{i}\n" for i in range(6)]
    assert _wait_until(lambda: set(_fork_servers()) <= before, 30)
    if docker is not None:
        owner = f"{socket.gethostname()}:{victim}:"
        assert _wait_until(lambda: not [c for c in docker.api.containers(all=True, filters={"label": SANDBOX_LABEL})
                                        if (c.get("Labels") or {}).get(OWNER_LABEL, "").startswith(owner)], 30)


def test_run_cli_on_a_cluster_survives_a_node_dying(cluster, tmp_path):
    """`run --sandbox ray`: a node killed mid-run; every sample once, verdicts as uninterrupted."""
    doomed = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    # Enough samples that every actor gets its full share at once (3 x 2 batches of 64),
    # each 0.1 s long: the doomed node is surely busy when it dies (~13 s of work each).
    problems = list(get_benchmark("humaneval").load())[:24]
    samples = tmp_path / "slow.jsonl"
    samples.write_text("".join(json.dumps({"task_id": p.id, "solution": "import time\ntime.sleep(0.1)\n"
                                           + (p.references[0] if i % 2 else "def nothing():\n    pass\n")}) + "\n"
                               for p in problems for i in range(20)))
    pool = tmp_path / "pool.yaml"
    pool.write_text(json.dumps([{"name": "slow", "provider": "replay", "path": str(samples), "n": 20, "price": 0}]))
    base = ["run", "--dataset", "humaneval", "--limit", "24", "--models", str(pool), "--no-calibrate", "--timeout",
            "10"]
    ref = harness(*base, "--sandbox", "local", "--run-dir", str(tmp_path / "local"), timeout=600)
    assert ref.returncode == 0, ref.stderr[-2000:]
    store = tmp_path / "ray" / "run.sqlite"
    before = set(_fork_servers())
    proc = harness_process(*base, "--sandbox", "ray", "--ray-address", cluster.address, "--run-dir",
                           str(tmp_path / "ray"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert _wait_until(lambda: _executed(store) >= 40, 300), proc.poll()
    cluster.remove_node(doomed, allow_graceful=False)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    assert "ray node" in err
    # The doomed node's actor, and only it, was lost, as a node's death (its requests
    # resubmitted in batches). The line may come after a progress bar's.
    lost = _lost_lines(err)
    assert len(lost) == 1 and lost[0][0].endswith(", node gone"), err[-3000:]
    assert lost[0][1] == "its requests go to the other actors"
    assert _verdicts(tmp_path / "ray") == _verdicts(tmp_path / "local")
    assert len(_verdicts(tmp_path / "ray")) == 24 * 20
    assert sorted(set(_verdicts(tmp_path / "ray").values())) == ["passed", "runtime_error"]
    assert _wait_until(lambda: set(_fork_servers()) <= before, 30)
    # The run store records its actors (as `environment`, at the end: those serving and the
    # one lost): none left a container.
    with sqlite3.connect(store) as con:
        env = json.loads(con.execute("SELECT value FROM meta WHERE key = 'environment'").fetchone()[0])
    assert (len(env["nodes"]), env["lost_actors"], len(env["lost"])) == (2, 1, 1)
    env["nodes"] += env["lost"]
    try:
        docker = docker_client()
        docker = docker if image_present(docker) else None
    except DockerUnavailable:
        docker = None
    assert {n["sandbox"] for n in env["nodes"]} == {"docker" if docker is not None else "local"}
    if docker is None:
        return
    owners = tuple(f"{n['host']}:{n['pid']}:" for n in env["nodes"])
    assert _wait_until(lambda: not [c for c in docker.api.containers(all=True, filters={"label": SANDBOX_LABEL})
                                    if (c.get("Labels") or {}).get(OWNER_LABEL, "").startswith(owners)], 30)


def test_bad_ray_address_is_one_line_before_anything_runs(tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("print(1)\n")
    proc = harness("exec", str(prog), "--sandbox", "ray", "--ray-address", "127.0.0.1:9", timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: sandbox unavailable: no Ray cluster at 127.0.0.1:9: Connection refused"], proc.stderr


def test_ray_address_is_the_default_address(cluster, tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("print(1)\n")
    env = {**os.environ, "RAY_ADDRESS": cluster.address}
    proc = harness("exec", str(prog), "--sandbox", "ray", timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["status"] == "passed"
    assert "starting a local Ray instance" not in proc.stderr
    used = sorted(line.split()[3] for line in proc.stderr.splitlines() if line.startswith("codeharness: ray node "))
    assert used == sorted(n.node_id[:12] for n in cluster.list_all_nodes())  # that cluster's nodes


def test_with_no_ray_address_a_local_instance_is_started(tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("print(1)\n")
    # Its own temp dir, to find its processes by and stop them (`ray stop` would stop every
    # Ray here, a test's Cluster too).
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_TMPDIR=str(temp), RAY_OVERRIDE_RESOURCES='{"CPU": 1}', RAY_AUTH_MODE="disabled")
    try:
        proc = harness("exec", str(prog), "--sandbox", "ray", timeout=300, env=env)
    finally:
        stop_ray_in(temp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "codeharness: no --ray-address and no RAY_ADDRESS: starting a local Ray instance" in \
        proc.stderr.splitlines()
    assert json.loads(proc.stdout.strip().splitlines()[-1])["status"] == "passed"
    assert len([line for line in proc.stderr.splitlines() if line.startswith("codeharness: ray node ")]) == 1


def test_ray_address_of_a_cluster_started_by_ray_start(tmp_path):
    port = free_port()
    # A token a user may have in ~/.ray/auth_token must not switch this cluster to token auth.
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
    ray_bin = str(Path(sys.executable).with_name("ray"))
    # Its own temp dir, to find its processes by (`ray stop` would stop every Ray here);
    # short, since Ray's Unix sockets live in it (a socket path has at most 107 bytes).
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    subprocess.run([ray_bin, "start", "--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                    "--disable-usage-stats", f"--temp-dir={temp}"], check=True, capture_output=True, env=env,
                   timeout=120)
    try:
        prog = tmp_path / "p.py"
        prog.write_text("import sys\nprint(sum(map(int, sys.stdin.read().split())))\n")
        stdin = tmp_path / "in.txt"
        stdin.write_text("2 3\n")
        proc = harness("exec", str(prog), "--stdin", str(stdin), "--sandbox", "ray", "--ray-address",
                       f"127.0.0.1:{port}", timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        verdict = json.loads(proc.stdout.strip().splitlines()[-1])
        assert (verdict["status"], verdict["stdout_tail"]) == ("passed", "5\n")
    finally:
        stop_ray_in(temp)


def _lost_lines(stderr: str) -> list[tuple[str, str]]:
    """(why, what became of its requests) of each lost actor the ``ray`` sandbox reported
    (a line may come after a progress bar's)."""
    return re.findall(r"codeharness: ray node \w+ \(.*?\): actor lost \((.*)\): (its .*)", stderr)


def _executed(store: Path) -> int:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("SELECT count(*) FROM samples WHERE status IS NOT NULL").fetchone()[0]
    except sqlite3.Error:
        return 0


def _verdicts(run_dir: Path) -> dict:
    with sqlite3.connect(run_dir / "run.sqlite") as con:
        rows = con.execute("SELECT problem, model, sample, status FROM samples").fetchall()
    return {(p, m, s): st for p, m, s, st in rows}


def _fork_servers() -> list[int]:
    """Fork servers started by a Ray actor (they inherit its RAY_RAYLET_PID), even
    once orphaned; other sandboxes on this machine are not counted."""
    return processes_mentioning(BOOTSTRAP_MARK, b"RAY_RAYLET_PID=")
