"""EmbedLLM (Zhuang et al. 2025, github.com/richardzhuang0412/EmbedLLM; the data on the HF
hub, ``RZ412/EmbedLLM``: ``train.csv``, ``val.csv``, ``test.csv``): the long CSV, one row
per (question, model): ``prompt_id, model_id, category_id, label, model_name, category,
prompt``, ``label`` 1 when the model answered correctly, else 0. No costs or responses."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import Format, Part, check_scores, head, shown, split_of

COLUMNS = ("prompt_id", "model_id", "category_id", "label", "model_name", "category", "prompt")


class EmbedLLM(Format):
    name = "embedllm"

    def detect(self, path: Path) -> bool:
        line = head(path).split(b"\n", 1)[0].decode("utf-8", "replace")
        return all(k in line for k in ("prompt_id", "model_name", "label"))

    def read(self, path: Path) -> Part:
        source = str(path)
        try:
            rows = pd.read_csv(path, dtype={"prompt_id": str, "category": str, "model_name": str})
        except (ValueError, pd.errors.ParserError) as exc:
            raise ValueError(f"{source}: cannot read as CSV ({str(exc).splitlines()[0][:160]})") from None
        missing = [c for c in COLUMNS if c not in rows.columns]
        if missing:
            raise ValueError(f"{source}: not an EmbedLLM CSV: no column {missing[0]!r} (needs {', '.join(COLUMNS)})")
        if rows.empty:
            raise ValueError(f"{source}: no rows")
        for column in ("prompt_id", "model_name", "category"):
            if rows[column].isna().any():
                raise ValueError(f"{source}: line {int(rows.index[rows[column].isna()][0]) + 2}: no {column}")
        label = pd.to_numeric(rows["label"], errors="coerce")
        bad = label.isna() | ~label.isin([0, 1])
        if bad.any():
            line = int(rows.index[bad][0])
            raise ValueError(f"{source}: line {line + 2}: label must be 0 or 1 (got {shown(rows['label'].iloc[line])})")
        per_prompt = rows.groupby("prompt_id")[["category", "prompt"]].nunique(dropna=False)
        clash = per_prompt[(per_prompt > 1).any(axis=1)]
        if len(clash):
            raise ValueError(f"{source}: prompt_id {clash.index[0]!r} comes with two categories or prompts")
        # A (question, model) recorded twice: the mean of its labels (upstream's kNN loader takes the max).
        scores = rows.assign(label=label).pivot_table(index="prompt_id", columns="model_name", values="label",
                                                      aggfunc="mean", sort=False)
        first = rows.drop_duplicates("prompt_id").set_index("prompt_id")
        ids = [f"{first.at[p, 'category']}/{p}" for p in scores.index]
        repeated = int(rows.duplicated(["prompt_id", "model_name"]).sum())
        notes = [f"{source}: {repeated} (question, model) pairs recorded more than once: scored by the mean of "
                 "their labels"] if repeated else []
        split = split_of(path)[1]
        return Part(source, check_scores(scores.set_axis(ids), source, "label"),
                    pd.Series(list(first.loc[scores.index, "category"]), index=ids),
                    pd.Series(list(first.loc[scores.index, "prompt"].fillna("")), index=ids),
                    splits={split: ids} if split else {}, notes=notes)
