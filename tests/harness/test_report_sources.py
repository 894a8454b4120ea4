"""``report html`` / ``report oracle-gap`` over free models and several sources: a
$0 model drawn on the cost axis (at a "$0" tick), a page titled by every source, a
note naming the models that shrink the oracle gap's problems, and the SBS's tie
going to the lower measured cost as the `cheapest` router's."""

import sqlite3

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from test_report import PRICES, S, make_run, report

from harness.report import data as D
from harness.report import figures as F
from harness.report.html import source_title
from harness.route.experiments import oracle_gap_table
from routers import analysis as A

SHORT = {m: m for m in PRICES}
STYLE = F.colours(list(PRICES))


def drawn(ax) -> dict[str, float]:
    """Legend label -> the x of its marker (errorbar containers: the data line's)."""
    return {c.get_label(): float(c.lines[0].get_xdata()[0]) for c in ax.containers}


def ticks(fig, ax) -> list[tuple[float, str]]:
    FigureCanvasAgg(fig).draw()
    lo, hi = ax.get_xlim()
    return [(float(t.get_position()[0]), t.get_text()) for t in ax.get_xticklabels() if lo <= t.get_position()[0] <= hi]


def test_a_free_model_is_drawn_at_the_zero_tick():
    costs = pd.DataFrame({"cheap": [0.0] * 4, "mid": [0.5] * 4, "big": [1.0] * 4}, index=S.index)
    plane = {"d": {**D.model_points(S, costs, PRICES), "n": 4}}
    # oracle: cheap, mid, big, cheap -> (0 + 0.5 + 1 + 0) / 4; the least positive cost 0.375: $0 a decade left
    assert plane["d"]["oracle"]["cost"] == 0.375 and plane["d"]["front"] == ["cheap", "big"]
    fig = F.plane(plane, SHORT, STYLE)
    ax = fig.axes[0]
    assert drawn(ax) == {"cheap": pytest.approx(0.0375), "mid": 0.5, "big": 1.0, "oracle": 0.375}
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == [
        "Pareto front (models)", "SBS", "big", "cheap", "mid", "oracle"]
    labelled = ticks(fig, ax)
    assert labelled[0] == (pytest.approx(0.0375), "$0")
    # the log scale's labels start half a decade right of $0 (left of it the axis is a break, dotted)
    assert [t for t in labelled[1:]] == [(0.2, "2e-1"), (0.5, "5e-1"), (1.0, "1e0")]
    assert [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == ":"] == [
        pytest.approx(0.0375 * 10 ** 0.5)]


def test_only_free_models_get_one_zero_tick_on_a_decade_wide_axis():
    costs = pd.DataFrame({m: [0.0] * 4 for m in PRICES}, index=S.index)
    plane = {"d": {**D.model_points(S, costs, PRICES), "n": 4}}
    fig = F.plane(plane, SHORT, STYLE)
    ax = fig.axes[0]
    assert drawn(ax) == {"cheap": 1.0, "mid": 1.0, "big": 1.0, "oracle": 1.0}
    assert ax.get_xlim() == pytest.approx((10 ** -0.5, 10 ** 0.5))
    assert ticks(fig, ax) == [(1.0, "$0")]


def test_the_router_plane_draws_a_free_model():
    rows = [{"router": "sbs", "peeks": False, "quality": 0.75, "cost_per_problem": 0.01, "on_front": True},
            {"router": "model:cheap", "peeks": False, "quality": 0.5, "cost_per_problem": 0.0, "on_front": True},
            {"router": "model:big", "peeks": False, "quality": 0.75, "cost_per_problem": 0.01}]
    fig = F.router_plane(D.router_points(rows), {}, SHORT)
    ax = fig.axes[0]
    assert sorted(float(c.lines[0].get_xdata()[0]) for c in ax.containers) == pytest.approx([0.001, 0.01, 0.01])
    assert [a.get_text() for a in ax.texts] == ["cheap", "big"]
    assert ticks(fig, ax)[0] == (pytest.approx(0.001), "$0")


def test_a_run_with_a_free_model_has_it_in_figure_and_table(tmp_path):
    run = make_run(tmp_path / "run")
    with sqlite3.connect(run / "run.sqlite") as con:
        con.execute("UPDATE models SET price_in = 0, price_out = 0 WHERE name = 'cheap'")
        con.execute("UPDATE samples SET cost = 0 WHERE model = 'cheap'")
    code, err = report(str(run), "--out", str(tmp_path / "out"))
    assert code == 0, err
    page = (tmp_path / "out" / "index.html").read_text()
    assert "not drawn" not in page and "<p>Nothing.</p>" in page
    svg = page[page.index('<figure id="cost-quality">'):page.index("</figure>", page.index('id="cost-quality"'))]
    assert svg.count("<!-- cheap -->") == 1  # its legend entry (SVG paths carry each text as a comment)
    assert "<!-- $0 -->" in svg


