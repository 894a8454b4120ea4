"""Routing metrics against values computed by hand on small matrices."""

import numpy as np
import pandas as pd
import pytest

from routers import analysis as A

# 4 problems x 3 models; prices: cheap < mid < big.
S = pd.DataFrame({"cheap": [1, 0, 0, 1.0], "mid": [1, 1, 0, 0.0], "big": [0, 1, 1, 1.0]},
                 index=["p1", "p2", "p3", "p4"])
PRICES = {"cheap": 0.1, "mid": 0.5, "big": 1.0}


def test_sbs_oracle_gap_wcr_by_hand():
    # means: cheap 0.5, mid 0.5, big 0.75 -> SBS big; every problem has a model scoring 1 -> oracle 1.0
    assert A.sbs(S, PRICES) == ("big", 0.75)
    assert A.oracle_mean(S) == 1.0
    assert A.oracle_gap(S) == pytest.approx(0.25)
    # best per problem, cheapest on ties: p1 cheap (cheap=mid=1), p2 mid (mid=big), p3 big, p4 cheap (cheap=big)
    assert list(A.oracle_choice(S, PRICES)) == ["cheap", "mid", "big", "cheap"]
    assert A.wcr(S, PRICES) == 0.75  # 3 of 4 winners are not the SBS
    # but big (the SBS) scores 1 on p2, p3, p4: only on p1 does another model score higher
    assert A.wcr_strict(S, PRICES) == 0.25


def test_wcr_counts_ties_and_unsolved_problems_wcr_strict_does_not():
    # SBS: big (mean 0.5). p1: nobody solves it -> all tie at 0, the cheapest "wins";
    # p2: cheap ties big at 1 -> cheap wins; p3: big alone; p4: mid beats big (0.6 > 0.2).
    s = pd.DataFrame({"cheap": [0, 1, 0, 0.0], "mid": [0, 0, 0, 0.6], "big": [0, 1, 0.8, 0.2]},
                     index=["p1", "p2", "p3", "p4"])
    assert A.sbs(s, PRICES) == ("big", 0.5)
    assert list(A.oracle_choice(s, PRICES)) == ["cheap", "cheap", "big", "mid"]
    assert A.wcr(s, PRICES) == 0.75  # CoDyn's: p1, p2, p4
    assert A.wcr_strict(s, PRICES) == 0.25  # p4 only
    # When the SBS is also the cheapest model, ties and unsolved problems are no change either.
    assert A.wcr(s, {"cheap": 3.0, "mid": 2.0, "big": 1.0}) == 0.25


def test_ties_go_to_the_cheapest():
    tied = pd.DataFrame({"big": [1.0, 0.0], "cheap": [0.0, 1.0]})
    assert A.sbs(tied, {"big": 2.0, "cheap": 1.0}) == ("cheap", 0.5)
    assert A.sbs(tied) == ("big", 0.5)  # no prices: column order
    assert list(A.oracle_choice(pd.DataFrame({"big": [1.0], "cheap": [1.0]}), {"big": 2, "cheap": 1})) == ["cheap"]


def test_missing_cells_are_refused_then_restricted():
    m = S.copy()
    m["none"] = np.nan
    m.loc["p2", "mid"] = np.nan
    with pytest.raises(ValueError, match="missing cells"):
        A.sbs(m)
    r = A.restrict(m)
    assert r.dropped_models == ["none"] and r.dropped_problems == 1 and list(r.scores.index) == ["p1", "p3", "p4"]
    r = A.restrict(m, drop="models")
    assert r.dropped_models == ["mid", "none"] and r.dropped_problems == 0
    assert list(r.scores.columns) == ["cheap", "big"]


def test_closed_gap_routed_and_codyn_cost():
    assert A.closed_gap(0.875, 0.75, 1.0) == 0.5
    assert np.isnan(A.closed_gap(0.8, 0.75, 0.75))
    choice = pd.Series(["cheap", "mid", "mid", "big"], index=S.index)
    assert list(A.routed(S, choice)) == [1.0, 1.0, 0.0, 1.0]
    # shares cheap 1/4, mid 2/4, big 1/4 -> (0.025 + 0.25 + 0.25) / 1.0
    assert A.codyn_cost(choice, PRICES) == pytest.approx(0.525)
    # A cascade pays for every model it tried: (0.1 + 0.6 + 0.6 + 1.6) / 4 / 1.0
    runs = pd.Series([("cheap",), ("cheap", "mid"), ("cheap", "mid"), ("cheap", "mid", "big")], index=S.index)
    assert A.codyn_cost(choice, PRICES, runs) == pytest.approx(0.725)
    costs = S.copy()
    costs[:] = [[1, 10, 100], [2, 20, 200], [3, np.nan, 300], [4, 40, 400]]
    assert list(A.paid(costs, runs)) == [1, 22, 3, 444]  # a cell without data costs nothing, not NaN
    with pytest.raises(ValueError, match="outside the matrix"):  # a saved router on other data
        A.paid(costs, pd.Series([("cheap", "gpt")] * 4, index=S.index))
    with pytest.raises(ValueError, match="outside the matrix"):
        A.routed(S, pd.Series(["gpt"] * 4, index=S.index))


def test_pareto_front_and_area():
    points = [("a", 1.0, 0.5), ("b", 2.0, 0.4), ("c", 3.0, 0.8), ("d", 3.0, 0.7), ("e", 0.5, 0.1)]
    front = A.pareto_front(points)
    assert [p[0] for p in front] == ["e", "a", "c"]  # b and d are dominated
    # cost range [0.5, 3.0]: 0.1 on [0.5, 1), 0.5 on [1, 3), 0.8 at 3 -> (0.05 + 1.0) / 2.5
    assert A.front_area(front, 0.5, 3.0) == pytest.approx(0.42)


def test_bootstrap_ci_brackets_the_mean():
    values = [1, 0] * 50
    lo, hi = A.bootstrap_ci(values, n=1000, seed=1)
    assert lo < 0.5 < hi and 0.35 < lo and hi < 0.65
    assert A.bootstrap_ci([1.0] * 10) == (1.0, 1.0)


def test_best_per_group_by_hand():
    # group 0 = p1, p2: means cheap 0.5, mid 1.0, big 0.5 -> mid; group 1 = p3, p4: big 1.0 -> big;
    # group 2 has no problem -> the overall SBS (big).
    groups = pd.Series([1, 1, 0, 0], index=["p4", "p3", "p2", "p1"])  # aligned by problem, not position
    assert A.best_per_group(S, groups, range(3), PRICES) == {0: "mid", 1: "big", 2: "big"}
