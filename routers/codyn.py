"""CoDyn-style regression router: an encoder with one regression head per model
(MSE summed over heads) trained on standard-scaled per-model scores; the predicted
effectiveness ES (scaled back to score units) is traded against cost:

    RS_j = (1 - cost_weight) * ES_j + cost_weight * CS_j^-1,   CS_j^-1 = 1 - (CS_j - 1) / (max CS - 1)

with CS_j = price_j / cheapest price (1 for the cheapest model). The paper's
settings: cost_weight (its lambda2) in {0, 0.25, 0.5}. Targets: mean pass over
samples where the data has it, else the matrix score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import analysis as A
from .base import Router, Routing
from .encoder import Encoder


def inverse_cost(prices: dict[str, float], models: list[str]) -> np.ndarray:
    cs = np.array([prices[m] for m in models]) / min(prices[m] for m in models)
    return 1 - (cs - 1) / (cs.max() - 1) if cs.max() > 1 else np.ones(len(models))


class CoDyn(Router):
    name = "codyn"
    # The paper's settings; routing-time parameters, so `route compare` trains once.
    route_variants = ({"cost_weight": 0.0}, {"cost_weight": 0.25}, {"cost_weight": 0.5})

    def __init__(self, encoder: str | None = None, cost_weight: float = 0.25, epochs: int = 3, seed: int = 0,
                 max_len: int = 256) -> None:
        self.encoder_path, self.cost_weight, self.epochs, self.seed, self.max_len = (encoder, cost_weight, epochs,
                                                                                     seed, max_len)

    def fit(self, data):
        table = data.pass_rate if data.pass_rate is not None else data.scores
        table = A.restrict(table, drop="models").scores
        self.models = A.by_price(list(table.columns), data.prices)
        y = table.loc[data.scores.index, self.models].to_numpy()
        self.mean, self.std = y.mean(0), y.std(0) + 1e-9
        self.enc = Encoder(self.encoder_path, self.max_len, self.seed)
        self.losses = self.enc.finetune(data.prompts.loc[data.scores.index].tolist(), (y - self.mean) / self.std,
                                        "regress", epochs=self.epochs)
        self.inv_cost = inverse_cost(data.prices, self.models).tolist()
        return self

    def route(self, data):
        es = self.enc.predict(data.prompts.loc[data.scores.index].tolist()) * self.std + self.mean
        rs = (1 - self.cost_weight) * es + self.cost_weight * np.array(self.inv_cost)[None, :]
        # argmax takes the first maximum: models are in price order, so ties go to the cheapest
        return Routing(pd.Series([self.models[i] for i in rs.argmax(axis=1)], index=data.scores.index))

    def state(self, folder: Path) -> dict:
        self.enc.save(folder / "encoder")
        return {"cost_weight": self.cost_weight, "seed": self.seed, "max_len": self.max_len, "models": self.models,
                "mean": self.mean.tolist(), "std": self.std.tolist(), "inv_cost": self.inv_cost,
                "losses": self.losses}

    def load_state(self, state, folder):
        self.cost_weight, self.seed, self.max_len = state["cost_weight"], state["seed"], state["max_len"]
        self.models, self.inv_cost, self.losses = state["models"], state["inv_cost"], state["losses"]
        self.mean, self.std = np.array(state["mean"]), np.array(state["std"])
        self.enc = Encoder(str(folder / "encoder"), self.max_len, self.seed)
        self.enc.load_head(folder / "encoder", len(self.models))
