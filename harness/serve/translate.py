"""Requests to ``ExecRequest``s and verdicts back to SandboxFusion's answers: pure
functions, no I/O (tested against hand-written expectations in tests/harness/)."""

from __future__ import annotations

import base64
import binascii
import posixpath
import socket
from dataclasses import dataclass, field

from benchmarks.requests import assert_test_code
from sandboxes.records import MIN_MEMORY_MB, ExecRequest, IOCase, Limits, Status, Verdict

from .models import (
    CaseResult,
    CommandRunResult,
    CommandRunStatus,
    RunCodeRequest,
    RunCodeResponse,
    RunStatus,
    RunTestsRequest,
    RunTestsResponse,
)

PYTHON = ("python", "python3")
MiB = 2**20


class BadRequest(ValueError):
    """The request itself is wrong (HTTP 400): never a verdict on the program."""


@dataclass(frozen=True)
class Policy:
    """The server's side of every request."""

    default_memory_mb: int = 1024  # for memory_limit_MB -1
    max_memory_mb: int = 4096  # what the sandbox was sized for
    output_cap: int = 16 * MiB  # stdout + stderr kept and returned; beyond it the program stops
    # verl's reward function gives up after compile + run timeout + 10 s: answer before.
    client_slack: float = 10.0
    max_run_timeout: float = 300.0  # no client holds a worker longer than this per program
    pod_name: str = field(default_factory=socket.gethostname)


def not_python(language: str) -> str | None:
    """The message for a language we do not run, else None."""
    if language in PYTHON:
        return None
    return f"language {language!r} is not supported: codeharness serve runs Python only (language 'python')"


def memory_mb(requested: int, policy: Policy) -> int:
    if requested <= 0:  # SandboxFusion: no limit of the caller's, so the server's
        return policy.default_memory_mb
    if requested < MIN_MEMORY_MB:
        raise BadRequest(f"memory_limit_MB: {requested} is below the {MIN_MEMORY_MB} MB a Python program needs "
                         "(-1: the server's default)")
    if requested > policy.max_memory_mb:
        raise BadRequest(f"memory_limit_MB: {requested} is above this server's --max-memory-mb "
                         f"{policy.max_memory_mb}")
    return requested


def answer_budget(compile_timeout: float, run_timeout: float, policy: Policy) -> float:
    """Seconds from arrival within which the answer must leave, so that it reaches a
    client that waits compile + run timeout + its slack (verl's rule)."""
    return compile_timeout + run_timeout + policy.client_slack - 1.0


def limits(run_timeout: float, memory_limit_mb: int, policy: Policy, ceiling: float | None) -> Limits:
    """``run_timeout`` CPU seconds, and as many wall seconds not spent waiting for a CPU
    (a program that sleeps stops after run_timeout, not 3x it); ``ceiling``: the plain
    wall clock left before the answer is due."""
    if run_timeout > policy.max_run_timeout:
        raise BadRequest(f"run_timeout: {run_timeout:g} s is above this server's --max-run-timeout "
                         f"{policy.max_run_timeout:g}")
    return Limits(timeout=run_timeout, memory_mb=memory_mb(memory_limit_mb, policy),
                  max_output_bytes=policy.output_cap, wall=run_timeout, ceiling=ceiling)


def _files(files: dict[str, str | None]) -> tuple[tuple[str, str], ...]:
    out = []
    for path, content in files.items():
        if content is None:  # SandboxFusion skips these too
            continue
        _check_path(path, "files")
        content = "".join(content.split())  # base64.encodebytes wraps lines; SandboxFusion takes it
        try:
            base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(f"files[{path!r}]: not base64") from None
        out.append((path, content))
    return tuple(out)


def _check_path(path: str, what: str) -> None:
    norm = posixpath.normpath(path) if path else ""
    if not path or "\0" in path or posixpath.isabs(path) or norm == "." or norm == ".." or norm.startswith("../"):
        raise BadRequest(f"{what}: {path!r} must be a relative path inside the program's work dir")


def run_code_request(req: RunCodeRequest, policy: Policy, ceiling: float | None) -> ExecRequest:
    for path in req.fetch_files:
        _check_path(path, "fetch_files")
    return ExecRequest(code=req.code, stdin=req.stdin or "",
                       limits=limits(req.run_timeout, req.memory_limit_MB, policy, ceiling),
                       keep_output=True, files=_files(req.files), fetch_files=tuple(req.fetch_files))


