"""What made a run's verdicts: the sandbox each verdict came from (stored per sample),
the environment of the latest command that executed something (``meta.environment``),
and, when ``run`` resumes with other limits than its stored verdicts had, a note
pointing at ``harness rescore``."""

from __future__ import annotations

import shlex

from .runstore import Executor, RunStore


def executor(sandbox) -> Executor:
    """(kind, mode, image) of a started sandbox: what each verdict records. A ``ray``
    sandbox's mode and image are its nodes' (``docker``, ``local bwrap``...), joined
    when the nodes differ."""
    d = sandbox.describe()
    if d["sandbox"] != "ray":
        return d["sandbox"], d.get("mode"), d.get("image")
    nodes = sorted({(n.get("sandbox", "?"), n.get("mode") or "", n.get("image") or "") for n in d["nodes"]})
    return ("ray", ", ".join(f"{kind} {mode}".strip() for kind, mode, _ in nodes) or None,
            ", ".join(sorted({image for _, _, image in nodes if image})) or None)


def environment(sandbox) -> dict:
    """Where the latest command that executed programs ran: the sandbox (its image or
    mode), its workers, and the versions of codeharness and Python."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("codeharness")
    except PackageNotFoundError:  # a source tree that is not installed
        ours = "unknown"
    return {**sandbox.describe(), "workers": sandbox.size, "codeharness": ours,
            "python": platform.python_version()}


def budget_changes(seconds: float, how: str, floor: float | None, new_floor: float) -> bool:
    """Whether a problem's CPU budget (``seconds``, calibrated ``how`` with ``floor``)
    would differ with ``new_floor`` as --timeout: a ``default`` budget is the floor; a
    ``reference`` one is max(floor, 5 x the reference's CPU time), so it moves when
    the floor made it or the new floor exceeds it; a ``judge`` one has no floor. A
    reference budget of a store before version 5 (floor unknown) counts only when
    the new floor exceeds it."""
    if how == "default":
        return seconds != new_floor
    if how == "reference":
        return new_floor > seconds or (floor is not None and seconds <= floor != new_floor)
    return False


def other_limits(store: RunStore, timeout: float, memory_mb: int, sandbox: str, calibrate: bool = True) -> str | None:
    """One line when stored verdicts were made with other limits (CPU-budget floor,
    memory limit, sandbox kind) than ``run`` would use now: it keeps them, so say how
    many, and the ``rescore`` command that re-executes them with these."""
    floors, memories, kinds, count, budgets = set(), set(), set(), 0, False
    for seconds, how, floor, mem, kind in store.db.execute(
            "SELECT t.seconds, t.how, t.floor, s.memory_mb, s.sandbox FROM samples s JOIN time_limits t "
            "USING (dataset, problem) WHERE s.status IS NOT NULL AND s.status NOT IN "
            "('generation_error', 'sandbox_error')"):
        moved = [budget_changes(seconds, how, floor, timeout), mem not in (None, memory_mb),
                 kind not in (None, sandbox)]
        count += any(moved)
        budgets |= moved[0]
        if moved[0] and floor is not None:
            floors.add(format(floor, "g"))
        if moved[1]:
            memories.add(str(mem))
        if moved[2]:
            kinds.add(kind)
    if not count:
        return None
    what = [f"CPU budgets calibrated with --timeout {'/'.join(sorted(floors)) or '?'}, not {timeout:g}"
            if budgets else "",
            f"--memory-mb {'/'.join(sorted(memories))}, not {memory_mb}" if memories else "",
            f"sandbox {'/'.join(sorted(kinds))}, not {sandbox}" if kinds else ""]
    options = (["--timeout", format(timeout, "g")] + ["--no-calibrate"] * (not calibrate) if budgets else []) + \
        (["--memory-mb", str(memory_mb)] if memories else []) + (["--sandbox", sandbox] if kinds else [])
    kept = ("run keeps stored verdicts, and the stored CPU budgets for new samples of their problems (one budget "
            "per problem in a run)" if budgets else "run keeps stored verdicts")
    return (f"note: {count} stored verdicts were made with other limits ({'; '.join(filter(None, what))}); "
            f"{kept}: to re-execute them with these, "
            f"{shlex.join(['python', '-m', 'harness', 'rescore', str(store.dir), *options])}")
