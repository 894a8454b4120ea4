"""Routing data sets others published, read as ``RouterData``: RouterBench, RouterDC,
EmbedLLM, LLMRouterBench (docs/formats.md). ``detect`` names a path's format from its
content (a header, the first bytes, a directory's layout), not its suffix; ``load``
reads one or several files of one format as one data set; ``BUNDLED`` names the code
pools shipped under ``benchmarks/data/routing/``.

Adding a format: one module here with a ``base.Format`` subclass (``detect``, ``read``:
a file as a ``base.Part``), and its class in ``FORMATS`` below."""

from __future__ import annotations

from pathlib import Path

from benchmarks.base import DATA

from .base import Format, combine
from .embedllm import EmbedLLM
from .llmrouterbench import LLMRouterBench
from .routerbench import RouterBench
from .routerdc import RouterDC

FORMATS: dict[str, Format] = {f.name: f for f in (RouterBench(), RouterDC(), EmbedLLM(), LLMRouterBench())}

ROUTING = DATA / "routing"
# Short names of the bundled pools (benchmarks/data/routing/SOURCE.md): their files, train first.
BUNDLED: dict[str, tuple[str, ...]] = {
    "routerdc-humaneval": ("humaneval_train.json.gz", "humaneval_test.json.gz"),
    "routerdc-mbpp": ("mbpp.json.gz",),
    "routerbench-mbpp": ("mbpp_train.csv.gz", "mbpp_test.csv.gz"),
}


def bundled_paths(name: str) -> list[Path]:
    return [ROUTING / f for f in BUNDLED[name]]


def detect(path: str | Path) -> str | None:
    """The name of the format ``path`` is in, or None (none of them)."""
    path = Path(path)
    return next((name for name, f in FORMATS.items() if f.detect(path)), None)


def load(paths: list[str | Path], name: str | None = None, prices: str | Path | None = None, seed: int = 0):
    """Files of one format as one ``RouterData`` (``base.combine``; ``prices``: a price
    table file): each file's format detected; files of different formats, or a file of
    none, are an error."""
    formats = [(Path(p), detect(p)) for p in paths]
    for p, fmt in formats:
        if fmt is None:
            raise ValueError(f"{p}: none of the routing formats ({', '.join(FORMATS)}: docs/formats.md)")
    if len({fmt for _, fmt in formats}) > 1:
        raise ValueError("files of different formats cannot be read as one: "
                         + ", ".join(f"{p} ({fmt})" for p, fmt in formats))
    parts = [FORMATS[fmt].read(p) for p, fmt in formats]
    return combine(parts, name or ",".join(map(str, paths)), prices, seed=seed)


__all__ = ["BUNDLED", "FORMATS", "Format", "bundled_paths", "detect", "load"]
