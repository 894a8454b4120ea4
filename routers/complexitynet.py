"""ComplexityNet: a problem's complexity level from M=5 trials each of three
reference models of increasing strength (X1, X2, X3 = trials passed), an encoder
classifier that predicts the level from the prompt, and per level the pool model
with the best cost-aware score on the training problems of that level (data without
token counts, such as an imported pool: the best pass rate, ties to the cheapest).

Levels (ComplexityNet's 5-level mapping): L1 if X1=5 or X1+X2>=7; L2 if X2=5; L3 if
X3=5; L4 if X2>=l4_min or X3>=l4_min (the paper: 2); else L5. The AdaptiveLLM
artifact's ComplexityNet baseline used l4_min=3 (with 3 its clusters are reproduced
exactly; see tests). Trials: the artifact's CodeLlama / GPT-3.5 / GPT-4o runs (on a
run, for the problems the artifact has), or ``references``: three of the data's own
models, weakest first, X = round(5 x pass rate) (a run with n=5 gives the counts).
Data without the artifact's trials and no ``references`` (an imported pool): the three
models spanning its quality range on the training problems (the weakest, the median,
the strongest by mean pass rate), so ``route compare`` can run it with its defaults.
Only the training problems need trials: test problems are routed from the prompt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import analysis as A
from .base import Router, Routing
from .cot_length import objective
from .encoder import Encoder


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


def spanning(data) -> list[str]:
    """The weakest, the median and the strongest model by mean pass rate over ``data``'s
    problems (ties in the data's model order, cheapest first): references spanning the pool's range."""
    if data.pass_rate is None:
        raise ValueError(f"{data.name} has no reference-model trials and no pass rates; name three of its models "
                         "with --param references=WEAK,MID,STRONG")
    mean = data.pass_rate.loc[data.scores.index].mean()
    ranked = sorted(mean.dropna().index, key=lambda m: mean[m])
    if len(ranked) < 3:
        raise ValueError(f"{data.name}: ComplexityNet needs three reference models with pass rates, has "
                         f"{len(ranked)}")
    return [ranked[0], ranked[len(ranked) // 2], ranked[-1]]


class ComplexityNet(Router):
    name = "complexitynet"

    def __init__(self, encoder: str | None = None, epochs: int = 3, l4_min: int = 2, seed: int = 0,
                 max_len: int = 256, references: list[str] | None = None) -> None:
        self.encoder_path, self.epochs, self.l4_min, self.seed, self.max_len = encoder, epochs, l4_min, seed, max_len
        if isinstance(references, str):
            references = [r.strip() for r in references.split(",")]
        if references is not None and (len(references) != 3 or len(set(references)) != 3):
            raise ValueError(f"references: three different model names, weakest first, got {references!r}")
        self.references = references
        self.level_model: dict[int, str] = {}

    def trials(self, data) -> pd.DataFrame:
        if self.references is None:
            if data.trials is None:
                raise ValueError(f"{data.name} has no reference-model trials; name three of its models with "
                                 "--param references=WEAK,MID,STRONG")
            x = data.trials
        else:
            unknown = [m for m in self.references if m not in data.models]
            if unknown or data.pass_rate is None:
                raise ValueError(f"references: {unknown or self.references} not models with pass rates in "
                                 f"{data.name} (has: {', '.join(data.models)})")
            x = (data.pass_rate[list(self.references)] * 5).round()
        x = x.reindex(data.scores.index)
        missing = list(x.index[x.isna().any(axis=1)])
        if missing:
            raise ValueError(f"no reference-model trials for {len(missing)} of {len(x)} training problems "
                             f"(e.g. {missing[0]}); name three models with --param references=WEAK,MID,STRONG")
        return x.astype(int)

    def levels(self, data) -> np.ndarray:
        return np.array([level(*row, l4_min=self.l4_min) for row in self.trials(data).itertuples(index=False)])

    def fit(self, data):
        if self.references is None and data.trials is None:
            self.references = spanning(data)  # saved with the router: routing needs no trials
        ids = list(data.scores.index)
        lv = self.levels(data)
        # The cost-aware score needs token counts; a pool without them (an imported one) ranks by pass rate
        scores = A.restrict(objective(data, "score" if data.tokens is not None else "pass"), drop="models").scores
        self.level_model = A.best_per_group(scores, lv, range(1, 6), data.prices, data.costs)
        self.enc = Encoder(self.encoder_path, self.max_len, self.seed)
        self.losses = self.enc.finetune(data.prompts.loc[ids].tolist(), lv - 1, "classify", epochs=self.epochs)
        self.enc_outputs = int(lv.max())
        return self

    def route(self, data):
        logits = self.enc.predict(data.prompts.loc[data.scores.index].tolist())
        return Routing(pd.Series([self.level_model[int(k) + 1] for k in logits.argmax(axis=1)],
                                 index=data.scores.index))

    def state(self, folder: Path) -> dict:
        self.enc.save(folder / "encoder")
        return {"level_model": self.level_model, "l4_min": self.l4_min, "seed": self.seed, "max_len": self.max_len,
                "outputs": self.enc_outputs, "losses": self.losses, "references": self.references}

    def load_state(self, state, folder):
        self.level_model = {int(k): v for k, v in state["level_model"].items()}
        self.l4_min, self.seed, self.max_len = state["l4_min"], state["seed"], state["max_len"]
        self.references = state.get("references")
        self.enc = Encoder(str(folder / "encoder"), self.max_len, self.seed)
        self.enc.load_head(folder / "encoder", state["outputs"])
