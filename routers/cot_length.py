"""AdaptiveLLM step 1: a problem's difficulty is how long a reasoning model thinks
about it. Median CoT length over that model's samples -> k-means (k=3) into
difficulty levels (ordered by centre) -> per level, the model with the best mean
objective on the training problems of that level (ties: the cheapest). Objective
``score``: AdaptiveLLM's cost-aware score (``data.cost_aware_scores``), where the data
has pass rates and token counts; ``pass``: the matrix's score."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import analysis as A
from .base import Router, Routing
from .data import RouterData, cost_aware_scores


class CoTLength(Router):
    name = "cot-length"

    def __init__(self, reasoner: str = "DeepSeek-R1-Distill-Qwen-32B", k: int = 3, seed: int = 0,
                 objective: str = "score") -> None:
        self.reasoner, self.k, self.seed, self.objective = reasoner, k, seed, objective
        self.centres: list[float] = []
        self.level_model: list[str] = []

    def lengths(self, data: RouterData) -> np.ndarray:
        table = data.think_lengths
        have = [] if table is None else [c for c in table.columns if table[c].notna().any()]
        if self.reasoner not in have:
            raise ValueError(f"no CoT lengths of {self.reasoner!r} for {data.name} (have: {', '.join(have) or 'none'}; "
                             "they come from the AdaptiveLLM artifact's reasoners, matched by problem id, or from "
                             "a run model's thinking tokens); choose one with --param reasoner=NAME")
        lengths = table[self.reasoner].reindex(data.scores.index)
        missing = list(lengths.index[lengths.isna()])
        if missing:
            raise ValueError(f"no {self.reasoner} CoT lengths for {len(missing)} of {len(lengths)} problems "
                             f"(e.g. {missing[0]})")
        # k-means on log length: lengths are heavy-tailed (a few 30k-token rambles).
        return np.log1p(lengths.to_numpy()).reshape(-1, 1)

    def levels(self, data: RouterData) -> np.ndarray:
        x = self.lengths(data)
        return np.abs(x - np.array(self.centres).reshape(1, -1)).argmin(axis=1)

    def fit(self, data):
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=self.k, n_init=10, random_state=self.seed).fit(self.lengths(data))
        self.centres = sorted(float(c) for c in km.cluster_centers_.ravel())
        level = pd.Series(self.levels(data), index=data.scores.index)
        scores = A.restrict(objective(data, self.objective), drop="models").scores
        self.level_model = list(A.best_per_group(scores, level, range(self.k), data.prices, data.costs).values())
        return self

    def route(self, data):
        return Routing(pd.Series([self.level_model[lv] for lv in self.levels(data)], index=data.scores.index))

    def state(self, folder):
        return {"reasoner": self.reasoner, "k": self.k, "seed": self.seed, "objective": self.objective,
                "centres": self.centres,
                "level_model": self.level_model}

    def load_state(self, state, folder):
        self.__dict__.update(state)


def objective(data: RouterData, name: str) -> pd.DataFrame:
    if name == "pass":
        return data.scores
    if name == "score":
        if data.pass_rate is None or data.tokens is None:
            raise ValueError(f"{data.name}: the cost-aware score needs pass rates and token counts; "
                             "use objective 'pass'")
        free = [m for m in data.models if not data.prices.get(m, 0) > 0]
        if free:  # ln(tokens x price) is undefined at 0: a free model would win everywhere
            raise ValueError(f"the cost-aware score needs a price > 0 for every model; {', '.join(free)} "
                             "cost nothing (set 'price' in the pool), or use objective 'pass'")
        return cost_aware_scores(data.pass_rate, data.tokens, data.prices)
    raise ValueError(f"unknown objective {name!r} (score | pass)")
