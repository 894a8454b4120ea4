"""ComplexityNet on data without reference-model trials (an imported pool): three of the
data's own models spanning its quality range stand in for CodeLlama / GPT-3.5 / GPT-4o."""

from __future__ import annotations

import pandas as pd
import pytest

from routers.complexitynet import ComplexityNet, spanning
from routers.data import RouterData


def pool(scores: dict[str, list[float]]) -> RouterData:
    ids = [f"mbpp/{i}" for i in range(len(next(iter(scores.values()))))]
    frame = pd.DataFrame(scores, index=ids)
    return RouterData(frame, frame * 0 + 1.0, {m: 1.0 for m in frame.columns}, pd.Series("task", index=ids),
                      pd.Series("mbpp", index=ids), pass_rate=frame, name="pool")


def test_references_span_the_pools_quality_range():
    data = pool({"a": [0, 0, 1, 0], "b": [1, 1, 1, 1], "c": [0, 1, 1, 0], "d": [0, 0, 0, 0], "e": [1, 0, 1, 1]})
    # means a 0.25, b 1, c 0.5, d 0, e 0.75: weakest d, median (3rd of 5) c, strongest b
    assert spanning(data) == ["d", "c", "b"]
    # ties keep the data's model order (cheapest first)
    assert spanning(pool({"x": [1, 0], "y": [1, 0], "z": [0, 0], "w": [1, 1]})) == ["z", "y", "w"]
    router = ComplexityNet(references=spanning(data))
    x = router.trials(data)  # X = round(5 x pass rate): 0/1 labels give 0 or 5
    assert x.to_numpy().tolist() == [[0, 0, 5], [0, 5, 5], [0, 5, 5], [0, 0, 5]]
    assert router.levels(data).tolist() == [3, 2, 2, 3]


def test_without_trials_or_enough_models_it_says_what_to_give():
    with pytest.raises(ValueError, match="needs three reference models with pass rates, has 2"):
        spanning(pool({"a": [0, 1], "b": [1, 1]}))
    with pytest.raises(ValueError, match="references=WEAK,MID,STRONG"):
        ComplexityNet().trials(pool({"a": [0], "b": [1], "c": [1]}))


@pytest.mark.slow
def test_complexitynet_and_codyn_cross_validate_on_an_imported_pool():
    """Both fine-tuned routers run under --cv on data with no trials, costs from a price
    table and 0/1 labels: each problem routed once, out of fold, by a fresh router."""
    from routers.codyn import CoDyn
    from routers.cv import cross_validate

    n = 12
    data = pool({"a": [float(i % 3 == 0) for i in range(n)], "b": [float(i % 2 == 0) for i in range(n)],
                 "c": [1.0] * (n - 1) + [0.0]})
    data = RouterData(data.scores, data.costs, data.prices, pd.Series([f"write function {i}" for i in range(n)],
                                                                      index=data.scores.index),
                      data.datasets, pass_rate=data.pass_rate, name="pool")
    cn, = cross_validate(lambda: ComplexityNet(epochs=1, max_len=16), ({},), data, 3)
    cd = cross_validate(lambda: CoDyn(epochs=1, max_len=16), CoDyn.route_variants, data, 3)
    for row in (cn, *cd):
        assert (row["cv"], row["covered"], row["problems"], len(row["fold_quality"])) == (3, n, n, 3)
        assert sum(row["shares"].values()) == pytest.approx(1.0)
    assert [r["router"] for r in cd] == [f"codyn(cost_weight={w})" for w in (0.0, 0.25, 0.5)]
