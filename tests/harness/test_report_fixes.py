"""``report html`` as a new user read it: the pass matrix titled and labelled with
problem ids (thinned when many), rate axes from 0 (an all-zero series is not drawn on
a -0.04..0.04 axis), input and output prices, and a wall time that leaves out the
pause between a run and its resume."""

import sqlite3

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from test_report import PRICES, S, make_run, report

from harness.report import data as D
from harness.report import figures as F
from harness.report.source import load, wall_time

SHORT = {m: m for m in PRICES}
STYLE = F.colours(list(PRICES))


def test_pass_matrix_panels_are_titled_and_name_their_problems():
    pictures = {"humaneval": D.matrix_picture(S, PRICES)}
    (ax, _colorbar) = F.pass_matrix(pictures, SHORT).axes
    assert ax.get_title() == "humaneval: pass rate per model and problem (4 problems)"
    assert ax.get_ylabel() == "model (cheapest on top)"
    assert ax.get_xlabel() == "problem, easiest (highest mean pass over models) left"
    # easiest first: p1 p2 p4 (2/3 each, in their order), p3 (1/3)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["p1", "p2", "p4", "p3"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cheap", "mid", "big"]


def test_many_problems_are_named_every_kth():
    ids = [f"HumanEval/{i}" for i in range(164)]
    scores = pd.DataFrame({"cheap": np.linspace(1, 0, 164)}, index=ids)  # already easiest first
    (ax, _) = F.pass_matrix({"humaneval": D.matrix_picture(scores, None)}, {"cheap": "cheap"}).axes
    assert F.problem_step(164) == 3 and F.problem_step(60) == 1 and F.problem_step(61) == 2
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert len(labels) == 55 and labels[:3] == ["HumanEval/0", "HumanEval/3", "HumanEval/6"]
    assert labels[-1] == "HumanEval/162" and list(ax.get_xticks()[:2]) == [0, 3]
    assert ax.get_xlabel().endswith("; one id in 3 shown")


@pytest.mark.parametrize("values, top", [([0.0, 0.0], 0.1), ([0.0, 0.25, 0.3], 0.4), ([0.5], 0.6), ([0.51], 1.0),
                                         ([0.2, float("nan")], 0.3), ([], 0.1)])
def test_rate_axis_starts_at_zero_with_a_sensible_top(values, top):
    ax = Figure().subplots()
    ax.plot([0, 1], [0, 0])
    F.rate_axis(ax, values)
    assert ax.get_ylim() == pytest.approx((0.0, top))
    assert not ax.lines[0].get_clip_on()  # a series on 0 shows whole markers


def test_all_zero_pass_at_k_and_plane_have_a_zero_based_axis():
    zero = pd.DataFrame({1: [0.0, 0.0], 2: [0.0, 0.0]}, index=["cheap", "mid"])
    fig = F.pass_at_k({"d": zero}, SHORT, STYLE)
    assert fig.axes[0].get_ylim() == (0.0, 0.1)
    scores = S * 0
    plane = {"d": {**D.model_points(scores, pd.DataFrame({m: [p] * 4 for m, p in PRICES.items()}, index=S.index),
                                    PRICES), "n": 4}}
    assert F.plane(plane, SHORT, STYLE).axes[0].get_ylim() == (0.0, 0.1)
    full = {"d": {**D.model_points(S, pd.DataFrame({m: [p] * 4 for m, p in PRICES.items()}, index=S.index),
                                   PRICES), "n": 4}}
    assert F.plane(full, SHORT, STYLE).axes[0].get_ylim() == (0.0, 1.0)


def test_wall_time_leaves_out_the_pause_before_a_resume():
    # a run: 1000 .. 1020; resumed an hour later: 4620 .. 4650
    assert wall_time([1000, 1012, 1010, 1020, 4620, 4650]) == (
        "50 s working (first sample generated to last executed, less 1 idle gap over 10 min between runs: 3600 s)")
    assert wall_time([1000, 1400, 1990]) == "990 s (first sample generated to last executed)"
    assert wall_time([]) == "not executed yet"


def test_the_page_shows_both_prices_and_the_working_time(tmp_path):
    run = make_run(tmp_path / "run")
    with sqlite3.connect(run / "run.sqlite") as con:
        con.execute("UPDATE models SET price_in = 0.05 WHERE name = 'cheap'")
        # every sample generated at 1000 + its row number, executed a second later; half of them a day later
        con.execute("UPDATE samples SET generated_at = 1000 + rowid + 86400 * (rowid > 12), "
                    "executed_at = 1001 + rowid + 86400 * (rowid > 12)")
    summary = dict(load(str(run)).summary)
    # 12 samples: 1001 .. 1013, 12 more: 87413 .. 87425 (a gap of 86400 s left out)
    assert summary["wall time"] == ("24 s working (first sample generated to last executed, less 1 idle gap over "
                                    "10 min between runs: 86400 s)")
    code, err = report(str(run), "--out", str(tmp_path / "out"))
    assert code == 0, err
    page = (tmp_path / "out" / "index.html").read_text()
    assert "<th>model (figures)</th><th>model</th><th>input USD / Mtok</th><th>output USD / Mtok</th>" in page
    assert '<td>cheap</td><td>cheap</td><td class="n">0.0500</td><td class="n">0.1000</td>' in page
    assert '<td>big</td><td>big</td><td class="n">1.0000</td><td class="n">1.0000</td>' in page
