"""``python -m harness rescore RUN_DIR``: execute a run's stored generations again, with
other limits, another sandbox or (``--extract``) the current extractor, never calling
a model; the verdicts are replaced in place. Resumable: each rescore has an id
(``meta.rescore``), every verdict it stores carries it (``samples.rescore_id``, the
status it replaced in ``prior_status``), so the same command after Ctrl-C or
``kill -9`` executes only what is left, and its table of status transitions covers
the whole rescore."""

from __future__ import annotations

import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks import get_benchmark
from benchmarks.extract import EXTRACTOR_VERSION, program_for
from benchmarks.requests import exec_request

from ..errors import UserError
from ..store.provenance import environment, executor
from ..store.runstore import RunStore
from .runner import RunConfig, calibrate, load_workloads

DEFAULT_MEMORY_MB = 1024  # `run`'s default: the limit of verdicts stored before version 5 recorded it
DEFAULT_FLOOR = 3.0  # `run`'s --timeout: budgets missing from a store (none in a run's) get it


@dataclass(frozen=True)
class RescoreConfig:
    run_dir: str
    timeout: float | None = None  # a new --timeout floor: the budgets are calibrated again with it
    memory_mb: int | None = None  # default: each verdict's own
    sandbox: str | None = None  # default: the one that made most stored verdicts
    workers: int | None = None
    extract: bool = False
    calibrate: bool = True

    def command(self) -> str:
        args = ["python", "-m", "harness", "rescore", self.run_dir]
        for name in ("timeout", "memory_mb", "sandbox", "workers"):
            if (value := getattr(self, name)) is not None:
                args += [f"--{name.replace('_', '-')}", format(value, "g") if isinstance(value, float) else str(value)]
        return shlex.join(args + ["--extract"] * self.extract + ["--no-calibrate"] * (not self.calibrate))


def begin(store: RunStore, options: dict) -> int:
    """This rescore's id: the latest one's when it had the same options (continue
    it), else a new one."""
    latest = store.get_meta("rescore")
    if latest and latest["options"] == options:
        return latest["id"]
    rid = latest["id"] + 1 if latest else 1
    store.set_meta("rescore", {"id": rid, "options": options})
    return rid


def _made_most(store: RunStore) -> str | None:
    """The sandbox kind that made most stored verdicts (the run's `environment` for a
    store before version 5), None when nothing was executed."""
    row = store.db.execute("SELECT sandbox FROM samples WHERE sandbox IS NOT NULL GROUP BY sandbox "
                           "ORDER BY count(*) DESC LIMIT 1").fetchone()
    return row[0] if row else (store.get_meta("environment") or {}).get("sandbox")


def rescore(cfg: RescoreConfig, log=lambda msg: print(msg, file=sys.stderr)) -> dict:
    """Re-execute and return the summary (``transitions``, ``totals``...); raises
    UserError for what the user must fix, KeyboardInterrupt saying how to go on."""
    from sandboxes import get_sandbox

    if cfg.timeout is None and not cfg.calibrate:
        raise UserError("--no-calibrate goes with --timeout (the stored budgets are kept without it)")
    if cfg.memory_mb is not None:
        from sandboxes import Limits

        try:  # before anything is recorded: a rescore with limits no program can run under is no rescore
            Limits(timeout=cfg.timeout or DEFAULT_FLOOR, memory_mb=cfg.memory_mb)
        except ValueError as exc:
            raise UserError(f"--timeout/--memory-mb: {exc}") from None
    directory = Path(cfg.run_dir)
    if directory.exists() and not directory.is_dir():
        raise UserError(f"{directory}: not a run directory")
    store = RunStore(directory, create=False, lock=True)  # a run or rescore using it: refused here
    try:
        key = store.get_meta("run")
        if key is None:
            raise UserError(f"{directory}: no run stored in it yet (nothing was generated)")
        run_cfg = RunConfig(tuple(key["datasets"]), "", split=key["split"], source=key["source"],
                            timeout=cfg.timeout or DEFAULT_FLOOR, memory_mb=cfg.memory_mb or DEFAULT_MEMORY_MB,
                            calibrate=cfg.calibrate)
        work = {w.dataset: w for w in load_workloads(run_cfg)}
        stored_memory = store.db.execute("SELECT max(memory_mb) FROM samples").fetchone()[0]
        with get_sandbox(cfg.sandbox or _made_most(store), cfg.workers,
                         cfg.memory_mb or stored_memory or DEFAULT_MEMORY_MB) as sandbox:
            options = {**asdict(cfg), "sandbox": sandbox.name}
            for name in ("run_dir", "workers"):  # how, not what: a continued rescore may change them
                del options[name]
            rid = begin(store, options)
            targets = store.rescore_targets(rid)
            kept = [t for t in targets if t[0].dataset in work and t[0].problem in work[t[0].dataset].problems]
            if len(kept) < len(targets):
                log(f"note: {len(targets) - len(kept)} stored samples are of problems the dataset no longer has: "
                    "left as they are")
            executed, errors = _execute(store, sandbox, work, kept, rid, cfg, run_cfg, log)
        transitions = store.transitions(rid)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"the verdicts re-executed so far are stored; continue with: {cfg.command()}") \
            from None
    finally:
        store.close()
    totals: dict[str, list[int]] = {}
    for (old, new), n in transitions.items():
        totals.setdefault(old, [0, 0])[0] += n
        totals.setdefault(new, [0, 0])[1] += n
    return {"run": str(directory), "rescore": rid, "options": options, "executed": executed,
            "sandbox_errors": errors, "transitions": transitions, "totals": totals}


