"""A dataset of a run for which no model has a single sample (replayed recordings
of other problems) would store nothing and write empty matrices: it is an error,
naming the models and, when the recordings are of problems of another bundled
source, the option that selects them."""

from __future__ import annotations

from benchmarks import DataError, get_benchmark

from ..errors import UserError


def no_samples_error(dataset: str, selected: int, models: list[str], recorded: set[str], split: str | None,
                     source: str | None) -> UserError:
    """``recorded``: the problem ids (ours or aliases) the models have recordings of."""
    head = f"{dataset}: no model has a sample for the {selected} selected problem{'s' * (selected != 1)}: " \
           f"{', '.join(models)} {'has' if len(models) == 1 else 'have'} no recordings of "
    if not recorded:
        return UserError(f"{head}{dataset}; use models that generate (or recordings of {dataset})")
    bench = get_benchmark(dataset)
    found = {}  # bundled source -> how many of its problems (in this split) are recorded
    for name in bench.bundled:
        try:
            problems = bench.load(name, split)
        except DataError:
            continue
        ids = {p.id for p in problems if p.id in recorded}
        ids |= {pid for alias, pid in bench.aliases(problems).items() if alias in recorded}
        if ids:
            found[name] = len(ids)
    best = max(found, key=found.get, default=None)
    if best is not None and best != source:
        hint = f"the bundled source {best!r} has {found[best]} of the recorded problems: run {dataset} " \
               f"with --source {best}"
    else:
        hint = f"the recordings are of {len(recorded)} other problems (e.g. {min(recorded)}): drop --limit, " \
               "or select them with --source / --split"
    return UserError(f"{head}them; {hint}")
