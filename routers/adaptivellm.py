"""AdaptiveLLM (arXiv 2506.10525): an encoder fine-tuned to predict a problem's CoT
difficulty level (the ``cot-length`` router's k-means levels on the training split),
then XGBoost on its embeddings predicting the model with the best cost-aware score
(ties: the cheapest). The paper uses CodeBERT; without it offline, the packaged
MiniLM (``routers.encoder``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import analysis as A
from .base import Router, Routing, optional_import
from .cot_length import CoTLength, objective
from .encoder import Encoder


class AdaptiveLLM(Router):
    name = "adaptivellm"

    def __init__(self, encoder: str | None = None, reasoner: str = "DeepSeek-R1-Distill-Qwen-32B", epochs: int = 3,
                 finetune: bool = True, seed: int = 0, max_len: int = 256) -> None:
        self.encoder_path, self.reasoner, self.epochs = encoder, reasoner, epochs
        self.finetune, self.seed, self.max_len = finetune, seed, max_len
        self.classes: list[str] = []
        self.losses: list[float] = []

    def fit(self, data):
        xgboost = optional_import("xgboost")

        ids = list(data.scores.index)
        levels = CoTLength(self.reasoner, seed=self.seed).fit(data).levels(data)
        self.enc = Encoder(self.encoder_path, self.max_len, self.seed)
        texts = data.prompts.loc[ids].tolist()
        if self.finetune:
            self.losses = self.enc.finetune(texts, np.asarray(levels), "classify", epochs=self.epochs)
        x = self.enc.embed(texts)
        scores = A.restrict(objective(data, "score"), drop="models").scores
        target = A.oracle_choice(scores, data.prices)  # best score per problem, ties to the cheapest
        self.classes = sorted(set(target), key=list(scores.columns).index)
        y = np.array([self.classes.index(m) for m in target])
        self.xgb = xgboost.XGBClassifier(n_estimators=200, max_depth=4, learning_rate=0.1, subsample=0.9,
                                         random_state=self.seed, n_jobs=2)
        self.xgb.fit(x, y)
        return self

    def route(self, data):
        x = self.enc.embed(data.prompts.loc[data.scores.index].tolist())
        return Routing(pd.Series([self.classes[i] for i in self.xgb.predict(x)], index=data.scores.index))

    def state(self, folder: Path) -> dict:
        self.enc.save(folder / "encoder")
        self.xgb.save_model(folder / "xgb.json")
        return {"classes": self.classes, "reasoner": self.reasoner, "seed": self.seed, "max_len": self.max_len,
                "encoder": self.enc.path, "losses": self.losses}

    def load_state(self, state, folder):
        xgboost = optional_import("xgboost")

        self.classes, self.reasoner, self.seed, self.max_len = (state["classes"], state["reasoner"], state["seed"],
                                                                state["max_len"])
        self.enc = Encoder(str(folder / "encoder"), self.max_len, self.seed)
        self.xgb = xgboost.XGBClassifier()
        self.xgb.load_model(folder / "xgb.json")
