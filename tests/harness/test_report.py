"""``report html``: each figure's numbers against hand-computed values on hand-made
matrices (and against ``routers.analysis``, which they must reuse), bad input as one
error line with nothing written, byte-identical output for the same input, and the
page in a real browser (Chromium, headless)."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import ROOT

from harness.cli import main
from harness.report import data as D
from routers import analysis as A

PRICES = {"cheap": 0.1, "mid": 0.5, "big": 1.0}
# 4 problems x 3 models: means cheap 0.5, mid 0.5, big 0.75 (SBS); oracle 1 everywhere.
S = pd.DataFrame({"cheap": [1, 0, 0, 1.0], "mid": [1, 1, 0, 0.0], "big": [0, 1, 1, 1.0]},
                 index=["p1", "p2", "p3", "p4"])
C = pd.DataFrame({m: [p] * 4 for m, p in PRICES.items()}, index=S.index)  # $ per problem = the price


def test_short_names_drop_suffixes_and_prefixes_but_never_merge_two_models():
    assert D.short_names(["Qwen/Qwen2.5-Coder-32B-Instruct", "CodeLlama-7b-Instruct-hf", "starcoder2-15b-instruct-v0.1",
                          "Yi-Coder-1.5B-Chat", "gpt-4o"]) == {
        "Qwen/Qwen2.5-Coder-32B-Instruct": "Qwen2.5-Coder-32B", "CodeLlama-7b-Instruct-hf": "CodeLlama-7b",
        "starcoder2-15b-instruct-v0.1": "starcoder2-15b", "Yi-Coder-1.5B-Chat": "Yi-Coder-1.5B", "gpt-4o": "gpt-4o"}
    assert D.short_names(["org/M-7B-Instruct", "M-7B"]) == {"org/M-7B-Instruct": "org/M-7B-Instruct", "M-7B": "M-7B"}


def test_model_points_are_the_analysis_numbers():
    p = D.model_points(S, C, PRICES)
    assert [(q["model"], q["quality"], q["cost"]) for q in p["points"]] == [
        ("cheap", 0.5, 0.1), ("mid", 0.5, 0.5), ("big", 0.75, 1.0)]
    # constant costs: their CI is the point; qualities' CIs are the bootstrap's of the column
    assert [q["cost_ci"] for q in p["points"]] == [(0.1, 0.1), (0.5, 0.5), (1.0, 1.0)]
    assert [q["quality_ci"] for q in p["points"]] == [A.bootstrap_ci(S[m].to_numpy()) for m in PRICES]
    assert p["sbs"] == "big"
    # oracle: quality 1 on every problem; per problem the cheapest best model: cheap, mid, big, cheap
    assert p["oracle"]["quality"] == 1.0 and p["oracle"]["quality_ci"] == (1.0, 1.0)
    assert p["oracle"]["cost"] == pytest.approx((0.1 + 0.5 + 1.0 + 0.1) / 4)
    # mid costs more than cheap for the same 0.5: dominated; area over [0.1, 1]: 0.5 all the way
    assert p["front"] == ["cheap", "big"] and p["front_area"] == 0.5
    assert p["front"] == [n for n, _, _ in A.pareto_front([(m, C[m].mean(), S[m].mean()) for m in PRICES])]


def test_gap_bars_are_the_analysis_numbers():
    g = D.gap_bars(S[["big", "cheap", "mid"]], PRICES)  # bars in price order whatever the columns' order
    assert [(b["model"], b["mean"]) for b in g["bars"]] == [("cheap", 0.5), ("mid", 0.5), ("big", 0.75)]
    assert (g["n"], g["sbs"], g["sbs_mean"], g["oracle"], g["oracle_ci"]) == (4, "big", 0.75, 1.0, (1.0, 1.0))
    assert g["og"] == pytest.approx(0.25) == pytest.approx(A.oracle_gap(S))
    assert (g["wcr"], g["wcr_strict"]) == (0.75, 0.25)
    # the oracle is 1 on every draw, so OG's CI is 1 - the SBS's CI, reversed
    lo, hi = A.bootstrap_ci(S["big"].to_numpy())
    assert g["og_ci"] == pytest.approx((1 - hi, 1 - lo))


def test_matrix_picture_sorts_problems_by_ease_and_models_by_price():
    s = pd.DataFrame({"big": [0, 1, 1, 1, np.nan, np.nan, 0], "cheap": [1, 0, 0, 1, 1, np.nan, 0],
                      "mid": [1, 1, 0, 0, np.nan, np.nan, 0.0]}, index=[f"p{i}" for i in range(1, 8)])
    pic = D.matrix_picture(s, PRICES)
    assert list(pic.columns) == ["cheap", "mid", "big"]
    # ease: p5 1 (its one score), p1 p2 p4 2/3 (ties keep their order), p3 1/3, p7 0, p6 no score: last
    assert list(pic.index) == ["p5", "p1", "p2", "p4", "p3", "p7", "p6"]
    assert D.headroom(pic) == {"problems": 7, "no_model_passes": 1, "every_model_always_passes": 1,
                               "model_choice_matters": 4, "missing_cells": 5}


def samples_frame() -> pd.DataFrame:
    rows = [("x", "a", 0, "passed"), ("x", "a", 1, "failed"), ("y", "a", 0, "failed"), ("y", "a", 1, "timeout"),
            ("x", "b", 0, "passed"), ("x", "b", 1, "passed"), ("x", "b", 2, "failed"), ("y", "b", 0, "passed"),
            ("y", "b", 1, "sandbox_error"), ("y", "b", 2, None)]
    return pd.DataFrame([{"dataset": "d", "problem": p, "model": m, "sample": i, "status": st,
                          "passed": st == "passed" if st else None, "tokens_out": 10 * (i + 1),
                          "cost": 0.001 * (i + 1)} for p, m, i, st in rows])


def test_status_counts():
    counts = D.status_counts(samples_frame(), ["b", "a"])
    assert list(counts.columns) == ["passed", "failed", "timeout", "sandbox_error", "not executed"]
    assert counts.loc["a"].tolist() == [1, 2, 1, 0, 0] and counts.loc["b"].tolist() == [3, 1, 0, 1, 1]
    assert list(counts.index) == ["b", "a"]


def test_pass_at_k_curves_by_hand():
    (table,) = D.pass_at_k_curves(samples_frame(), ["a", "b"]).values()
    # a: x [T, F], y [F, F] -> pass@1 = (1/2 + 0) / 2, pass@2 = (1 + 0) / 2; 3 samples: none
    # b (sandbox_error and unexecuted left out): x [T, T, F], y [T] -> pass@1 = (2/3 + 1) / 2, k > 1: y lacks
    assert list(table.columns) == [1, 2, 3]
    assert table.loc["a"].tolist()[:2] == [0.25, 0.5] and np.isnan(table.loc["a", 3])
    assert table.loc["b", 1] == pytest.approx(5 / 6) and table.loc["b", [2, 3]].isna().all()


def test_per_sample_values_and_quantiles():
    values = D.per_sample(samples_frame(), ["a", "b"], "tokens_out")
    assert values["a"].tolist() == [10, 20, 10, 20] and values["b"].tolist() == [10, 20, 30, 10, 20, 30]
    assert D.quantiles(np.array([1.0, 2, 3, 4, 5])) == {"n": 5, "min": 1, "q1": 2, "median": 3, "q3": 4, "max": 5,
                                                         "mean": 3.0}


COMPARE_ROWS = [
    {"router": "oracle", "peeks": True, "quality": 1.0, "cost_per_problem": 0.425, "quality_ci": [1.0, 1.0],
     "cost_ci": [0.1, 0.8], "problems": 4, "covered": 4, "coverage": "4/4", "shares": {"cheap": 0.5, "mid": 0.25,
                                                                                       "big": 0.25}},
    {"router": "codyn(cost_weight=0.5)", "peeks": False, "quality": 0.5, "cost_per_problem": 0.1,
     "quality_ci": [0.0, 1.0], "cost_ci": [0.1, 0.1], "problems": 4, "covered": 4, "coverage": "4/4",
     "shares": {"cheap": 1.0}, "on_front": True},
    {"router": "codyn(cost_weight=0.0)", "peeks": False, "quality": 0.75, "cost_per_problem": 1.0,
     "quality_ci": [0.25, 1.0], "cost_ci": [1.0, 1.0], "problems": 4, "covered": 4, "coverage": "4/4",
     "shares": {"big": 1.0}, "on_front": True},
    {"router": "cascade(chain=all)", "peeks": False, "quality": 0.75, "cost_per_problem": 0.9,
     "quality_ci": [0.25, 1.0], "cost_ci": [0.1, 1.6], "problems": 4, "covered": 4, "coverage": "4/4",
     "shares": {"cheap": 0.25, "big": 0.75}, "executions": 6},
    *[{"router": f"model:{m}", "peeks": False, "quality": S[m].mean(), "cost_per_problem": p, "problems": 4,
       "covered": 4, "coverage": "4/4", "shares": {m: 1.0}} for m, p in PRICES.items()]]


def test_router_points_curves_and_usage():
    points = D.router_points(COMPARE_ROWS)
    assert [(p["base"], p["kind"]) for p in points[:4]] == [("oracle", "oracle"), ("codyn", "router"),
                                                             ("codyn", "router"), ("cascade", "router")]
    assert points[4]["quality_ci"] is None and points[1]["quality_ci"] == (0.0, 1.0)
    curves = D.router_curves(points)
    assert list(curves) == ["codyn"]  # the one router with several variants here
    assert [p["name"] for p in curves["codyn"]] == ["codyn(cost_weight=0.5)", "codyn(cost_weight=0.0)"]
    usage = D.router_usage(COMPARE_ROWS, list(PRICES), PRICES)
    assert [u["router"] for u in usage] == ["oracle", "codyn(cost_weight=0.5)", "codyn(cost_weight=0.0)",
                                            "cascade(chain=all)"]
    assert usage[1]["shares"] == {"cheap": 1.0, "mid": 0.0, "big": 0.0} and "escalation" not in usage[1]
    # the cascade: 3 of 4 problems routed past the cheapest model; 6 programs run over 4 problems
    assert (usage[3]["escalation"], usage[3]["executions"], usage[3]["executions_per_problem"]) == (0.75, 6, 1.5)
    # a cascade that reports its escalation rate (every problem that tried a second model) is taken at its word
    reported = D.router_usage([dict(COMPARE_ROWS[3], escalation_rate=0.5)], list(PRICES), PRICES)
    assert reported[0]["escalation"] == 0.5


def make_run(path: Path) -> Path:
    """A run of 4 HumanEval problems x the 3 models with S's verdicts, 2 samples each
    (the second one flipped on p4 for cheap: pass rate 0.5 there)."""
    from harness.providers import Generation
    from harness.store.runstore import RunStore, SampleKey
    from sandboxes import Limits, Status, Verdict

    store = RunStore(path)
    store.set_meta("run", {"datasets": ["humaneval"], "split": "test", "source": None})
    for m, p in PRICES.items():
        store.set_model(m, {}, p, p)
    for i, problem in enumerate(S.index):
        for m in PRICES:
            for sample in range(2):
                key = SampleKey("humaneval", f"HumanEval/{i}", m, sample)
                store.add_generation(key, "p", Generation("c", tokens_in=10, tokens_out=100 * (sample + 1)), "c", "c",
                                     PRICES[m] * 1e-4 * (sample + 1))
                passed = bool(S.at[problem, m]) != (problem == "p4" and m == "cheap" and sample == 1)
                store.add_verdict(key, Verdict(Status.PASSED if passed else Status.FAILED), Limits(timeout=3.0))
    store.close()
    return path


def report(*args: str) -> tuple[int, str]:
    """Exit code and stderr of ``main(["report", "html", *args])``, in-process."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["report", "html", *args])
    return code, err.getvalue()


