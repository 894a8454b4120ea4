"""The data of ``route``, ``report oracle-gap`` and ``report html``: ``adaptivellm``
(the bundled artifact); a routing data set others published (``routers.formats``:
files of one format, comma-separated, or a bundled pool's short name, e.g.
``routerdc-humaneval``), which is a source of its own; or one or several run directories
and wide matrix files, comma-separated, read as one. Models are matched by name and the problems are the
union. A (dataset, problem) that two runs both have for a model is pooled: its samples
are kept side by side (the later run's numbered after the earlier's), as a resume that
adds samples would store them; the model must then be the same one (identity and
price) and the dataset the same split and source. A matrix file has means without
sample counts, so a cell that two sources both score is an error naming it."""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from .matrix import RunMatrix

ARTIFACT = "adaptivellm"
IMPORTED = "imported"


@dataclass(frozen=True)
class Sources:
    spec: str  # as given
    # adaptivellm | run (every path a run directory) | matrix (some path a matrix file) |
    # imported (every path a file of one routing format: ``routers.formats``)
    kind: str
    paths: tuple[str, ...]


def parse(spec: str) -> Sources:
    """What ``spec`` names; one error line for a missing path, a source given twice, or
    the artifact, a bundled pool or an imported file combined with others."""
    from routers.formats import BUNDLED, bundled_paths

    if spec == ARTIFACT:
        return Sources(spec, ARTIFACT, ())
    if spec in BUNDLED:
        return Sources(spec, IMPORTED, tuple(str(p) for p in bundled_paths(spec)))
    parts = [spec] if Path(spec).exists() else [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise UserError(f"{spec!r}: no source named")
    for own in (ARTIFACT, *BUNDLED):
        if own in parts:
            raise UserError(f"{spec}: {own!r} is a source of its own: it cannot be combined with run directories "
                            "or other files")
    seen: dict[Path, str] = {}
    formats = {p: _format(p) for p in parts}
    for p in parts:
        if (Path(p) / "run.sqlite").is_file() or Path(p).is_file() or formats[p]:
            if Path(p).resolve() in seen:
                also = seen[Path(p).resolve()]
                raise UserError(f"{spec}: {p} is given twice" + (f" (also as {also})" if also != p else ""))
            seen[Path(p).resolve()] = p
        elif Path(p).is_dir():
            raise UserError(f"{p}: not a run directory (no run.sqlite) nor an LLMRouterBench results directory "
                            "(bench/<dataset>/<split>/<model>/*.json)")
        else:
            raise UserError(f"{p}: no such run directory or matrix file")
    imported = [p for p in parts if formats[p]]
    if imported and len(imported) < len(parts):
        other = next(p for p in parts if not formats[p])
        raise UserError(f"{spec}: {imported[0]} is a {formats[imported[0]]} file, a source of its own: it cannot be "
                        f"combined with {other} (a run directory or a matrix file)")
    if imported:
        return Sources(spec, IMPORTED, tuple(parts))
    runs = all((Path(p) / "run.sqlite").is_file() for p in parts)
    return Sources(spec, "run" if runs else "matrix", tuple(parts))


def _format(path: str) -> str | None:
    """The routing format of a path that is no run directory (``routers.formats.detect``)."""
    if (Path(path) / "run.sqlite").is_file() or not Path(path).exists():
        return None
    from routers.formats import detect

    return detect(path)


@dataclass(frozen=True)
class Runs:
    """Run directories as one: the pooled matrix (``harness.store.matrix.RunMatrix``), and
    each run's ``run`` metadata (its datasets, split and source)."""
    paths: tuple[str, ...]
    matrix: RunMatrix
    keys: tuple[dict, ...]

    @property
    def datasets(self) -> list[str]:
        """The datasets the runs were asked for, then any other they hold, in order."""
        asked = [d for key in self.keys for d in key.get("datasets", [])]
        return list(dict.fromkeys([*asked, *self.matrix.passes.index.get_level_values(0)]))


def load_runs(paths: tuple[str, ...] | list[str]) -> Runs:
    import pandas as pd

    from .identity import identity_changes
    from .matrix import from_samples, load_matrix
    from .runstore import connect_readonly, read_meta

    frames, keys = [], []
    prices, identities, where = {}, {}, {}  # model -> its first run's price, identity, and that run
    splits = {}  # dataset -> the first run that has it, and the (split, source) it ran on
    for path in paths:
        m = load_matrix(path)
        key = read_meta(path, "run", {})
        with closing(connect_readonly(path)) as con:
            ident = {name: json.loads(text) for name, text in con.execute("SELECT name, identity FROM models")}
        for d in dict.fromkeys([*key.get("datasets", []), *m.samples["dataset"]]):
            split = (key.get("split", "test"), key.get("source"))
            if splits.setdefault(d, (path, split))[1] != split:
                other, theirs = splits[d]
                raise UserError(f"{path}: dataset {d!r} was run on split {split[0]!r} of source "
                                f"{split[1] or 'bundled'}, in {other} on split {theirs[0]!r} of source "
                                f"{theirs[1] or 'bundled'}: not the same problems")
        for name, price in m.prices.items():
            if name in prices and prices[name] != price:
                raise UserError(f"{path}: model {name!r} costs {price[0]}/{price[1]} USD per Mtok (in/out), in "
                                f"{where[name]} {prices[name][0]}/{prices[name][1]}: not the same model")
            if name in identities and identities[name] != ident[name]:
                raise UserError(f"{path}: model {name!r} differs from the one in {where[name]} "
                                f"({identity_changes(identities[name], ident[name])}): not the same model")
            prices.setdefault(name, price)
            identities.setdefault(name, ident[name])
            where.setdefault(name, path)
        frames.append(m.samples)
        keys.append(key)
    samples = frames[0]
    for frame in frames[1:]:
        # a pooled cell: this run's samples numbered after the ones before
        before = samples.groupby(["dataset", "problem", "model"])["sample"].max() + 1
        offset = frame.set_index(["dataset", "problem", "model"]).index.map(before.to_dict()).fillna(0)
        samples = pd.concat([samples, frame.assign(sample=frame["sample"] + offset.to_numpy().astype(int))],
                            ignore_index=True)
    return Runs(tuple(paths), from_samples(samples, prices), tuple(keys))


def matrix_scores(paths: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """(dataset, problem) x model scores of run directories (their pass matrices) and
    matrix files, joined: rows and columns in the order first seen."""
    from .matrix import load_matrix

    out, seen = None, []
    for path in paths:
        frame = load_matrix(path).passes if (Path(path) / "run.sqlite").is_file() else read_matrix_file(path)
        seen.append((path, frame))
        if out is not None:
            both = (out.reindex(index=frame.index, columns=frame.columns).notna() & frame.notna()).stack()
            if both.any():
                d, p, model = both[both].index[0]
                earlier = next(q for q, f in seen[:-1]
                               if f.reindex(index=[(d, p)], columns=[model]).notna().to_numpy().any())
                raise UserError(f"{path}: problem {p!r} of {d!r} has a score of model {model!r} here and in "
                                f"{earlier} (a matrix file has no sample counts to pool: give each cell once)")
            rows = list(dict.fromkeys([*out.index, *frame.index]))
            columns = list(dict.fromkeys([*out.columns, *frame.columns]))
            frame = out.combine_first(frame).reindex(index=rows, columns=columns)
            frame.index.names = ["dataset", "problem"]
        out = frame
    return out


def read_matrix_file(source: str) -> pd.DataFrame:
    """A wide matrix file (CSV/Parquet: ``problem``, optional ``dataset``, one numeric
    column per model in [0, 1]) as (dataset, problem) x model; one UserError for
    anything unreadable."""
    import pandas as pd

    path = Path(source)
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pandas/pyarrow raise many kinds for a bad file
        raise UserError(f"{source}: cannot read as CSV/Parquet ({exc.__class__.__name__}: {str(exc)[:200]})") from None
    if "problem" not in frame.columns:
        from routers.formats import FORMATS

        raise UserError(f"{source}: neither a matrix file (it needs a 'problem' column and one numeric column per "
                        f"model) nor a file of a routing format ({', '.join(FORMATS)}: docs/formats.md)")
    if "dataset" not in frame.columns:
        frame["dataset"] = "all"
    models = [c for c in frame.columns if c not in ("problem", "dataset")]
    if not models:
        raise UserError(f"{source}: no model columns")
    for m in models:
        col = pd.to_numeric(frame[m], errors="coerce")
        bad = frame[m].notna() & col.isna()
        if bad.any() or ((col < 0) | (col > 1)).any():
            row = int((bad | (col < 0) | (col > 1)).to_numpy().nonzero()[0][0]) + 2
            raise UserError(f"{source}: line {row}: column {m!r} must hold scores in [0, 1] "
                            f"(got {str(frame[m].iloc[row - 2])!r})")
        frame[m] = col
    if frame.duplicated(["dataset", "problem"]).any():
        raise UserError(f"{source}: a (dataset, problem) appears twice")
    return frame.set_index(["dataset", "problem"])[models].astype(float)
