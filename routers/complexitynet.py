"""ComplexityNet: a problem's complexity level from M=5 trials each of three
reference models of increasing strength (X1, X2, X3 = trials passed), an encoder
classifier that predicts the level from the prompt, and per level the pool model
with the best cost-aware score on the training problems of that level.

Levels (ComplexityNet's 5-level mapping): L1 if X1=5 or X1+X2>=7; L2 if X2=5; L3 if
X3=5; L4 if X2>=l4_min or X3>=l4_min (the paper: 2); else L5. The AdaptiveLLM
artifact's ComplexityNet baseline used l4_min=3 (with 3 its clusters are reproduced
exactly; see tests). Trials: the artifact's CodeLlama / GPT-3.5 / GPT-4o runs."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.io import read_records

from . import analysis as A
from .base import Router
from .cot_length import objective
from .data import ARTIFACT
from .encoder import Encoder

TRIAL_MODELS = ("CodeLlama", "GPT3.5", "GPT4o")  # weakest first


def level(x1: int, x2: int, x3: int, l4_min: int = 2) -> int:
    if x1 == 5 or x1 + x2 >= 7:
        return 1
    if x2 == 5:
        return 2
    if x3 == 5:
        return 3
    if x2 >= l4_min or x3 >= l4_min:
        return 4
    return 5


def trials() -> pd.DataFrame:
    """Problem id x (X1, X2, X3): passes out of 5 of the three reference models."""
    cols = {}
    for model in TRIAL_MODELS:
        passed = {}
        for path in sorted((ARTIFACT / "complexitynet_baseline").glob(f"{model}-output-*.jsonl.gz")):
            for row in read_records(path):
                results = ast.literal_eval(row["results"]) if isinstance(row["results"], str) else row["results"]
                passed[row["id"]] = sum(bool(r) for r in results)
        cols[model] = pd.Series(passed)
    return pd.DataFrame(cols)


class ComplexityNet(Router):
    name = "complexitynet"

    def __init__(self, encoder: str | None = None, epochs: int = 3, l4_min: int = 2, seed: int = 0,
                 max_len: int = 256) -> None:
        self.encoder_path, self.epochs, self.l4_min, self.seed, self.max_len = encoder, epochs, l4_min, seed, max_len
        self.level_model: dict[int, str] = {}

    def levels(self, ids) -> np.ndarray:
        x = trials()
        missing = [i for i in ids if i not in x.index]
        if missing:
            raise ValueError(f"no reference-model trials for {len(missing)} problems (e.g. {missing[0]})")
        return np.array([level(*map(int, x.loc[i]), l4_min=self.l4_min) for i in ids])

    def fit(self, data):
        ids = list(data.scores.index)
        lv = self.levels(ids)
        scores = A.restrict(objective(data, "score"), drop="models").scores
        self.level_model = A.best_per_group(scores, lv, range(1, 6), data.prices)
        self.enc = Encoder(self.encoder_path, self.max_len, self.seed)
        self.losses = self.enc.finetune(data.prompts.loc[ids].tolist(), lv - 1, "classify", epochs=self.epochs)
        self.enc_outputs = int(lv.max())
        return self

    def route(self, data):
        logits = self.enc.predict(data.prompts.loc[data.scores.index].tolist())
        return pd.Series([self.level_model[int(k) + 1] for k in logits.argmax(axis=1)], index=data.scores.index)

    def state(self, folder: Path) -> dict:
        self.enc.save(folder / "encoder")
        return {"level_model": self.level_model, "l4_min": self.l4_min, "seed": self.seed, "max_len": self.max_len,
                "outputs": self.enc_outputs, "losses": self.losses}

    def load_state(self, state, folder):
        self.level_model = {int(k): v for k, v in state["level_model"].items()}
        self.l4_min, self.seed, self.max_len = state["l4_min"], state["seed"], state["max_len"]
        self.enc = Encoder(str(folder / "encoder"), self.max_len, self.seed)
        self.enc.load_head(folder / "encoder", state["outputs"])
