"""Reading benchmark records from local files or the HuggingFace hub."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".jsonl.gz", ".json.gz")


class DataError(ValueError):
    """A benchmark file or dataset that cannot be read; the message names it."""


def read_records(path: str | Path) -> list[dict]:
    """Rows of a JSONL / JSON / Parquet file; ``.gz`` allowed for the text formats."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    name = path.name.removesuffix(".gz")
    if name.endswith(".parquet"):
        import pandas as pd

        return pd.read_parquet(path).to_dict("records")
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        if name.endswith(".json"):
            try:
                data = json.load(fh)
            except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
                raise DataError(f"{path}: invalid JSON ({str(exc)[:200]})") from None
            if not isinstance(data, list):
                raise DataError(f"{path}: expected a JSON list of records")
            return data
        return [row for _, row in iter_jsonl(fh, str(path))]


def iter_jsonl(lines, name: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a binary file; every error
    names the line. A UTF-8 byte-order mark is accepted."""
    for lineno, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{name}:{lineno}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise DataError(f"{name}:{lineno}: invalid JSON ({str(exc)[:200]})") from None
        if not isinstance(row, dict):
            raise DataError(f"{name}:{lineno}: expected a JSON object, got {type(row).__name__}")
        yield lineno, row


def load_hf(dataset_id: str, split: str, config: str | None = None) -> list[dict]:
    """Rows of a HuggingFace dataset (needs the `datasets` package and the hub or its cache)."""
    try:
        import datasets
    except ImportError:
        raise DataError(f"loading {dataset_id!r} from the HuggingFace hub needs `datasets`, the hf extra: "
                        "pip install -e '.[hf]'; or pass a local file as --source") from None
    try:
        ds = datasets.load_dataset(dataset_id, config, split=split)
    except Exception as exc:
        raise DataError(f"cannot load HuggingFace dataset {dataset_id!r} split {split!r}: {cause(exc)}") from None
    return [dict(row) for row in ds]


def cause(exc: BaseException) -> str:
    """What an exception says, on one line and never empty: its type and message; a
    message-less one (some of `datasets`' and `fsspec`'s errors) is followed by its cause."""
    parts: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = " ".join(str(exc).split())  # one line, as every error of the CLI
        parts.append(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
        if text:
            break
        exc = exc.__cause__ or exc.__context__
    return ", caused by ".join(parts)


def load_rows(source: str, split: str, config: str | None = None) -> list[dict]:
    """``source``: a data file (exists or looks like one), else a HuggingFace dataset id
    or a local dataset folder, both read by `datasets`."""
    if Path(source).is_file() or source.endswith(DATA_SUFFIXES):
        return read_records(source)
    return load_hf(source, split, config)