def test_the_same_run_gives_the_same_bytes(tmp_path):
    run = make_run(tmp_path / "run")
    for out in ("a", "b"):
        code, err = report(str(run), "--out", str(tmp_path / out))
        assert code == 0, err
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 1 + 2 * 6  # index.html, and 6 figures as PNG and PDF
    assert [f for f in files if (tmp_path / "a" / f).read_bytes() != (tmp_path / "b" / f).read_bytes()] == []
    assert "report: figure 6/6: tokens-cost" in err
    page = (tmp_path / "a" / "index.html").read_text()
    assert "<script" not in page and not re.search(r'(src|href)="(https?:|//)', page)  # nothing to fetch


@pytest.mark.parametrize("case", ["empty run", "matrix without models", "compare of another data set",
                                  "compare of other problems, same models", "routers on a matrix file"])
def test_bad_input_is_one_error_line_and_nothing_written(tmp_path, case):
    from harness.store.runstore import RunStore

    source, extra = tmp_path / "src.csv", []
    if case == "empty run":
        source = tmp_path / "run"
        store = RunStore(source)
        store.set_model("a", {}, 1.0, 1.0)
        store.close()
    elif case == "matrix without models":
        source.write_text("problem,dataset\np1,d\n")
    elif case == "compare of another data set":
        source = make_run(tmp_path / "run")
        rows = [dict(r, router=r["router"].replace("model:big", "model:other")) for r in COMPARE_ROWS]
        (tmp_path / "c.json").write_text(json.dumps({"front": [], "rows": rows}))
        extra = ["--compare", str(tmp_path / "c.json")]
    elif case.startswith("compare of other problems"):
        # the run's splits have 4 (all), 3 (train) and 1 (test) problems: 2 is another data set's
        source = make_run(tmp_path / "run")
        (tmp_path / "c.json").write_text(json.dumps({"front": [], "rows": [dict(r, problems=2) for r in COMPARE_ROWS]}))
        extra = ["--compare", str(tmp_path / "c.json")]
    else:
        source.write_text("problem,a\np1,1\n")
        extra = ["--routers", "sbs"]
    before = set(tmp_path.iterdir())
    code, err = report(str(source), "--out", str(tmp_path / "out"), *extra)
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert set(tmp_path.iterdir()) == before  # no report, no temporary directory left


