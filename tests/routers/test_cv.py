"""Cross-validation of routers and the metrics that tell them apart: folds (an exact
partition, stratified), out-of-fold scoring, paired difference CIs, RouteLLM's APGR
and CPT(50 %), RouterBench's AIQ, the dataset oracle; hand-computed values, and the
route / gate commands with ``--cv``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from support import ROOT, harness

from routers import analysis as A
from routers.baselines import DatasetOracle, SingleBest
from routers.cv import cross_validate, folds
from routers.data import RouterData


def hand_made(datasets: dict[str, int]) -> RouterData:
    """Problems ``a/0``... per dataset; model ``cheap`` solves every problem of ``a``,
    ``dear`` every problem of ``b``, nobody ``c``'s."""
    ids = [f"{d}/{i}" for d, n in datasets.items() for i in range(n)]
    ds = pd.Series([i.split("/")[0] for i in ids], index=ids)
    scores = pd.DataFrame({"cheap": [float(d == "a") for d in ds], "dear": [float(d == "b") for d in ds]}, index=ids)
    costs = pd.DataFrame({"cheap": 1.0, "dear": 3.0}, index=ids)
    return RouterData(scores, costs, {"cheap": 1.0, "dear": 3.0}, pd.Series("prompt", index=ids), ds, name="hand")


def test_folds_partition_the_problems_stratified_by_dataset():
    data = hand_made({"a": 7, "b": 5, "c": 3})
    parts = folds(data.datasets, 3, seed=0)
    every = [pid for part in parts for pid in part]
    assert sorted(every) == sorted(data.scores.index) and len(every) == len(set(every)) == 15  # each exactly once
    # Per dataset the folds get 3/2/2 of a's 7, then the deal goes on at fold 1: b's 5 as 1/2/2, c's 3 as 1/1/1,
    # so the folds hold 5 problems each.
    counts = [[sum(pid.startswith(d + "/") for pid in part) for d in "abc"] for part in parts]
    assert counts == [[3, 1, 1], [2, 2, 1], [2, 2, 1]]
    assert all(part == [pid for pid in data.scores.index if pid in part] for part in parts)  # data order
    assert folds(data.datasets, 3, seed=0) == parts  # seeded
    assert folds(data.datasets, 3, seed=1) != parts
    with pytest.raises(ValueError, match="needs 2 <= K"):
        folds(data.datasets, 1)
    with pytest.raises(ValueError, match="needs 2 <= K"):
        folds(data.datasets, 16)


def test_cross_validation_routes_every_problem_once_out_of_fold():
    data = hand_made({"a": 6, "b": 3, "c": 3})
    (sbs,) = cross_validate(SingleBest, ({},), data, 3)
    assert (sbs["problems"], sbs["covered"], sbs["cv"], len(sbs["folds"])) == (12, 12, 3, 3)
    assert sum(f["problems"] for f in sbs["folds"]) == 12 and len(sbs["fold_fit_seconds"]) == 3
    # Each fold holds 2 a's, 1 b and 1 c; each trains on 4 a's and 2 b's, so its SBS is cheap: 2 of 4 solved.
    assert [f["problems"] for f in sbs["folds"]] == [4, 4, 4] and sbs["fold_quality"] == [0.5, 0.5, 0.5]
    assert sbs["quality"] == 0.5 and sbs["shares"] == {"cheap": 1.0} and sbs["cost_per_problem"] == 1.0
    (oracle_ds,) = cross_validate(DatasetOracle, ({},), data, 3)
    # The dataset oracle learns a -> cheap, b -> dear on every fold: 3 of 4 solved, at (3 x 1 + 3) / 4 $.
    assert oracle_ds["quality"] == 0.75 and oracle_ds["fold_quality"] == [0.75, 0.75, 0.75]
    assert oracle_ds["cost_per_problem"] == 1.5
    assert oracle_ds["fold_quality_std"] == 0.0 and oracle_ds["fold_quality_range"] == (0.75, 0.75)


def test_dataset_oracle_picks_the_best_model_per_training_dataset():
    data = hand_made({"a": 4, "b": 2, "c": 2})
    router = DatasetOracle().fit(data)
    # c: nobody solves it, so both tie at 0 and the cheaper wins.
    assert router.model_of == {"a": "cheap", "b": "dear", "c": "cheap"}
    assert router.fallback == "cheap"  # SBS: cheap 4/8 against dear's 2/8
    unseen = hand_made({"d": 1})
    assert list(router.route(unseen).choices) == ["cheap"]


