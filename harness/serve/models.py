"""The wire formats: SandboxFusion's (field for field, so its clients and verl's reward
function parse our answers) and ours (``/run_tests``). Unknown request fields are
ignored, as SandboxFusion's own models do."""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field

from sandboxes.records import MAX_TIMEOUT


class CommandRunStatus(str, Enum):
    Finished = "Finished"  # the program ended (any exit status)
    Error = "Error"  # the service failed to run it
    TimeLimitExceeded = "TimeLimitExceeded"


class RunStatus(str, Enum):
    Success = "Success"  # ran and exited 0
    Failed = "Failed"  # ran: non-zero exit, killed, or out of time
    SandboxError = "SandboxError"  # the service's fault, never the program's


class CommandRunResult(BaseModel):
    status: CommandRunStatus
    execution_time: float | None = None  # wall seconds
    cpu_time: float | None = None  # CPU seconds of the program's whole process tree
    return_code: int | None = None  # negative: killed by that signal, as subprocess says
    stdout: str | None = None
    stderr: str | None = None


class RunCodeRequest(BaseModel):
    compile_timeout: float = Field(10, ge=0, le=MAX_TIMEOUT)
    run_timeout: float = Field(10, gt=0, le=MAX_TIMEOUT)
    memory_limit_MB: int = Field(-1, description="-1: the server's default")
    code: str
    stdin: str | None = None
    language: str
    files: dict[str, str | None] = Field({}, description="path -> base64 content, written before the run")
    fetch_files: list[str] = Field([], description="paths returned (base64) after the run")


class RunCodeResponse(BaseModel):
    status: RunStatus
    message: str
    compile_result: CommandRunResult | None = None
    run_result: CommandRunResult | None = None
    executor_pod_name: str | None = None
    files: dict[str, str] = {}


class TestConfig(BaseModel):
    __test__ = False  # not a pytest class
    dataset_type: str | None = None
    language: str | None = None
    locale: str | None = None
    is_fewshot: bool | None = None
    compile_timeout: float | None = None
    run_timeout: float | None = Field(None, gt=0, le=MAX_TIMEOUT)
    custom_extract_logic: str | None = None
    provided_data: list[dict[str, Any]] | dict[str, Any] | None = None
    extra: dict[str, Any] = {}


class SubmitRequest(BaseModel):
    dataset: str
    id: int | str
    completion: str
    config: TestConfig = TestConfig()


class EvalTestCase(BaseModel):
    passed: bool
    exec_info: RunCodeResponse
    test_info: dict[str, Any] | None = None


class EvalResult(BaseModel):
    id: int | str
    accepted: bool
    extracted_code: str
    full_code: str | None = None
    test_code: str | None = None
    tests: list[EvalTestCase]
    extracted_type: Literal["fenced", "incomplete_fenced", "heuristic", "empty"] | None = None
    extra: dict | None = None


class TestCase(BaseModel):
    """One case of ``/run_tests``: stdin and the expected stdout, or assert code run
    after the program."""

    __test__ = False
    stdin: str | None = None
    expected: str | None = None
    assert_code: str | None = None


class RunTestsRequest(BaseModel):
    code: str
    language: str = "python"
    cases: list[TestCase] = Field(..., min_length=1)
    run_timeout: float = Field(10, gt=0, le=MAX_TIMEOUT, description="CPU seconds per case")
    memory_limit_MB: int = -1
    all_cases: bool = Field(False, description="run every case, not stop at the first failure")
    case_sensitive: bool = True
    float_tol: float = Field(1e-6, ge=0)


class CaseResult(BaseModel):
    passed: bool
    status: str  # our verdict: passed, failed, timeout, runtime_error, oom, ...
    detail: str = ""
    execution_time: float | None = None
    cpu_time: float | None = None
    return_code: int | None = None
    stdout: str | None = None  # the last 4 KiB
    stderr: str | None = None


class RunTestsResponse(BaseModel):
    status: RunStatus
    message: str = ""
    accepted: bool
    reward: float  # fraction of the cases that passed
    passed: int
    total: int
    cases: list[CaseResult | None]  # None: not run (stopped at the first failure)
