"""RouterDC (Chen et al. 2024, github.com/shuhao02/RouterDC): a JSON list of
``{"question": text, "scores": {model: score}}``, one file per data set and split
(``datasets/split2_model7/humaneval_{train,test}.json``, ``mbpp.json``: 7 models, the
score a pass rate over 10 samples). No ids, costs or responses: a problem is its
position in the file (``<dataset>/<file>/<row>``), and costs come from a price table."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .base import Format, Part, check_scores, head, open_text, split_of, stem


class RouterDC(Format):
    name = "routerdc"

    def detect(self, path: Path) -> bool:
        start = head(path, 65536).lstrip()
        return start[:1] == b"[" and b'"question"' in start and b'"scores"' in start

    def read(self, path: Path) -> Part:
        source = str(path)
        try:
            with open_text(path) as fh:
                rows = json.load(fh)
        except (OSError, EOFError, ValueError) as exc:
            raise ValueError(f"{source}: not readable JSON ({str(exc).splitlines()[0][:160]})") from None
        if not isinstance(rows, list) or not rows:
            raise ValueError(f"{source}: a RouterDC file is a non-empty JSON list of {{\"question\", \"scores\"}}")
        name, split = split_of(path)
        dataset = name.lower()
        ids, prompts, scores = [], [], []
        for n, row in enumerate(rows):
            if not isinstance(row, dict) or not isinstance(row.get("question"), str) \
                    or not isinstance(row.get("scores"), dict) or not row["scores"]:
                raise ValueError(f"{source}: row {n}: needs \"question\" (text) and \"scores\" (model -> score)")
            ids.append(f"{dataset}/{stem(path)}/{n}")
            prompts.append(row["question"])
            scores.append(row["scores"])
        frame = pd.DataFrame(scores, index=ids)
        models = list(frame.columns)
        lacking = frame.isna().any()
        if lacking.any():
            model = lacking.index[lacking][0]
            row = frame.index.get_loc(frame.index[frame[model].isna()][0])
            raise ValueError(f"{source}: row {row}: no score of model {model!r} (every row scores the same models: "
                             f"{', '.join(models)})")
        return Part(source, check_scores(frame, source), pd.Series(dataset, index=ids),
                    pd.Series(prompts, index=ids), splits={split: ids} if split else {})
