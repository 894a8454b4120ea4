"""The router plug-in contract: every registered router is a ``Router`` implementing
``route``, which returns a ``Routing``; checked on a hand-made matrix."""

from __future__ import annotations

import inspect

import pandas as pd
import pytest

from routers import ROUTERS, Router, Routing
from routers.baselines import Cheapest, DatasetOracle, Oracle, SingleBest
from routers.data import RouterData
from routers.scoring import train_and_evaluate


def three_problems() -> RouterData:
    """Everybody solves p1, ``mid`` and ``dear`` p2, ``dear`` alone p3; p1 and p2 are
    dataset ``x``, p3 dataset ``y``."""
    ids = ["x/p1", "x/p2", "y/p3"]
    scores = pd.DataFrame({"cheap": [1.0, 0.0, 0.0], "mid": [1.0, 1.0, 0.0], "dear": [1.0, 1.0, 1.0]}, index=ids)
    prices = {"cheap": 1.0, "mid": 2.0, "dear": 4.0}
    costs = pd.DataFrame(prices, index=ids)
    datasets = pd.Series(["x", "x", "y"], index=ids)
    return RouterData(scores, costs, prices, pd.Series("prompt", index=ids), datasets, name="three")


@pytest.mark.parametrize("name", list(ROUTERS))
def test_every_registered_router_implements_the_contract(name):
    cls = ROUTERS[name]
    assert issubclass(cls, Router) and not inspect.isabstract(cls) and cls.name == name


def test_a_router_without_route_cannot_be_built():
    class Unfinished(Router):
        name = "unfinished"

    with pytest.raises(TypeError, match="abstract method.*route"):
        Unfinished()


@pytest.mark.parametrize("cls,choices", [
    (Oracle, {"x/p1": "cheap", "x/p2": "mid", "y/p3": "dear"}),  # the cheapest model that solves each
    (SingleBest, {"x/p1": "dear", "x/p2": "dear", "y/p3": "dear"}),  # 3 of 3
    (Cheapest, {"x/p1": "cheap", "x/p2": "cheap", "y/p3": "cheap"}),
    (DatasetOracle, {"x/p1": "mid", "x/p2": "mid", "y/p3": "dear"}),  # x: mid and dear tie at 1, mid is cheaper
])
def test_route_returns_a_routing(cls, choices):
    data = three_problems()
    routing = cls().fit(data).route(data)
    assert isinstance(routing, Routing) and routing.choices.to_dict() == choices
    assert (routing.runs, routing.executions, routing.outcomes, routing.report) == (None, None, None, {})
    row = train_and_evaluate(cls(), data, data, ci=False)
    assert row["_routing"].choices.to_dict() == choices and "executions" not in row