def _execute(store: RunStore, sandbox, work: dict, targets: list[tuple], rid: int, cfg: RescoreConfig,
             run_cfg: RunConfig, log) -> tuple[int, int]:
    """Execute ``targets`` (with budgets calibrated again when --timeout is given) and
    store each verdict as it comes; a ``sandbox_error`` keeps the old verdict and
    stays to do. Returns (verdicts stored, sandbox errors)."""
    from sandboxes import Limits, Status
    from sandboxes.progress import progress

    if not targets:
        log(f"rescore {rid}: nothing left to re-execute")
        return 0, 0
    store.set_meta("environment", environment(sandbox))
    made_by = executor(sandbox)
    for dataset, w in work.items():
        if cfg.timeout is not None:  # budgets of another floor: calibrated again, as `run --timeout` would
            store.drop_time_limits(dataset, cfg.timeout)
        calibrate(store, sandbox, w, {t[0].problem for t in targets if t[0].dataset == dataset}, run_cfg, log)
    budgets = {d: store.time_limits(d) for d in work}
    requests, jobs = [], []
    for i, (key, completion, program, version, memory) in enumerate(targets):
        problem = work[key.dataset].problems[key.problem]
        extracted = None
        if cfg.extract and version != "source":  # code a source gave was never extracted
            extracted = (*program_for(get_benchmark(key.dataset), problem, completion or ""), EXTRACTOR_VERSION)
            program = extracted[1]
        limits = Limits(timeout=budgets[key.dataset][key.problem],
                        memory_mb=cfg.memory_mb or memory or DEFAULT_MEMORY_MB)
        requests.append(exec_request(problem, program, limits, id=str(i)))
        jobs.append((key, extracted))
    log(f"rescore {rid}: {len(requests)} samples to re-execute ({sandbox.name}, {sandbox.size} in flight)")
    stored = errors = 0
    with progress(total=len(requests), desc="re-executing", unit="sample") as bar:
        for v in sandbox.run(requests):
            bar.update()
            if v.status is Status.SANDBOX_ERROR:  # the harness failed, not the program: retried next time
                errors += 1
                continue
            key, extracted = jobs[int(v.id)]
            store.add_verdict(key, v, requests[int(v.id)].limits, made_by, rescore=rid, extracted=extracted)
            stored += 1
    store.set_meta("environment", environment(sandbox))  # again: with what happened on the way (lost actors)
    return stored, errors


def format_transitions(summary: dict) -> str:
    """The status transitions of a rescore (``before -> after: samples``, most first),
    then the totals per status, before -> after."""
    moves = sorted(summary["transitions"].items(), key=lambda kv: (-kv[1], kv[0]))
    done = sum(summary["transitions"].values())
    changed = sum(n for (old, new), n in moves if old != new)
    lines = [f"rescore {summary['rescore']} of {summary['run']}: {done} samples, {changed} changed status"]
    lines += [f"  {old} -> {new}: {n}" for (old, new), n in moves]
    lines.append("totals: " + ", ".join(f"{s} {a} -> {b}" for s, (a, b) in sorted(summary["totals"].items())))
    return "\n".join(lines)
