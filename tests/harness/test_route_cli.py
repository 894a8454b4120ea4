"""The route, gate and report oracle-gap commands end to end: on the artifact, on runs and on
matrix files, their errors, and the cascade on a run and on the artifact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import ROOT, harness

from benchmarks.io import read_records


def test_route_cli_eval_train_compare(tmp_path):
    proc = harness("route", "eval", "--router", "sbs", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["quality"] == pytest.approx(88 / 178) and row["closed_gap"] == 0.0
    out = tmp_path / "cot"
    assert harness("route", "train", "--router", "cot-length", "--param", "k=4", "--out", str(out)).returncode == 0
    assert json.loads((out / "router.json").read_text())["state"]["k"] == 4
    proc = harness("route", "eval", "--model-dir", str(out), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["router"] == "cot-length"
    proc = harness("route", "compare", "--routers", "sbs,oracle,cot-length,cheapest")
    assert proc.returncode == 0, proc.stderr
    assert "| oracle | 178/178 | 0.6011 |" in proc.stdout and "Pareto front:" in proc.stdout
    lo, hi = (float(x) for x in proc.stdout.rsplit("[", 1)[1].rstrip("]\n").split(", "))  # the area's CI
    assert 0 < lo <= hi < 1
    # Qwen2.5-Coder-32B has recordings for the 50 HumanEval test problems only: its 0.94 is not comparable,
    # so it comes last, marked, with its coverage (not first with closed gap 0).
    table = [line for line in proc.stdout.splitlines() if line.startswith("| ")][1:]  # the rows, no header
    # Its paired difference to the SBS is over those 50; no APGR: it costs more than the SBS there.
    assert table[-1] == "| model:Qwen2.5-Coder-32B-Instruct | 50/178 | 0.9400 |  | 2.758e-04 |  | 1.0000 " \
                        "| 0.0000 |  | 0.0600 | [-0.0200, 0.1400] | sbs | 0.0600 | [-0.0200, 0.1400] | nan | nan " \
                        "| False | True |"
    assert all(line.endswith("| False |") for line in table[:-1]) and table[0].startswith("| oracle | 178/178 |")
    assert "partial = True: scored on the covered test problems only" in proc.stdout
    for fmt in ("csv", "json"):
        proc = harness("route", "compare", "--routers", "sbs,adaptivellm-published", "--format", fmt)
        assert proc.returncode == 0, proc.stderr
        if fmt == "csv":
            lines = proc.stdout.splitlines()
            assert lines[0].startswith("router,coverage,quality,") and lines[0].endswith(",on_front,partial")
            assert [line.split(",")[:2] for line in lines[-2:]] == [["model:Qwen2.5-Coder-32B-Instruct", "50/178"],
                                                                   ["adaptivellm-published", "136/178"]]
        else:
            rows = json.loads(proc.stdout)["rows"]
            assert [(r["router"], r["coverage"], r["partial"]) for r in rows if r["partial"]] == [
                ("model:Qwen2.5-Coder-32B-Instruct", "50/178", True), ("adaptivellm-published", "136/178", True)]
            assert rows[0]["router"] == "sbs" and not any(r["partial"] for r in rows[:-2])


@pytest.mark.parametrize("args,message", [
    (["route", "eval", "--router", "gpt-router"], "unknown router 'gpt-router'"),
    (["route", "eval", "--router", "cot-length", "--param", "depth=3"], "bad --param"),
    (["route", "eval", "--router", "sbs", "--split", "valid"], "no split 'valid'"),
    (["route", "eval", "--router", "sbs", "--data", "/no/such/run"], "/no/such/run: no such run directory"),
    (["route", "eval", "--model-dir", "/no/such/dir"], "not a saved router"),
    (["route", "eval", "--router", "cascade", "--param", "chain=foo"],
     "chain must be one of front, all, tuned, got 'foo'"),
    (["route", "eval", "--router", "cascade", "--param", "timeout=abc"], "--param timeout='abc': expected float"),
    (["route", "eval", "--router", "complexitynet", "--param", "epochs=abc"], "--param epochs='abc': expected int"),
    (["route", "eval", "--router", "complexitynet", "--param", "references=a,b"], "three different model names"),
    (["route", "eval", "--router", "complexitynet", "--param", "references=a,a,b"], "three different model names"),
    (["route", "eval", "--model-dir", "/no/such/dir", "--param", "chain='all'"], "drop --router / --param"),
    (["route", "compare", "--routers", ","], "--routers ',': no router named"),
])
def test_route_cli_errors(args, message):
    proc = harness(*args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("routers,message", [
    ({"cascade": {"params": {"chain": "foo"}, "metrics": {"quality": {"value": 0.5, "tolerance": 0}}}},
     "router 'cascade': chain must be"),
    ({"sbs": {"params": ["x"], "metrics": {"quality": {"value": 0.5, "tolerance": 0}}}}, "optional 'params' mapping"),
    ({"sbs": {"metrics": {"quality": {"value": 0.5, "tolerance": -1}}}}, "'tolerance' must be >= 0"),
    ({"sbs": {"metrics": {"quality": {"value": True, "tolerance": 0}}}}, "needs numeric 'value'"),
    ({"gpt": {"metrics": {"quality": {"value": 0.5, "tolerance": 0}}}}, "routers.gpt: unknown router"),
])
def test_gate_bad_baselines_exit_2_before_training(tmp_path, routers, message):
    """Exit 1 means "quality regressed" to CI; a broken baseline file must not look like one."""
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"routers": {"cot-length": {"metrics": {"quality": {"value": 0, "tolerance": 0}}},
                                            **routers}}))
    proc = harness("gate", "--baseline", str(path))
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_empty_runs_and_runs_without_the_artifacts_problems(tmp_path):
    """A run that would store no sample is refused (one line), and routers on its empty
    store say so in one line; on a dataset the artifact does not cover, routers needing
    CoT lengths are skipped with a note, each on its own line."""
    pool = tmp_path / "pool.yaml"
    pool.write_text(json.dumps([{"name": "Yi-Coder-1.5B-Chat", "provider": "replay", "price": 0.14, "n": 1}]))
    run = tmp_path / "run"
    proc = harness("run", "--dataset", "mbpp", "--models", str(pool), "--limit", "3", "--sandbox", "local",
                   "--run-dir", str(run), "--no-calibrate")
    assert proc.returncode == 2 and proc.stderr == (
        "error: mbpp: no model has a sample for the 3 selected problems: Yi-Coder-1.5B-Chat has no recordings of "
        "mbpp; use models that generate (or recordings of mbpp)\n")
    proc = harness("route", "eval", "--router", "sbs", "--data", str(run))
    assert proc.returncode == 2 and f"{run}: no scored samples yet" in proc.stderr, proc.stderr
    other = tmp_path / "s.jsonl"
    from benchmarks import get_benchmark

    mbpp = get_benchmark("mbpp").load(split="test")[:10]
    other.write_text("".join(json.dumps({"task_id": p.id, "solution": p.references[0]}) + "\n" for p in mbpp))
    pool.write_text(json.dumps([{"name": "ref", "provider": "replay", "path": str(other), "price": 1.0}]))
    run = tmp_path / "run2"
    proc = harness("run", "--dataset", "mbpp", "--models", str(pool), "--limit", "10", "--sandbox", "local",
                   "--run-dir", str(run), "--no-calibrate")
    assert proc.returncode == 0, proc.stderr
    proc = harness("route", "compare", "--data", str(run), "--routers", "sbs,cot-length,adaptivellm-published",
                   "--format", "json")
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "note: skipped" in line]
    assert len(notes) == 2 and all(line.startswith("note: skipped: router '") for line in notes), proc.stderr
    assert "no CoT lengths of 'DeepSeek-R1-Distill-Qwen-32B'" in proc.stderr
    out = json.loads(proc.stdout)
    assert [r["router"] for r in out["rows"]] == ["sbs", "model:ref"] and out["front_area"] is None
    # 30 % of the dataset's 10 problems, exactly, for test
    proc = harness("route", "eval", "--router", "sbs", "--data", str(run), "--format", "json")
    assert json.loads(proc.stdout)[0]["problems"] == 3


def test_oracle_gap_on_a_matrix_file(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("problem,cheap,mid,big\np1,1,1,0\np2,0,1,1\np3,0,0,1\np4,1,0,1\n")
    proc = harness("report", "oracle-gap", str(csv), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"dataset": "all", "n": 4, "sbs_model": "big", "sbs_mean": 0.75,
                                        "oracle_mean": 1.0, "og": 0.25, "wcr": 0.75, "wcr_strict": 0.25}]
    proc = harness("report", "oracle-gap", str(csv), "--format", "csv")
    assert proc.stdout.splitlines()[:2] == [
        "dataset,n,sbs_model,sbs_mean,oracle_mean,og,wcr,wcr_strict,dropped_models,dropped_problems",
        "all,4,big,0.7500,1.0000,0.2500,0.7500,0.2500,[],0"]
    # Dataset b has no problem every model with scores has scored: dropped, with a note saying why.
    csv.write_text("dataset,problem,cheap,mid,big\na,p1,1,1,0\na,p2,0,1,1\nb,p3,1,,\nb,p4,,0,\n")
    proc = harness("report", "oracle-gap", str(csv), "--format", "json")
    assert proc.returncode == 0 and [r["dataset"] for r in json.loads(proc.stdout)] == ["a"]
    assert proc.stderr == ("note: dataset 'b' dropped: no problem is scored by every model that has scores "
                           "(2 problems, 1 of 3 models without any score)\n")
    csv.write_text("problem,cheap\np1,1\np2,7\n")
    proc = harness("report", "oracle-gap", str(csv))
    assert proc.returncode == 2 and "line 3: column 'cheap' must hold scores in [0, 1] (got '7')" in proc.stderr


def replay_run(tmp_path, cheap: str, dear: str, n: int, limit: int) -> Path:
    """A HumanEval replay run of two AdaptiveLLM models (prices 0.14 and 1.26)."""
    pool = tmp_path / "pool.yaml"
    pool.write_text(json.dumps([{"name": cheap, "provider": "replay", "price": 0.14, "n": n},
                                {"name": dear, "provider": "replay", "price": 1.26, "n": n}]))
    run = tmp_path / "run"
    proc = harness("run", "--dataset", "humaneval", "--models", str(pool), "--limit", str(limit), "--sandbox",
                   "local", "--run-dir", str(run), "--no-calibrate")
    assert proc.returncode == 0, proc.stderr
    return run


def test_oracle_gap_notes_a_run_dataset_it_drops(tmp_path):
    """A run of humaneval + mbpp whose mbpp sample was generated, never executed: mbpp has no
    scored sample, so the report drops it and says so (one line on stderr)."""
    from harness.providers import Generation
    from harness.store.runstore import RunStore, SampleKey
    from sandboxes import Limits, Status, Verdict

    store = RunStore(tmp_path)
    store.set_meta("run", {"datasets": ["humaneval", "mbpp"], "split": "test", "source": None})
    store.set_model("a", {}, 1.0, 1.0)
    store.set_model("b", {}, 2.0, 2.0)
    for model, problem, passed in (("a", "HumanEval/0", True), ("a", "HumanEval/1", False),
                                   ("b", "HumanEval/0", False), ("b", "HumanEval/1", True), ("a", "MBPP/11", None)):
        key = SampleKey("mbpp" if problem.startswith("MBPP") else "humaneval", problem, model, 0)
        store.add_generation(key, "p", Generation("c", tokens_in=1, tokens_out=2), "c", "c", 3e-6)
        if passed is not None:
            store.add_verdict(key, Verdict(Status.PASSED if passed else Status.FAILED), Limits(timeout=10.0))
    store.close()
    proc = harness("report", "oracle-gap", str(tmp_path), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    # means a 0.5, b 0.5 -> SBS a (cheaper); b wins HumanEval/1 outright: WCR = strict WCR = 1/2
    assert json.loads(proc.stdout) == [{"dataset": "humaneval", "n": 2, "sbs_model": "a", "sbs_mean": 0.5,
                                        "oracle_mean": 1.0, "og": 0.5, "wcr": 0.5, "wcr_strict": 0.5}]
    assert proc.stderr == "note: dataset 'mbpp' dropped: the run has no scored sample of it\n"


def test_oracle_gap_on_a_run(tmp_path):
    run = replay_run(tmp_path, "Yi-Coder-1.5B-Chat", "Qwen2.5-Coder-32B-Instruct", n=5, limit=10)
    proc = harness("report", "oracle-gap", str(run), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    import harness as api

    m = api.load_matrix(run).passes
    assert row["n"] == 10 and row["oracle_mean"] == pytest.approx(m.max(axis=1).mean())
    assert row["sbs_mean"] == pytest.approx(m.mean().max())
    # Routers train on a run too (seeded split per dataset); the oracle reaches the matrix's per-problem best.
    proc = harness("route", "eval", "--router", "oracle", "--data", str(run), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    (ev,) = json.loads(proc.stdout)
    from harness.route.from_runs import from_run

    test = from_run(run).split("test")
    assert ev["covered"] == len(test.scores) and ev["quality"] == pytest.approx(test.scores.max(axis=1).mean())


def test_gate_passes_on_the_committed_baseline_and_fails_a_degraded_router(tmp_path):
    baseline = ROOT / ".ci/router-baseline.json"
    proc = harness("gate", "--baseline", str(baseline))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("| ok |") == sum(len(r["metrics"]) for r in json.loads(baseline.read_text())["routers"]
                                              .values())
    spec = json.loads(baseline.read_text())
    # Degrade the CoT-length router: a weaker reasoner's lengths make worse difficulty levels.
    spec["routers"]["cot-length"]["params"] = {"reasoner": "DeepSeek-R1-Distill-Qwen-1.5B"}
    # and the cascade: trying every model, not the tuned chains, pays for many more generations.
    spec["routers"]["cascade"]["params"] = {"chain": "all"}
    degraded = tmp_path / "b.json"
    degraded.write_text(json.dumps(spec))
    proc = harness("gate", "--baseline", str(degraded), "--format", "json")
    assert proc.returncode == 1 and "router quality regressed" in proc.stderr
    rows = {(r["router"], r["metric"]): r for r in json.loads(proc.stdout)}
    worse = rows[("cot-length", "quality")]
    assert worse["status"] == "WORSE" and worse["now"] == pytest.approx(0.2865, abs=1e-4)
    assert rows[("sbs", "quality")]["status"] == "ok"
    dearer = rows[("cascade", "cost_per_problem")]
    assert dearer["status"] == "WORSE" and dearer["now"] == pytest.approx(6.1489e-4, rel=1e-4)
    assert rows[("cascade", "quality")]["status"] == "ok"  # it does pass more: 0.562
    degraded.write_text('{"routers": {"sbs": {"metrics": {"speed": {"value": 1, "tolerance": 0}}}}}')
    proc = harness("gate", "--baseline", str(degraded))
    assert proc.returncode == 2 and "routers.sbs.metrics.speed: unknown metric" in proc.stderr


def test_cascade_on_a_run(tmp_path):
    from benchmarks import get_benchmark
    from harness.route.from_runs import from_run
    from routers.base import Routing
    from routers.cascade import Cascade
    from routers.scoring import evaluate

    cheap, dear = "Yi-Coder-1.5B-Chat", "deepseek-coder-33b-instruct"
    run = replay_run(tmp_path, cheap, dear, n=1, limit=40)
    proc = harness("route", "eval", "--router", "cascade", "--param", "chain='all'", "--data", str(run),
                   "--format", "json")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    data = from_run(run)
    test = data.split("test")
    he = get_benchmark("humaneval")
    problems = {p.id: p for p in he.load()}
    with_examples = {i for i in test.scores.index if he.public_tests(problems[i.split("/", 1)[1]])}
    # Two models: only the cheaper one's programs are executed, once per problem that has examples.
    assert row["executions"] == len(with_examples) > 0
    router = Cascade(chain="all", sandbox="local").fit(data.split("train"))
    routing = router.route(test)
    choices = routing.choices
    assert routing.executions == len(with_examples)
    # An escalated problem paid for both generations; one without examples only for the SBS's.
    for pid, models in routing.runs.items():
        want = (cheap, dear) if pid in with_examples and choices[pid] == dear else (choices[pid],)
        assert models == want, pid
    paid = [sum(test.costs.at[p, m] for m in routing.runs[p]) for p in test.scores.index]
    assert evaluate(Routing(choices, runs=routing.runs), test)["cost_per_problem"] == pytest.approx(np.mean(paid))
    assert row["cost_per_problem"] == pytest.approx(np.mean(paid))


@pytest.mark.docker
def test_cascade_on_the_artifact():
    """The artifact's first responses made programs (as replay does) and run on the
    statement examples: HumanEval docstrings, LeetCode examples, CodeContests samples."""
    proc = harness("route", "compare", "--routers", "cascade", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["router"]: r for r in json.loads(proc.stdout)["rows"]}
    front, every = rows["cascade(chain=front)"], rows["cascade(chain=all)"]
    # front chain = the train split's cost-quality front: Yi-Coder-1.5B, starcoder2-15B, deepseek-coder-v2-lite.
    assert (round(front["quality"] * 178), front["executions"]) == (92, 197)
    assert (round(every["quality"] * 178), every["executions"]) == (100, 392)
    assert front["cost_per_problem"] == pytest.approx(3.8938e-4, rel=1e-4)
    assert every["cost_per_problem"] == pytest.approx(6.1489e-4, rel=1e-4)
    # The tuned ones stay within the training SBS's cost here too (the SBS: deepseek-coder-v2-lite).
    sbs = rows["model:deepseek-coder-v2-lite-instruct"]
    for split in (False, True):
        tuned = rows[f"cascade(chain=tuned, by_dataset={split})"]
        assert tuned["cost_per_problem"] <= sbs["cost_per_problem"] and tuned["quality"] > sbs["quality"]
    assert set(front["shares"]) == {"Yi-Coder-1.5B-Chat", "starcoder2-15b-instruct-v0.1",
                                    "deepseek-coder-v2-lite-instruct"}


def test_cascade_reads_the_problems_from_the_runs_own_source(tmp_path):
    """A run made with --source (here 12 HumanEval rows under new ids) is executed
    against those problems, not the bundled ones with the same names."""

    rows = list(read_records(ROOT / "benchmarks/data/humaneval/HumanEval.jsonl.gz"))[:12]
    samples = []
    for r in rows:
        r["task_id"] = "Mine/" + r["task_id"].split("/")[1]
        samples.append({"task_id": r["task_id"], "completion": r["canonical_solution"], "tokens_out": 10})
    (tmp_path / "src.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in samples))
    (tmp_path / "pool.yaml").write_text(json.dumps([
        {"name": "a", "provider": "replay", "path": "s.jsonl", "price": 0.1},
        {"name": "b", "provider": "replay", "path": "s.jsonl", "price": 1.0}]))
    run = tmp_path / "run"
    proc = harness("run", "--dataset", "humaneval", "--source", str(tmp_path / "src.jsonl"), "--models",
                   str(tmp_path / "pool.yaml"), "--sandbox", "local", "--run-dir", str(run), "--no-calibrate")
    assert proc.returncode == 0, proc.stderr
    proc = harness("route", "eval", "--router", "cascade", "--param", "chain='all'", "--param", "sandbox='local'",
                   "--data", str(run), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    # Canonical solutions pass their examples (none of the 12 is HumanEval/47): "a" answers every test problem
    # that has examples, executed once each; "b" is never needed.
    assert row["quality"] == 1.0 and row["executions"] > 0 and set(row["shares"]) <= {"a", "b"}
    assert row["cost_per_problem"] == pytest.approx(10 * (0.1 * row["shares"].get("a", 0)
                                                          + 1.0 * row["shares"].get("b", 0)) / 1e6)


def test_route_sandbox_reaches_the_cascade(tmp_path):
    """`route --sandbox` is where the cascade executes: on a local Ray instance (started
    once however many cascade settings run) the cascade's rows are the local sandbox's,
    and a Ray cluster that is not there is one error line (eval and compare alike)."""
    import os

    run = replay_run(tmp_path, "Yi-Coder-1.5B-Chat", "deepseek-coder-33b-instruct", n=1, limit=20)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}

    def route(*args, cache):  # each with a cache of its own: nothing is answered without executing
        return harness("route", *args, "--data", str(run), "--format", "json",
                       env={**env, "CODEHARNESS_CACHE": str(tmp_path / cache)})

    rows = {}
    for sandbox in ("local", "ray"):
        proc = route("compare", "--routers", "cascade", "--sandbox", sandbox, cache=sandbox)
        assert proc.returncode == 0, proc.stderr
        rows[sandbox] = [{k: r[k] for k in ("router", "quality", "cost_per_problem", "executions")}
                         for r in json.loads(proc.stdout)["rows"] if r["router"].startswith("cascade")]
    assert proc.stderr.count("codeharness: no --ray-address and no RAY_ADDRESS: starting a local Ray instance") == 1
    assert rows["ray"] == rows["local"] and any(r["executions"] > 0 for r in rows["local"])
    # With every verdict cached (keyed by the sandbox's name), a cluster that is not there
    # is still an error, before any router runs.
    for action in (["eval", "--router", "cascade"], ["compare", "--routers", "cascade"]):
        proc = route(*action, "--sandbox", "ray", "--ray-address", "127.0.0.1:9", cache="ray")
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and "routers:" not in proc.stderr, proc.stderr
        assert errors == ["error: sandbox unavailable: no Ray cluster at 127.0.0.1:9: Connection refused"]
