"""RoRF-style pairwise router (Not Diamond's routing random forest): for a strong /
weak pair, a random forest over prompt embeddings predicts one of four outcomes
(both pass, only strong, only weak, neither); route to the strong model only when
"only strong" is predicted. Pair: the training split's SBS (strong) and its
cheapest model (weak). Embeddings: the encoder as it is (not fine-tuned)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from . import analysis as A
from .base import Router, Routing
from .encoder import Encoder

BOTH, ONLY_STRONG, ONLY_WEAK, NEITHER = range(4)


def outcome(strong: float, weak: float) -> int:
    if strong >= 0.5 and weak >= 0.5:
        return BOTH
    if strong >= 0.5:
        return ONLY_STRONG
    return ONLY_WEAK if weak >= 0.5 else NEITHER


class RoRF(Router):
    name = "rorf"

    def __init__(self, encoder: str | None = None, trees: int = 300, seed: int = 0, max_len: int = 256) -> None:
        self.encoder_path, self.trees, self.seed, self.max_len = encoder, trees, seed, max_len

    def fit(self, data):
        from sklearn.ensemble import RandomForestClassifier

        scores = A.restrict(data.scores, drop="models").scores
        self.strong = A.sbs(scores, data.prices, data.costs)[0]
        self.weak = A.cheapest(data.costs.loc[scores.index], list(scores.columns), data.prices)
        y = [outcome(s, w) for s, w in zip(scores[self.strong], scores[self.weak], strict=True)]
        self.enc = Encoder(self.encoder_path, self.max_len, self.seed)
        x = self.enc.embed(data.prompts.loc[scores.index].tolist())
        self.forest = RandomForestClassifier(n_estimators=self.trees, random_state=self.seed, n_jobs=2).fit(x, y)
        return self

    def route(self, data):
        x = self.enc.embed(data.prompts.loc[data.scores.index].tolist())
        pred = self.forest.predict(x)
        return Routing(pd.Series(np.where(pred == ONLY_STRONG, self.strong, self.weak), index=data.scores.index))

    def state(self, folder: Path) -> dict:
        (folder / "forest.pkl").write_bytes(pickle.dumps(self.forest))
        return {"strong": self.strong, "weak": self.weak, "encoder": self.enc.path, "seed": self.seed,
                "max_len": self.max_len}

    def load_state(self, state, folder):
        self.strong, self.weak = state["strong"], state["weak"]
        self.seed, self.max_len = state["seed"], state["max_len"]
        self.enc = Encoder(state["encoder"], self.max_len, self.seed)
        self.forest = pickle.loads((folder / "forest.pkl").read_bytes())
