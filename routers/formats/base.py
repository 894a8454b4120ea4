"""What every routing-data format shares: the ``Format`` contract, a file's problems as
one ``Part``, the files' parts as one ``RouterData`` (``combine``), the price table and
the matching of a file's problems to bundled benchmark problems. Errors are
``ValueError``s of one line naming the file (the harness shows them as they are)."""

from __future__ import annotations

import gzip
import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

# A file's own split, from its name: ``humaneval_train.json``, ``gsm8k-test.json``, ``val.csv``.
SPLIT_NAME = re.compile(r"(?:^|[_\-.])(train|test|val|valid|validation|dev)$", re.IGNORECASE)


class Format(ABC):
    """A routing-data format: ``detect`` says from a path's content whether it is one
    (cheap: a header, the first bytes); ``read`` turns it into a ``Part``."""

    name: str

    @abstractmethod
    def detect(self, path: Path) -> bool: ...

    @abstractmethod
    def read(self, path: Path) -> Part: ...


@dataclass
class Part:
    """One file's (or one directory's) problems, ids ``dataset/<id>``: scores (problem
    x model in [0, 1]), each problem's dataset and prompt; costs ($ per problem),
    output tokens and the responses (text; None: none) where the file has them; its
    own splits; the bundled problems its problems were matched to (id -> (benchmark,
    problem)); and notes for the user (what was counted, left out or assumed)."""

    source: str
    scores: pd.DataFrame
    datasets: pd.Series
    prompts: pd.Series
    costs: pd.DataFrame | None = None
    tokens: pd.DataFrame | None = None
    responses: pd.DataFrame | None = None
    splits: dict[str, list[str]] = field(default_factory=dict)
    problems: dict[str, tuple] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def open_text(path: Path):
    """A text file, gzip-compressed or not (``.gz``)."""
    return gzip.open(path, "rt", encoding="utf-8") if path.name.endswith(".gz") else open(path, encoding="utf-8")


