"""pass@k, as the human-eval/Codex paper defines it (unbiased estimator)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np


def estimate_pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c correct) passes:
    1 - C(n-c, k) / C(n, k), computed as a stable product."""
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_at_k(outcomes: Mapping[str, Iterable[bool]], ks: Iterable[int] = (1, 10, 100)) -> dict[str, float]:
    """Mean pass@k over tasks, for every k that every task has enough samples for."""
    counts = [(len(v), sum(v)) for v in (list(o) for o in outcomes.values())]
    counts = [(n, c) for n, c in counts if n]
    if not counts:
        return {}
    fewest = min(n for n, _ in counts)
    return {f"pass@{k}": float(np.mean([estimate_pass_at_k(n, c, k) for n, c in counts]))
            for k in ks if k <= fewest}
