import math

import pytest

from harness.metrics import estimate_pass_at_k, pass_at_k


@pytest.mark.parametrize("n,c,k,expected", [
    (5, 2, 1, 0.4),
    (5, 2, 2, 1 - math.comb(3, 2) / math.comb(5, 2)),  # 0.7
    (5, 0, 3, 0.0),
    (5, 5, 1, 1.0),
    (10, 1, 10, 1.0),
    (200, 13, 10, 1 - math.comb(187, 10) / math.comb(200, 10)),
])
def test_estimate_pass_at_k_matches_the_combinatorial_definition(n, c, k, expected):
    assert estimate_pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("n,c,k", [(3, 4, 1), (3, -1, 1), (3, 1, 0), (3, 1, 4)])
def test_estimate_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        estimate_pass_at_k(n, c, k)


def test_pass_at_k_reports_only_ks_every_task_has_samples_for():
    out = pass_at_k({"a": [True, False, True], "b": [False, False], "c": []}, ks=(1, 2, 3))
    # a: 2/3, b: 0 (c has no scored samples and is left out)
    assert out == {"pass@1": pytest.approx(1 / 3), "pass@2": pytest.approx(0.5)}
    assert pass_at_k({}) == {}