def head(path: Path, n: int = 4096) -> bytes:
    """The first ``n`` bytes of a file, uncompressed (b"" for a directory or a bad gzip)."""
    if not path.is_file():
        return b""
    try:
        with (gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")) as fh:
            return fh.read(n)
    except (OSError, EOFError):
        return b""


def stem(path: Path) -> str:
    """The name without ``.gz`` and the format's suffix: ``humaneval_train.json.gz`` -> ``humaneval_train``."""
    name = path.name.removesuffix(".gz")
    return name.rsplit(".", 1)[0] if "." in name else name


def split_of(path: Path) -> tuple[str, str | None]:
    """(the name without its split, the split) of a file: ``humaneval_train`` -> (``humaneval``, ``train``)."""
    name = stem(path)
    m = SPLIT_NAME.search(name)
    return (name[:m.start()] or name, m.group(1).lower()) if m else (name, None)


def check_scores(frame: pd.DataFrame, source: str, what: str = "score") -> pd.DataFrame:
    """Scores as floats in [0, 1] (NaN: none); one error naming the first bad cell."""
    values = frame.apply(pd.to_numeric, errors="coerce")
    bad = (frame.notna() & values.isna()) | (values < 0) | (values > 1)
    if bad.any().any():
        problem, model = bad.stack()[bad.stack()].index[0]
        raise ValueError(f"{source}: {what} of model {model!r} on {problem!r} must be a number in [0, 1] "
                         f"(got {shown(frame.at[problem, model])})")
    return values.astype(float)


def shown(value) -> str:
    """A cell as an error shows it: a string quoted, a number as written."""
    return repr(value) if isinstance(value, str) else str(value)


def check_costs(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    values = frame.apply(pd.to_numeric, errors="coerce")
    bad = (frame.notna() & values.isna()) | (values < 0)
    if bad.any().any():
        problem, model = bad.stack()[bad.stack()].index[0]
        raise ValueError(f"{source}: cost of model {model!r} on {problem!r} must be a number >= 0 "
                         f"(got {shown(frame.at[problem, model])})")
    return values.astype(float)


def read_prices(path: str | Path) -> dict[str, float]:
    """A price table: JSON or YAML, model -> USD per problem (a number >= 0)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the price table ({exc.strerror or exc})") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            table = yaml.safe_load(text)
        else:
            table = json.loads(text)
    except Exception as exc:  # json and yaml raise their own kinds
        raise ValueError(f"{path}: not a JSON/YAML price table ({str(exc).splitlines()[0][:160]})") from None
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{path}: a price table maps each model to its USD per problem ({{\"model\": 0.001}})")
    for model, price in table.items():
        if isinstance(price, bool) or not isinstance(price, (int, float)) or not price >= 0:
            raise ValueError(f"{path}: price of model {model!r} must be a number >= 0 (USD per problem), "
                             f"got {price!r}")
    return {str(m): float(p) for m, p in table.items()}


def normalized(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().lower()


def match_problems(texts: pd.Series, benchmark: str, sources: tuple[str, ...]) -> dict[str, tuple]:
    """Row id -> (benchmark, problem) of the bundled problem whose statement is the row's
    text (whitespace and case aside). The sources are tried in order: the first with
    a problem of that text decides; a text that names several problems there, or a
    problem that several rows name, is matched to none (no guess)."""
    from benchmarks import get_benchmark

    bench = get_benchmark(benchmark)
    index = []
    for source in sources:
        by_text: dict[str, list] = {}
        for problem in bench.load(source, None):
            by_text.setdefault(normalized(problem.prompt), []).append(problem)
        index.append(by_text)
    picked = {}
    for rid, text in texts.items():
        key = normalized(text)
        found = next((by_text[key] for by_text in index if key in by_text), [])
        if len(found) == 1:
            picked[rid] = found[0]
    claims = pd.Series({rid: p.id for rid, p in picked.items()}, dtype=object)
    twice = set(claims[claims.duplicated(keep=False)].index)
    return {rid: (bench, p) for rid, p in picked.items() if rid not in twice}


def combine(parts: list[Part], name: str, prices: str | Path | None = None, test_fraction: float = 0.3,
            seed: int = 0):
    """The parts of one format as one ``RouterData``: problems the union (an id in two
    parts is an error), models the union. Costs: the price table file ``prices`` (USD
    per problem, every model) when given, else the files' (all-NaN when they have none:
    no cost is made up; ``has_costs`` tells). Splits: the files' own when every part
    has one, else a seeded split, ``test_fraction`` of each dataset's problems for
    test. A bundled problem two parts' rows were matched to is matched to neither."""
    from ..data import RouterData, seeded_split
    from .execution import execution_of

    seen: dict[str, str] = {}
    for part in parts:
        for pid in part.scores.index:
            if pid in seen:
                raise ValueError(f"{part.source}: problem {pid!r} is also in {seen[pid]} (give each problem once)")
            seen[pid] = part.source
    ids = [pid for part in parts for pid in part.scores.index]
    models = list(dict.fromkeys(m for part in parts for m in part.scores.columns))

    def joined(attr: str) -> pd.DataFrame | None:
        frames = [getattr(p, attr) for p in parts]
        if all(f is None for f in frames):
            return None
        return pd.concat([f if f is not None else pd.DataFrame(index=p.scores.index)
                          for f, p in zip(frames, parts, strict=True)]).reindex(index=ids, columns=models)

    scores = joined("scores")
    notes = [n for part in parts for n in part.notes]
    if prices is not None:
        table = read_prices(prices)
        missing = [m for m in models if m not in table]
        if missing:
            raise ValueError(f"{prices}: no price for model {missing[0]!r} of {name} (its models: "
                             f"{', '.join(models)})")
        costs = pd.DataFrame({m: [table[m]] * len(ids) for m in models}, index=ids)
        order = {m: table[m] for m in models}
    else:
        costs = joined("costs")
        if costs is None:
            costs = pd.DataFrame(np.nan, index=ids, columns=models)
        means = costs.mean()
        order = {m: float(means[m]) if pd.notna(means[m]) else np.nan for m in models}
    datasets = pd.concat([p.datasets for p in parts]).reindex(ids)
    if all(p.splits for p in parts):
        splits: dict[str, list[str]] = {}
        for part in parts:
            for split, members in part.splits.items():
                splits.setdefault(split, []).extend(members)
    else:
        splits = seeded_split(datasets, test_fraction, seed)
        notes.append(f"split: seeded ({seed}), {test_fraction:.0%} of each dataset's problems for test (the "
                     "files name no train/test split of their own)")
    problems = {pid: hit for part in parts for pid, hit in part.problems.items()}
    claims = pd.Series({pid: problem.id for pid, (_, problem) in problems.items()}, dtype=object)
    twice = claims[claims.duplicated(keep=False)]
    if len(twice):
        notes.append(f"{len(twice)} rows of different files name the same bundled problem: no program for those")
        problems = {pid: hit for pid, hit in problems.items() if pid not in twice.index}
    responses = joined("responses")
    return RouterData(scores, costs, order, pd.concat([p.prompts for p in parts]).reindex(ids).fillna(""), datasets,
                      splits, pass_rate=scores, tokens=joined("tokens"), name=name,
                      execution=execution_of(problems, responses, scores, costs) if problems else None,
                      responses=responses, notes=tuple(notes))
