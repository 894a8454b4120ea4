"""The ``ray`` sandbox keeps every node busy while slow programs cluster (a real 2-node
Ray cluster on this machine, 1 CPU per node)."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import ray

from benchmarks import get_benchmark
from sandboxes import ExecRequest, Limits, LocalSandbox, RaySandbox
from sandboxes.ray_sandbox import NodePool

pytestmark = pytest.mark.slow

SLEEPERS = 4
# A sleeper is stopped at its 2 s wall-clock cap: on one node, 4 in a row hold it 8 s.
SLEEPER_LIMITS = Limits(timeout=1.0, wall=2.0)


class TracingPool(NodePool):
    """A node's pool that remembers the requests it answered."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.answered: list[str] = []

    def chunks(self, reqs):
        for answered, stolen in super().chunks(reqs):
            self.answered.extend(reqs[i].id for i, _ in answered)
            yield answered, stolen

    def ran(self) -> list[str]:
        return self.answered


class TracingRay(RaySandbox):
    actor_class = TracingPool


# The nodes' workers cannot import this module (tests/ is not on their path).
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _sleeper_mix() -> list[ExecRequest]:
    """HumanEval's first 30 problems, canonical and wrong, with the sleepers adjacent in
    the middle (as a hard problem's samples that all time out): one batch holds them all."""
    limits = Limits(timeout=3.0)
    reqs = [ExecRequest(code, p.tests.code, limits=limits, id=f"{kind}/{p.id}")
            for p in get_benchmark("humaneval").load()[:30]
            for kind, code in (("ok", p.references[0]), ("none", p.prompt + "    return None\n"))]
    sleepers = [ExecRequest("import time\ntime.sleep(30)\n", limits=SLEEPER_LIMITS, id=f"sleeper/{i}")
                for i in range(SLEEPERS)]
    return reqs[:30] + sleepers + reqs[30:]


def _outcome(verdicts) -> dict:
    return {v.id: (v.status, v.detail, v.passed_tests, v.total_tests, v.attempts) for v in verdicts}


@pytest.mark.parametrize("how", ["run", "execute"])
def test_clustered_slow_programs_are_spread_over_the_nodes(cluster, how):
    """The sleepers are adjacent (in one batch, when they come at once); the other actor,
    once idle, takes back what waits behind them, so each node runs some of them; every
    verdict as on ``local``. Both ways in: ``run`` (a finite source) and ``execute`` from threads
    (the harness's run)."""
    reqs = _sleeper_mix()
    with LocalSandbox(workers=2) as local:
        expected = _outcome(local.map(reqs))
    with TracingRay(address=cluster.address, inner="local") as sb:
        got = _outcome(sb.run(reqs) if how == "run" else _threaded(sb, reqs))
        ran = {a.node: ray.get(a.handle.ran.remote()) for a in sb._fleet.serving()}
        assert sb.lost == 0
    assert got == expected
    assert len(ran) == 2
    assert sorted(i for ids in ran.values() for i in ids) == sorted(r.id for r in reqs)  # each ran once
    assert all(any(i.startswith("sleeper/") for i in ids) for ids in ran.values()), ran


def test_clustered_slow_programs_and_a_node_killed_mid_run(cluster):
    """Steals and a node's death together (it dies 2 s in, most likely while sleepers run;
    what is asserted holds whenever it dies): every request once, verdicts as on ``local``
    but for ``attempts`` (a death charges one)."""
    reqs = _sleeper_mix()
    with LocalSandbox(workers=2) as local:
        expected = {k: v[:4] for k, v in _outcome(local.map(reqs)).items()}
    doomed = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    with RaySandbox(address=cluster.address, inner="local") as sb:
        assert len(sb.describe()["nodes"]) == 3
        killer = threading.Timer(2.0, cluster.remove_node, (doomed,), {"allow_graceful": False})
        killer.start()
        seen = list(sb.run(reqs))
        killer.join()
    assert sorted(v.id for v in seen) == sorted(r.id for r in reqs)  # every request exactly once
    assert {k: v[:4] for k, v in _outcome(seen).items()} == expected


def _threaded(sb: RaySandbox, reqs: list[ExecRequest]) -> list:
    with ThreadPoolExecutor(sb.size) as ex:
        return list(ex.map(sb.execute, reqs))
