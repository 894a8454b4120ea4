"""LLMRouterBench (github.com/ynulihao/LLMRouterBench; its results bundle
``bench-release.tar.gz``): a directory tree ``results/bench/<dataset>/<split>/<model>/
<dataset>-<split>-<model>-<YYYYMMDD_HHMMSS>.json``, each file one model's run on one
split of one data set (``dataset_name``, ``split``, ``model_name``, ``demo``) with per-record
``index``, ``origin_query``, ``prompt``, ``raw_output``, ``score``, ``prompt_tokens``,
``completion_tokens``, ``cost`` (USD). As upstream's loader: demo runs are skipped, and of
several runs of one (dataset, split, model) the latest by its file name's time stamp is read."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .base import Format, Part, check_costs, check_scores, head, open_text

STAMP = re.compile(r"(\d{8})_(\d{6})\.json(?:\.gz)?$")


class LLMRouterBench(Format):
    name = "llmrouterbench"

    def detect(self, path: Path) -> bool:
        return path.is_dir() and any(b'"records"' in head(f, 65536) for f in _files(_root(path))[:1])

    def read(self, path: Path) -> Part:
        source = str(path)
        runs: dict[tuple[str, str, str], list[tuple[Path, dict]]] = {}
        from sandboxes.progress import progress

        for file in progress(_files(_root(path)), desc="LLMRouterBench files", unit="file"):
            doc = _load(file)
            if doc.get("demo"):
                continue
            key = tuple(doc[k] for k in ("dataset_name", "split", "model_name"))
            runs.setdefault(key, []).append((file, doc))
        if not runs:
            raise ValueError(f"{source}: no result file outside demo runs under {_root(path)}")
        splits_of = {}
        for dataset, split, _ in runs:
            splits_of.setdefault(dataset, set()).add(split)
        rows, unscored = [], 0
        for (dataset, split, model), found in sorted(runs.items()):
            file, doc = max(found, key=lambda fd: _stamp(fd[0]))
            seen = set()
            for record in doc["records"]:
                if not isinstance(record, dict) or "index" not in record or "score" not in record:
                    raise ValueError(f"{file}: a record without \"index\" or \"score\"")
                if record["index"] in seen:
                    raise ValueError(f"{file}: record index {record['index']!r} appears twice")
                seen.add(record["index"])
                own = f"{split}-{record['index']}" if len(splits_of[dataset]) > 1 else str(record["index"])
                # upstream's loader counts a record its evaluator could not score as 0 (BaselineRecord.score)
                unscored += record["score"] is None
                raw = record.get("raw_output")
                rows.append({"id": f"{dataset}/{own}", "dataset": dataset, "split": split, "model": model,
                             "score": 0.0 if record["score"] is None else record["score"],
                             "cost": record.get("cost", np.nan), "tokens": record.get("completion_tokens", np.nan),
                             "prompt": record.get("origin_query") or record.get("prompt") or "",
                             "response": raw if isinstance(raw, str) or raw is None else json.dumps(raw)})
        long = pd.DataFrame(rows)
        ids = list(dict.fromkeys(long["id"]))

        def wide(column: str) -> pd.DataFrame:
            return long.pivot(index="id", columns="model", values=column).reindex(ids)

        first = long.drop_duplicates("id").set_index("id").loc[ids]
        splits = {}
        if all({"train", "test"} <= s for s in splits_of.values()):
            splits = {s: list(first.index[first["split"] == s]) for s in dict.fromkeys(first["split"])}
        notes = [f"{source}: {unscored} records without a score counted as 0, as upstream's loader does"] \
            if unscored else []
        return Part(source, check_scores(wide("score"), source), first["dataset"], first["prompt"],
                    costs=check_costs(wide("cost"), source), tokens=wide("tokens").astype(float),
                    responses=wide("response"), splits=splits, notes=notes)


def _root(path: Path) -> Path:
    return path / "bench" if (path / "bench").is_dir() else path


def _files(root: Path) -> list[Path]:
    return sorted([*root.glob("*/*/*/*.json"), *root.glob("*/*/*/*.json.gz")])


def _load(file: Path) -> dict:
    try:
        with open_text(file) as fh:
            doc = json.load(fh)
    except (OSError, EOFError, ValueError) as exc:
        raise ValueError(f"{file}: not readable JSON ({str(exc).splitlines()[0][:160]})") from None
    missing = [k for k in ("dataset_name", "split", "model_name", "records")
               if not isinstance(doc, dict) or k not in doc]
    if missing:
        raise ValueError(f"{file}: not an LLMRouterBench result: no {missing[0]!r}")
    if not isinstance(doc["records"], list):
        raise ValueError(f"{file}: \"records\" must be a list")
    return doc


def _stamp(file: Path) -> float:
    m = STAMP.search(file.name)
    return float(m.group(1) + m.group(2)) if m else file.stat().st_mtime