def test_out_replaces_an_older_report_and_nothing_else(tmp_path):
    source = tmp_path / "m.csv"
    source.write_text("dataset,problem,a,b\nd,p1,1,0\nd,p2,0.5,1\n")
    out = tmp_path / "out"
    assert report(str(source), "--out", str(out))[0] == 0
    (out / "stale.txt").write_text("from before")
    code, err = report(str(source), "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["fig", "index.html"]  # replaced whole
    assert sorted(p.name for p in (out / "fig").iterdir()) == ["oracle-gap.pdf", "oracle-gap.png", "pass-matrix.pdf",
                                                               "pass-matrix.png"]  # a matrix file: no costs, samples
    assert "cost-quality plane: a matrix file has no costs" in (out / "index.html").read_text()
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    code, err = report(str(source), "--out", str(other))
    assert code == 2 and err == f"error: {other}: exists and is not a report directory; choose another --out\n"
    assert [p.name for p in other.iterdir()] == ["keep.txt"]


def test_routers_option_compares_them_on_the_runs_test_split(tmp_path):
    run = make_run(tmp_path / "run")
    code, err = report(str(run), "--out", str(tmp_path / "out"), "--routers", "sbs,oracle")
    assert code == 0, err
    page = (tmp_path / "out" / "index.html").read_text()
    assert '<figure id="routers-cost-quality">' in page and '<figure id="router-usage">' in page
    assert all(f"<td>{name}</td>" in page for name in ("sbs", "oracle", "model:cheap", "model:mid", "model:big"))


def render_with_routers(tmp_path: Path) -> Path:
    run = make_run(tmp_path / "run")
    (tmp_path / "c.json").write_text(json.dumps({"front": ["codyn(cost_weight=0.5)"], "rows": COMPARE_ROWS}))
    code, err = report(str(run), "--out", str(tmp_path / "out"), "--compare", str(tmp_path / "c.json"))
    assert code == 0, err
    return tmp_path / "out" / "index.html"


FIGURES = {"cost-quality": "Cost-quality plane of the single models", "routers-cost-quality":
           "Cost-quality plane of the routers", "router-usage": "Model usage per router",
           "oracle-gap": "Oracle gap per dataset", "pass-matrix": "Pass matrix per dataset",
           "statuses": "Verdicts per model", "pass-at-k": "pass@k per model",
           "tokens-cost": "Output tokens and USD per sample"}


def chromium_or_skip() -> str:
    """Chromium skips on a laptop without it, but FAILS in CI (REQUIRE_CHROMIUM=1)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("REQUIRE_CHROMIUM") == "1":
            pytest.fail("Chromium is required here (REQUIRE_CHROMIUM=1) but not on PATH (apt-get install chromium)")
        pytest.skip("chromium not installed")
    return found


@pytest.mark.slow
def test_every_figure_renders_in_a_real_browser(tmp_path):
    from matplotlib.image import imread

    chromium = chromium_or_skip()
    index = render_with_routers(tmp_path)
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}"]
    # Its crash reporter writes under $HOME/.config whatever the profile dir: not the user's home.
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    dom = subprocess.run([*flags, "--dump-dom", index.as_uri()], capture_output=True, text=True, timeout=120,
                         check=True, env=env).stdout
    figures = re.findall(r'<figure id="([a-z-]+)"><svg [^>]*role="img"[^>]*><title id="[a-z-]+-title">([^<]*)</title>',
                         dom)
    assert dict(figures) == FIGURES and len(figures) == dom.count("<svg ") == len(FIGURES)
    shot = ROOT / "results" / "report-screenshot.png"  # kept: CI's artefact
    shot.unlink(missing_ok=True)
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1280,2000", index.as_uri()],
                   capture_output=True, timeout=120, check=True, env=env)
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1280)
    assert pixels.std() > 0.05 and (pixels < 0.5).mean() > 0.01  # not blank: text and figures drawn