@pytest.mark.parametrize("spec, title", [
    ("runs/a,runs/humaneval__local-server-pool", "a + humaneval__local-server-pool"),
    ("only.csv", "only.csv"),
    (",".join(f"r/run-{i:02d}-of-a-long-series" for i in range(8)),
     " + ".join(f"run-{i:02d}-of-a-long-series" for i in range(3)) + " + 5 more"),
])
def test_the_title_names_every_source(spec, title):
    assert source_title(spec) == title


def test_the_page_of_two_sources_is_titled_by_both(tmp_path):
    (tmp_path / "a.csv").write_text("dataset,problem,x,y\nd,p1,1,0\nd,p2,0.5,1\n")
    (tmp_path / "b.csv").write_text("dataset,problem,x,y\nd,p3,0,1\n")
    code, err = report(f"{tmp_path}/a.csv,{tmp_path}/b.csv", "--out", str(tmp_path / "out"))
    assert code == 0, err
    page = (tmp_path / "out" / "index.html").read_text()
    assert "<title>codeharness report: a.csv + b.csv</title>" in page
    assert "<h1>codeharness report: a.csv + b.csv</h1>" in page


def test_oracle_gap_names_the_models_that_shrink_n(tmp_path):
    rows = "".join(f"d,p{i},{i % 2},1\n" for i in range(1, 11))
    (tmp_path / "a.csv").write_text("dataset,problem,x,y\n" + rows)
    (tmp_path / "b.csv").write_text("dataset,problem,z\nd,p1,1\nd,p2,0\nd,p3,1\n")
    notes = []
    (row,) = oracle_gap_table(f"{tmp_path}/a.csv,{tmp_path}/b.csv", log=notes.append)
    assert (row["n"], row["dropped_problems"], row["sbs_model"]) == (3, 7, "y")
    assert notes == ["note: dataset 'd': 7 of 10 problems dropped (n = 3): not scored by every model; models "
                     "covering fewer (problems scored): z (3)"]
    notes.clear()
    oracle_gap_table(str(tmp_path / "a.csv"), log=notes.append)
    assert notes == []  # a complete matrix: nothing to say


# x and y tie (mean 0.5); x has the lower list price, y the lower measured cost per problem
TIE = pd.DataFrame({"x": [1, 0, 1, 0.0], "y": [0, 1, 1, 0.0], "z": [0, 0, 1, 0.0]}, index=["p1", "p2", "p3", "p4"])
TIE_PRICES = {"z": 0.1, "x": 0.2, "y": 0.3}
TIE_COSTS = pd.DataFrame({"x": [4e-5] * 4, "y": [1e-5, 2e-5, 3e-5, 2e-5], "z": [1e-6] * 4}, index=TIE.index)


def test_the_sbs_tie_goes_to_the_lower_measured_cost_as_the_cheapest_router():
    assert A.sbs(TIE, TIE_PRICES) == ("x", 0.5)  # no costs: the list price
    assert A.sbs(TIE, TIE_PRICES, TIE_COSTS) == ("y", 0.5)  # mean 2e-5 < 4e-5
    assert A.cheapest(TIE_COSTS, ["x", "y"], TIE_PRICES) == "y"
    # only the scored problems' costs count: p9's would make y the dearer
    assert A.sbs(TIE, TIE_PRICES, pd.concat([TIE_COSTS, pd.DataFrame({"x": [0.0], "y": [1.0], "z": [0.0]},
                                                                     index=["p9"])])) == ("y", 0.5)
    # oracle choice (price order): p1 x, p2 y, p3 z, p4 z; SBS y: 3 of 4 change; strictly beaten on p1
    assert A.wcr(TIE, TIE_PRICES) == 0.75 and A.wcr(TIE, TIE_PRICES, TIE_COSTS) == 0.75
    assert A.oracle_choice(TIE, TIE_PRICES).tolist() == ["x", "y", "z", "z"]
    assert (A.wcr_strict(TIE, TIE_PRICES), A.wcr_strict(TIE, TIE_PRICES, TIE_COSTS)) == (0.25, 0.25)
    g = D.gap_bars(TIE, TIE_PRICES, TIE_COSTS)
    assert (g["sbs"], g["sbs_mean"]) == ("y", 0.5)
    assert D.model_points(TIE, TIE_COSTS, TIE_PRICES)["sbs"] == "y"
