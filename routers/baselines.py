"""The reference points of every routing table: random, single best, cheapest, the
dataset oracle (best model per dataset), the oracle (cheapest passing model: an
upper bound that reads the answers), and a published router's own predictions
replayed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import analysis as A
from .base import Router, Routing
from .data import authors_predictions


class RandomRouter(Router):
    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed, self.models = seed, []

    def fit(self, data):
        self.models = list(A.restrict(data.scores, drop="models").scores.columns)  # the fully scored ones
        return self

    def route(self, data):
        rng = np.random.default_rng(self.seed)
        return Routing(pd.Series(rng.choice(self.models, size=len(data.scores)), index=data.scores.index))

    def state(self, folder):
        return {"seed": self.seed, "models": self.models}

    def load_state(self, state, folder):
        self.seed, self.models = state["seed"], state["models"]


class SingleBest(Router):
    """The model with the best mean score on the training problems, among the models
    scored on all of them."""

    name = "sbs"

    def __init__(self) -> None:
        self.model = ""

    def fit(self, data):
        self.model = A.sbs(A.restrict(data.scores, drop="models").scores, data.prices, data.costs)[0]
        return self

    def route(self, data):
        return Routing(pd.Series(self.model, index=data.scores.index))

    def state(self, folder):
        return {"model": self.model}

    def load_state(self, state, folder):
        self.model = state["model"]


class Cheapest(SingleBest):
    """The model with the lowest mean cost per problem on the training problems
    (``analysis.cheapest``), among the models scored on all of them, as the SBS (any
    model when none is)."""

    name = "cheapest"

    def fit(self, data):
        scored = list(A.restrict(data.scores, drop="models").scores.columns)
        self.model = A.cheapest(data.costs, scored or data.models, data.prices)
        return self


class DatasetOracle(Router):
    """The field's "dataset oracle": per dataset, the model with the best mean score on
    that dataset's training problems (ties: the cheapest), among the models scored on
    every training problem, as the SBS. It knows each problem's dataset, which a
    deployed router does too, not its answers. A dataset without training problems
    gets the SBS."""

    name = "dataset-oracle"

    def __init__(self) -> None:
        self.model_of: dict[str, str] = {}
        self.fallback = ""

    def fit(self, data):
        scores = A.restrict(data.scores, drop="models").scores
        datasets = data.datasets.loc[scores.index]
        self.model_of = A.best_per_group(scores, datasets, sorted(set(datasets)), data.prices, data.costs)
        self.fallback = A.sbs(scores, data.prices, data.costs)[0]
        return self

    def route(self, data):
        return Routing(data.datasets.loc[data.scores.index].map(lambda d: self.model_of.get(d, self.fallback)))

    def state(self, folder):
        return {"model_of": self.model_of, "fallback": self.fallback}

    def load_state(self, state, folder):
        self.model_of, self.fallback = state["model_of"], state["fallback"]


class Oracle(Router):
    """Per problem the cheapest model with the best score, among those scored on it."""

    name = "oracle"
    peeks = True

    def route(self, data):
        # A missing cell never wins; a problem no model was scored on goes to the cheapest
        # (it is out of coverage anyway).
        return Routing(A.oracle_choice(data.scores.fillna(-np.inf), data.prices))


class Published(Router):
    """A paper's own routing decisions, replayed (AdaptiveLLM's ``predictions_1``)."""

    name = "adaptivellm-published"

    def __init__(self, predictions: str = "predictions_1") -> None:
        self.predictions = predictions

    def route(self, data):
        routed = authors_predictions(self.predictions)
        missing = sorted(set(data.scores.index) - set(routed.index))
        if missing:
            raise ValueError(f"{self.predictions} has no decision for {len(missing)} problems (e.g. {missing[0]}); "
                             "it covers the AdaptiveLLM test split only")
        return Routing(routed.loc[data.scores.index])

    def state(self, folder):
        return {"predictions": self.predictions}

    def load_state(self, state, folder):
        self.predictions = state["predictions"]
