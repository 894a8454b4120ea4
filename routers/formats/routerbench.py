"""RouterBench (Hu et al. 2024, github.com/withmartian/routerbench): the wide table of its
``convert_data.py`` (``routerbench_0shot.pkl`` on the HF hub, or a CSV subset of it such
as RouterDC's ``datasets/routerbench_zs/mbpp_{train,test}.csv``): one row per prompt,
``sample_id``, ``prompt`` and each response a Python-literal list of strings, ``eval_name``,
one score column per model, ``<model>|model_response``, ``<model>|total_cost`` (USD)."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from .base import Format, Part, check_costs, check_scores, head, match_problems, split_of

KEYS = ("sample_id", "prompt", "eval_name")
# Columns that are neither a model nor a model's field: the oracle's pick, a saved index.
IGNORED = ("oracle_model_to_route_to", "index", "idx", "")
# RouterBench's MBPP rows are the sanitized set's statements (427 problems): matched there first.
MBPP_SOURCES = ("sanitized", "full")


class RouterBench(Format):
    name = "routerbench"

    def detect(self, path: Path) -> bool:
        first = head(path)
        if first[:1] == b"\x80":  # a pickle: which table it holds shows when it is read
            return path.name.removesuffix(".gz").endswith((".pkl", ".pickle"))
        line = first.split(b"\n", 1)[0].decode("utf-8", "replace")
        return all(k in line for k in KEYS) and any(k in line for k in ("|total_cost", "|model_response",
                                                                         "oracle_model_to_route_to"))

    def read(self, path: Path) -> Part:
        source = str(path)
        table = _table(path)
        missing = [k for k in KEYS if k not in table.columns]
        if missing:
            raise ValueError(f"{source}: not a RouterBench table: no column {missing[0]!r} (has: "
                             f"{', '.join(map(str, table.columns[:8]))}...)")
        if table.empty:
            raise ValueError(f"{source}: no rows")
        models = [c for c in table.columns if "|" not in str(c) and c not in KEYS and str(c) not in IGNORED
                  and not str(c).startswith("Unnamed:")]
        if not models:
            raise ValueError(f"{source}: no model score columns (a column per model, named as the model)")
        for m in models:
            if f"{m}|total_cost" not in table.columns:
                raise ValueError(f"{source}: model {m!r} has no column {m + '|total_cost'!r}")
        ids = table["eval_name"].astype(str) + "/" + table["sample_id"].astype(str)
        if ids.duplicated().any():
            raise ValueError(f"{source}: sample_id {table['sample_id'][ids.duplicated()].iloc[0]!r} of "
                             f"{table['eval_name'][ids.duplicated()].iloc[0]!r} appears twice")
        ids = list(ids)
        scores = check_scores(table[models].set_axis(ids), source)
        costs = check_costs(table[[f"{m}|total_cost" for m in models]].set_axis(ids).set_axis(models, axis=1),
                            source)
        prompts = pd.Series([_text(v, source, "prompt", i) for v, i in zip(table["prompt"], ids, strict=True)],
                            index=ids)
        responses = None
        if any(f"{m}|model_response" in table.columns for m in models):
            responses = pd.DataFrame(
                {m: [_text(v, source, f"{m}|model_response", i) for v, i in zip(table[f"{m}|model_response"], ids,
                                                                                 strict=True)]
                 if f"{m}|model_response" in table.columns else None for m in models}, index=ids)
        datasets = pd.Series(list(table["eval_name"].astype(str)), index=ids)
        mbpp = prompts[datasets == "mbpp"]
        problems = match_problems(mbpp, "mbpp", MBPP_SOURCES) if len(mbpp) else {}
        notes = [f"{source}: {len(problems)} of {len(mbpp)} MBPP rows matched to a bundled MBPP problem by their "
                 f"statement; {len(mbpp) - len(problems)} not (a statement several problems share, or none): "
                 "no program for those"] if len(mbpp) else []
        split = split_of(path)[1]
        return Part(source, scores, datasets, prompts, costs=costs, responses=responses,
                    splits={split: ids} if split else {}, problems=problems, notes=notes)


def _table(path: Path) -> pd.DataFrame:
    if head(path)[:1] == b"\x80":
        # pandas.read_pickle runs the pickle's code: RouterBench ships its table as one; open only files you trust
        table = pd.read_pickle(path)
        if not isinstance(table, pd.DataFrame):
            raise ValueError(f"{path}: the pickle holds a {type(table).__name__}, not a RouterBench table")
        return table
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"sample_id": str})
    except (ValueError, pd.errors.ParserError) as exc:
        raise ValueError(f"{path}: cannot read as CSV ({str(exc).splitlines()[0][:160]})") from None


def _text(cell, source: str, column: str, pid: str) -> str | None:
    """A prompt or response cell: a Python-literal list of strings (``"['Write a ...']"``),
    its strings joined (several: the turns of a multi-turn prompt); NaN: none."""
    if not isinstance(cell, str):
        if isinstance(cell, list):
            items = cell
        elif pd.isna(cell):
            return None
        else:
            raise ValueError(f"{source}: {column} of {pid!r} is a {type(cell).__name__}, not a list of strings")
    else:
        try:
            items = ast.literal_eval(cell)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ValueError(f"{source}: {column} of {pid!r} is not a Python-literal list of strings "
                             f"({cell[:60]!r})") from None
    if isinstance(items, str):
        items = [items]
    if not isinstance(items, (list, tuple)) or not all(isinstance(x, str) for x in items):
        raise ValueError(f"{source}: {column} of {pid!r} is not a list of strings ({str(cell)[:60]!r})")
    return "\n\n".join(items)