def command_result(v: Verdict) -> CommandRunResult:
    """What SandboxFusion's runner reports of one process."""
    stdout = v.stdout if v.stdout is not None else v.stdout_tail
    stderr = v.stderr if v.stderr is not None else v.stderr_tail
    if v.status is Status.SYNTAX_ERROR and not stderr:
        stderr = v.detail + "\n"  # what python3 itself would have printed last
    timing = dict(execution_time=v.wall_time, cpu_time=v.cpu_time, stdout=stdout, stderr=stderr)
    if v.status is Status.TIMEOUT:
        return CommandRunResult(status=CommandRunStatus.TimeLimitExceeded, **timing)
    code = v.exit_code if v.exit_code is not None else -(v.signal or 9)
    return CommandRunResult(status=CommandRunStatus.Finished, return_code=code, **timing)


def run_code_response(v: Verdict, policy: Policy) -> RunCodeResponse:
    if v.status is Status.SANDBOX_ERROR:
        return sandbox_error(v.detail or "the sandbox failed", policy)
    run = command_result(v)
    ok = run.status is CommandRunStatus.Finished and run.return_code == 0 and v.status is not Status.OUTPUT_LIMIT
    message = ""
    if v.status is Status.OUTPUT_LIMIT:
        message = f"{v.detail}: the program was stopped"
    elif v.status is Status.TIMEOUT:
        message = v.detail
    return RunCodeResponse(status=RunStatus.Success if ok else RunStatus.Failed, message=message,
                           run_result=run, executor_pod_name=policy.pod_name, files=v.files or {})


def sandbox_error(message: str, policy: Policy) -> RunCodeResponse:
    return RunCodeResponse(status=RunStatus.SandboxError, message=message, executor_pod_name=policy.pod_name)


# ---------------------------------------------------------------- /run_tests

def run_tests_requests(req: RunTestsRequest, policy: Policy, ceiling: float | None) -> list[ExecRequest]:
    """stdin/expected cases: one request, the program run once per case next to the
    judge; assert cases: one request per case (each a fresh process)."""
    kinds = {"assert" if c.assert_code is not None else "io" for c in req.cases}
    if len(kinds) > 1:
        raise BadRequest("cases: give every case stdin/expected or every case assert_code, not a mix")
    lim = limits(req.run_timeout, req.memory_limit_MB, policy, ceiling)
    if kinds == {"assert"}:
        # In the benchmarks' assert wrapper: a failure names the test line it failed at.
        return [ExecRequest(code=req.code, test=assert_test_code(c.assert_code, req.code), limits=lim)
                for c in req.cases]
    for i, c in enumerate(req.cases):
        if c.expected is None:
            raise BadRequest(f"cases[{i}]: expected (stdout) is missing")
    cases = tuple(IOCase(stdin=c.stdin or "", expected=c.expected or "") for c in req.cases)
    return [ExecRequest(code=req.code, cases=cases, limits=lim, all_cases=req.all_cases, case_results=True,
                        case_sensitive=req.case_sensitive, float_tol=req.float_tol)]


def _case(status: str, detail: str, data: dict) -> CaseResult:
    code = data.get("exit_code")
    if code is None and data.get("signal"):
        code = -data["signal"]
    return CaseResult(passed=status == "passed", status=status, detail=detail,
                      execution_time=data.get("wall_time"), cpu_time=data.get("cpu_time"), return_code=code,
                      stdout=data.get("stdout_tail"), stderr=data.get("stderr_tail"))


def run_tests_response(req: RunTestsRequest, verdicts: list[Verdict]) -> RunTestsResponse:
    total = len(req.cases)
    if any(v.status is Status.SANDBOX_ERROR for v in verdicts):
        detail = next(v.detail for v in verdicts if v.status is Status.SANDBOX_ERROR)
        return RunTestsResponse(status=RunStatus.SandboxError, message=detail, accepted=False, reward=0.0,
                                passed=0, total=total, cases=[None] * total)
    if len(verdicts) == 1 and verdicts[0].cases is not None:  # stdin/expected
        cases: list[CaseResult | None] = [_case(c["status"], c["detail"], c) for c in verdicts[0].cases]
    else:  # assert cases, each its own verdict
        cases = [_case(v.status.value, v.detail, v.to_dict()) for v in verdicts]
        if not req.all_cases:
            first = next((i for i, c in enumerate(cases) if not c.passed), None)
            if first is not None:
                cases[first + 1:] = [None] * (total - first - 1)
    cases += [None] * (total - len(cases))
    passed = sum(1 for c in cases if c is not None and c.passed)
    return RunTestsResponse(status=RunStatus.Success if passed == total else RunStatus.Failed,
                            accepted=passed == total, reward=passed / total, passed=passed, total=total,
                            cases=cases)