def test_paired_difference_ci_by_hand():
    # Differences 1, 0, 0, 0: mean 0.25; a resample of 4 holds k ones with P(k=0) = 0.316 > 2.5 % and
    # P(k >= 3) = 0.051 > 2.5 % > P(k = 4) = 0.004: the 95 % interval is [0, 0.75].
    mean, ci = A.paired_diff([1, 1, 0, 0], [0, 1, 0, 0])
    assert mean == 0.25 and ci == (0.0, 0.75)
    # Paired: a router that solves what the SBS solves plus one problem in 20 is better for sure (CI >= 0),
    # though its own CI and the SBS's overlap almost entirely.
    sbs = np.array([1, 0] * 10, dtype=float)
    better = sbs.copy()
    better[1] = 1
    mean, (lo, hi) = A.paired_diff(better, sbs)
    assert mean == 0.05 and lo == 0.0 and hi > 0
    assert A.bootstrap_ci(better)[0] < A.bootstrap_ci(sbs)[1]


def test_apgr_and_cpt_by_hand():
    weak, strong = (1.0, 0.2), (3.0, 0.6)
    # (2, 0.5): x = 0.5, PGR = 0.75: APGR = (1 + 0.75 - 0.5) / 2; PGR 0.5 at x = 0.5 * 0.5 / 0.75 = 1/3.
    assert A.apgr([(2.0, 0.5)], weak, strong) == pytest.approx(0.625, abs=1e-12)
    assert A.cpt([(2.0, 0.5)], weak, strong) == pytest.approx(1 / 3, abs=1e-12)
    # (2, 0.3): x = 0.5, PGR = 0.25: APGR 0.375; PGR 0.5 on the way to (1, 1): x = 0.5 + 0.25 * 0.5 / 0.75.
    assert A.apgr([(2.0, 0.3)], weak, strong) == pytest.approx(0.375, abs=1e-12)
    assert A.cpt([(2.0, 0.3)], weak, strong) == pytest.approx(2 / 3, abs=1e-12)
    # The pair itself and a random mix of it: 0.5.
    assert A.apgr([weak], weak, strong) == A.apgr([strong], weak, strong) == 0.5
    assert A.cpt([strong], weak, strong) == 0.5
    # A curve of two points: trapezoids (0,0)-(0.25,0.5)-(0.5,0.75)-(1,1) = 0.0625 + 0.15625 + 0.4375.
    assert A.apgr([(1.5, 0.4), (2.0, 0.5)], weak, strong) == pytest.approx(0.65625, abs=1e-12)
    # No pair (the strong model is not dearer and better), or a point dearer than the strong one: NaN.
    assert np.isnan(A.apgr([(2.0, 0.5)], weak, (3.0, 0.2)))
    assert np.isnan(A.apgr([(4.0, 0.7)], weak, strong)) and np.isnan(A.cpt([(4.0, 0.7)], weak, strong))
    assert np.isnan(A.cpt([(2.0, 0.5)], weak, strong, target=1.5))


def test_aiq_is_the_hulls_mean_beside_the_fronts_steps():
    points = [("a", 1, 0.2), ("b", 2, 0.6), ("c", 3, 0.5), ("d", 4, 0.8), ("e", 5, 0.7)]
    # Hull (1, .2)-(2, .6)-(4, .8), c below the line from b to d, flat at .8 to 5:
    # (0.4 + 1.4 + 0.8) / 4. The front's steps: (0.2 + 1.2 + 0.8) / 4.
    assert A.aiq(points) == pytest.approx(0.65, abs=1e-12)
    front = A.pareto_front(points)
    assert A.front_area(front, 1, 5) == pytest.approx(0.55, abs=1e-12)
    # A point on a hull edge and a cheaper-or-equal duplicate change nothing; the best point first: flat.
    assert A.aiq([*points, ("f", 3, 0.7), ("g", 1, 0.1)]) == pytest.approx(0.65, abs=1e-12)
    assert A.aiq([("a", 1, 0.9), ("b", 3, 0.5)]) == pytest.approx(0.9, abs=1e-12)
    with pytest.raises(ValueError, match="empty cost range"):
        A.aiq([("a", 1, 0.5), ("b", 1, 0.6)])


def test_route_compare_cv_on_the_artifact():
    proc = harness("route", "compare", "--cv", "3", "--routers", "sbs,oracle,cheapest,dataset-oracle,random",
                   "--format", "json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["cv"], out["seed"]) == (3, 0) and 0 < out["aiq"] <= 1 and len(out["aiq_ci"]) == 2
    rows = {r["router"]: r for r in out["rows"]}
    for name in ("sbs", "oracle", "cheapest", "dataset-oracle", "random"):
        r = rows[name]
        assert r["coverage"] == "589/589" and r["cv"] == 3 and len(r["fold_quality"]) == 3
        for key in ("quality", "quality_ci", "cost_per_problem", "diff_vs_sbs", "diff_vs_sbs_ci", "best_other",
                    "diff_vs_best_other", "diff_vs_best_other_ci", "apgr", "cpt50", "fold_quality_std",
                    "fold_quality_range", "fit_seconds"):
            assert key in r, (name, key)
    # deepseek-coder-v2-lite is the best model of every fold's training problems, and of each dataset there.
    assert rows["sbs"]["quality"] == pytest.approx(280 / 589) and rows["sbs"]["diff_vs_sbs"] == 0
    assert rows["dataset-oracle"]["quality"] == rows["sbs"]["quality"]
    assert rows["cheapest"]["apgr"] == 0.5 and rows["sbs"]["cpt50"] == 0.5
    lo, hi = rows["oracle"]["diff_vs_sbs_ci"]
    assert 0 < lo < rows["oracle"]["diff_vs_sbs"] < hi
    assert rows["oracle"]["best_other"] in ("sbs", "dataset-oracle")  # the oracle peeks: never the best other
    # A partial row has no strong/weak pair on its problems' cost range: null, not NaN, in JSON.
    assert rows["model:Qwen2.5-Coder-32B-Instruct"]["apgr"] is None
    proc = harness("route", "compare", "--cv", "3", "--routers", "sbs,cheapest")
    assert proc.returncode == 0 and "| fold_quality_std | fold_quality_range | fit_seconds |" in proc.stdout
    assert "AIQ (the hull's mean quality): " in proc.stdout


def test_route_eval_cv_and_its_errors():
    proc = harness("route", "eval", "--cv", "3", "--router", "sbs", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["quality"] == pytest.approx(280 / 589) and row["cv"] == 3 and len(row["folds"]) == 3
    for args, message in ((["--split", "test"], "drop --train-split / --split / --model-dir"),
                          (["--cv", "1"], "needs 2 <= K")):
        proc = harness("route", "eval", "--router", "sbs", "--cv", "3", *args)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_gate_with_a_cv_baseline(tmp_path):
    path = tmp_path / "b.json"
    metric = {"quality": {"value": round(280 / 589, 4), "tolerance": 0.001}}
    path.write_text(json.dumps({"cv": 3, "seed": 0, "routers": {"sbs": {"metrics": metric}}}))
    proc = harness("gate", "--baseline", str(path), "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)[0]["now"] == pytest.approx(280 / 589)
    for extra, message in (({"cv": 1}, "'cv' must be an integer >= 2"), ({"cv": 3, "test": "test"}, "drop 'train'")):
        path.write_text(json.dumps({**extra, "routers": {"sbs": {"metrics": metric}}}))
        proc = harness("gate", "--baseline", str(path))
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_frozen_encoder_embeds_each_text_once(monkeypatch):
    from routers import encoder as E

    enc = E.Encoder(max_len=32, log=lambda m: None)
    calls = []
    real = enc._embed
    monkeypatch.setattr(enc, "_embed", lambda texts, batch_size: calls.append(list(texts)) or real(texts, batch_size))
    first = enc.embed(["def f(): pass", "print(1)"])
    again = E.Encoder(enc.path, max_len=32, log=lambda m: None)  # another router's, same files: the same cache
    monkeypatch.setattr(again, "_embed", lambda texts, batch_size: calls.append(list(texts)) or real(texts, batch_size))
    both = again.embed(["print(1)", "x = 2", "def f(): pass"])
    assert calls == [["def f(): pass", "print(1)"], ["x = 2"]]
    assert np.array_equal(both[[2, 0]], first)
    enc.finetune(["a", "b"], np.array([0, 1]), "classify", epochs=1)  # tuned weights: never from the cache
    calls.clear()
    enc.embed(["print(1)"])
    assert calls == [["print(1)"]]


def test_committed_cv_baseline_passes():
    """CI's CV gate (the fast routers, 5 folds over the artifact's 589 problems)."""
    baseline = ROOT / ".ci/router-cv-baseline.json"
    proc = harness("gate", "--baseline", str(baseline))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    spec = json.loads(baseline.read_text())
    assert spec["cv"] == 5 and proc.stdout.count("| ok |") == sum(len(r["metrics"]) for r in spec["routers"].values())
