"""``harness serve``'s translation, without a server: verdicts to SandboxFusion's answers
(checked against SF's own ``parse_run_status`` rule), requests to ``ExecRequest``s, and
the sandbox records' wire (which the execution cache keys verdicts by). The admission
queue and the Prometheus text: test_serve_admission.py."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from harness.serve.models import CommandRunStatus, RunCodeRequest
from harness.serve.translate import (
    BadRequest,
    Policy,
    answer_budget,
    command_result,
    not_python,
    run_code_request,
    run_code_response,
)
from sandboxes.records import ExecRequest, IOCase, Limits, Status, Verdict

MiB = 2**20
POLICY = Policy(default_memory_mb=512, max_memory_mb=2048, output_cap=8 * MiB, pod_name="pod-1")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---------------------------------------------------------------- verdict -> RunCodeResponse

def answer(status: str, message: str = "", run: dict | None = None, files: dict | None = None) -> dict:
    return {"status": status, "message": message, "compile_result": None, "run_result": run,
            "executor_pod_name": "pod-1", "files": files or {}}


def run(status: str, return_code: int | None, stdout: str = "", stderr: str = "",
        execution_time: float = 0.5, cpu_time: float = 0.25) -> dict:
    return {"status": status, "execution_time": execution_time, "cpu_time": cpu_time,
            "return_code": return_code, "stdout": stdout, "stderr": stderr}


TRACEBACK = 'Traceback (most recent call last):\n  File "main.py", line 1, in <module>\nMemoryError\n'
TIMES = {"wall_time": 0.5, "cpu_time": 0.25}
CASES = {
    "passed": (Verdict(Status.PASSED, exit_code=0, stdout="hi\n", stderr="", **TIMES),
               answer("Success", run=run("Finished", 0, "hi\n"))),
    "failed": (Verdict(Status.FAILED, "exit status 1", exit_code=1, stdout="", stderr="no\n", **TIMES),
               answer("Failed", run=run("Finished", 1, stderr="no\n"))),
    "runtime_error": (Verdict(Status.RUNTIME_ERROR, "exit status 3", exit_code=3, stdout="a", stderr="b", **TIMES),
                      answer("Failed", run=run("Finished", 3, "a", "b"))),
    # asyncio's returncode of a process killed by a signal: minus the signal
    "killed": (Verdict(Status.RUNTIME_ERROR, "killed by signal SIGKILL", signal=9, stdout="", stderr="", **TIMES),
               answer("Failed", run=run("Finished", -9))),
    # SandboxFusion: TimeLimitExceeded, no return code, whatever output was read
    "timeout": (Verdict(Status.TIMEOUT, "wall-clock cap of 2.0 s exceeded", signal=9, stdout="tick\n", stderr="",
                        **TIMES),
                answer("Failed", "wall-clock cap of 2.0 s exceeded", run("TimeLimitExceeded", None, "tick\n"))),
    "oom": (Verdict(Status.OOM, "MemoryError", exit_code=1, stdout="", stderr=TRACEBACK, **TIMES),
            answer("Failed", run=run("Finished", 1, stderr=TRACEBACK))),
    "output_limit": (Verdict(Status.OUTPUT_LIMIT, "more than 8388608 bytes of output", signal=9, stdout="x" * 64,
                             stderr="", **TIMES),
                     answer("Failed", "more than 8388608 bytes of output: the program was stopped",
                            run("Finished", -9, "x" * 64))),
    # python3 prints the error itself: a verdict without stderr gets its detail
    "syntax_error": (Verdict(Status.SYNTAX_ERROR, "SyntaxError: invalid syntax (main.py, line 1)", exit_code=1,
                             stdout="", stderr="", **TIMES),
                     answer("Failed", run=run("Finished", 1,
                                              stderr="SyntaxError: invalid syntax (main.py, line 1)\n"))),
    "sandbox_error": (Verdict(Status.SANDBOX_ERROR, "the host closed the channel"),
                      answer("SandboxError", "the host closed the channel")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_run_code_response_for_every_status(name):
    verdict, expected = CASES[name]
    assert run_code_response(verdict, POLICY).model_dump(mode="json") == expected


def sandbox_fusion_status(run: dict) -> str:
    """SandboxFusion's ``parse_run_status`` for a Python program (no compile step)."""
    if run["status"] == "Error":
        return "SandboxError"
    if run["status"] == "TimeLimitExceeded" or run["return_code"] != 0:
        return "Failed"
    return "Success"


@pytest.mark.parametrize("name", [n for n in CASES if n != "sandbox_error"])
def test_status_follows_sandbox_fusions_rule(name):
    resp = run_code_response(CASES[name][0], POLICY)
    assert resp.status.value == sandbox_fusion_status(resp.run_result.model_dump(mode="json"))
    assert resp.run_result.status is not CommandRunStatus.Error  # Error blames the service, never the program


def test_syntax_error_keeps_stderr_python_printed():
    printed = '  File "main.py"\nSyntaxError: x\n'
    v = Verdict(Status.SYNTAX_ERROR, "SyntaxError: x", exit_code=1, stdout="", stderr=printed)
    assert command_result(v).stderr == printed


def test_output_falls_back_to_tails_when_not_kept():
    v = Verdict(Status.PASSED, exit_code=0, stdout_tail="out tail", stderr_tail="err tail")
    assert (command_result(v).stdout, command_result(v).stderr) == ("out tail", "err tail")


def test_sandbox_error_without_detail_and_fetched_files():
    assert run_code_response(Verdict(Status.SANDBOX_ERROR), POLICY).model_dump(mode="json") == \
        answer("SandboxError", "the sandbox failed")
    v = Verdict(Status.PASSED, exit_code=0, stdout="", stderr="", files={"out/r.txt": "aGk="}, **TIMES)
    assert run_code_response(v, POLICY).model_dump(mode="json") == \
        answer("Success", run=run("Finished", 0), files={"out/r.txt": "aGk="})


# ---------------------------------------------------------------- RunCodeRequest -> ExecRequest

def request(**fields) -> RunCodeRequest:
    return RunCodeRequest(code="print(1)", language="python", **fields)


def test_plain_request():
    assert run_code_request(request(), POLICY, None) == ExecRequest(
        code="print(1)", stdin="", keep_output=True,
        limits=Limits(timeout=10, memory_mb=512, max_output_bytes=8 * MiB, wall=10, ceiling=None))


def test_request_with_stdin_timeout_and_ceiling():
    got = run_code_request(request(stdin="5\n", run_timeout=2.5, compile_timeout=1, memory_limit_MB=256),
                           POLICY, 11.0)
    assert got == ExecRequest(code="print(1)", stdin="5\n", keep_output=True,
                              limits=Limits(timeout=2.5, memory_mb=256, max_output_bytes=8 * MiB, wall=2.5,
                                            ceiling=11.0))
    # a sleeping program stops after run_timeout wall seconds, not 3x + 1
    assert (got.limits.wall_cap, got.limits.wall_ceiling) == (2.5, 11.0)


def test_files_and_fetch_files():
    wrapped = base64.encodebytes(bytes(range(256))).decode()  # SF's clients may wrap lines: SF accepts it
    got = run_code_request(request(files={"a.txt": b64(b"hi"), "d/e/f.bin": wrapped, "skipped": None,
                                          "empty": ""},
                                   fetch_files=["out.txt", "d/e/f.bin"]), POLICY, None)
    assert got.files == (("a.txt", "aGk="), ("d/e/f.bin", b64(bytes(range(256)))), ("empty", ""))
    assert got.fetch_files == ("out.txt", "d/e/f.bin")


@pytest.mark.parametrize("content", ["not base64!", "aGk", "aGk=\x00", "====", "aG=k"])
def test_files_not_base64(content):
    with pytest.raises(BadRequest) as exc:
        run_code_request(request(files={"a.txt": content}), POLICY, None)
    assert str(exc.value) == "files['a.txt']: not base64"


OUTSIDE = ["", ".", "./", "..", "../x", "a/..", "a/../../x", "/abs", "/", "a\x00b", "../../etc/passwd"]
INSIDE = ["a", "a/b/c.txt", "./a", "a/../b", "a/", "..a", "a..", "...", "a/..b"]


@pytest.mark.parametrize("field", ["files", "fetch_files"])
@pytest.mark.parametrize("path", OUTSIDE)
def test_paths_outside_the_work_dir(field, path):
    body = {"files": {path: "aGk="}} if field == "files" else {"fetch_files": [path]}
    with pytest.raises(BadRequest) as exc:
        run_code_request(request(**body), POLICY, None)
    assert str(exc.value) == f"{field}: {path!r} must be a relative path inside the program's work dir"


@pytest.mark.parametrize("path", INSIDE)
def test_paths_inside_the_work_dir(path):
    got = run_code_request(request(files={path: "aGk="}, fetch_files=[path]), POLICY, None)
    assert (got.files, got.fetch_files) == (((path, "aGk="),), (path,))


@pytest.mark.parametrize(("requested", "granted"), [(-1, 512), (0, 512), (-7, 512), (32, 32), (2048, 2048)])
def test_memory_granted(requested, granted):
    # SandboxFusion limits memory only for memory_limit_MB > 0: the rest is the server's default
    assert run_code_request(request(memory_limit_MB=requested), POLICY, None).limits.memory_mb == granted


@pytest.mark.parametrize(("requested", "message"), [
    (31, "memory_limit_MB: 31 is below the 32 MB a Python program needs (-1: the server's default)"),
    (1, "memory_limit_MB: 1 is below the 32 MB a Python program needs (-1: the server's default)"),
    (2049, "memory_limit_MB: 2049 is above this server's --max-memory-mb 2048"),
])
def test_memory_refused(requested, message):
    with pytest.raises(BadRequest) as exc:
        run_code_request(request(memory_limit_MB=requested), POLICY, None)
    assert str(exc.value) == message


def test_answer_budget_is_a_second_inside_verls_wait():
    assert answer_budget(10, 10, Policy()) == 29.0  # verl waits 10 + 10 + 10
    assert answer_budget(0, 2.5, Policy(client_slack=3)) == 4.5


def test_not_python():
    assert not_python("python") is None and not_python("python3") is None
    assert not_python("cpp") == ("language 'cpp' is not supported: codeharness serve runs Python only "
                                 "(language 'python')")
    assert not_python("Python") is not None  # SandboxFusion's names are lower case


# ---------------------------------------------------------------- sandbox records' wire

LIMITS_WIRE = {"timeout": 10.0, "memory_mb": 1024, "max_output_bytes": 32 * MiB, "max_file_bytes": 64 * MiB,
               "max_processes": 64, "wall_cap": 31.0, "wall_ceiling": 310.0}


def old_limits_wire(lim: Limits) -> dict:
    """The wire before ``wall``/``ceiling`` existed: cached verdicts are keyed by it."""
    old = {k: v for k, v in dataclasses.asdict(lim).items() if k not in ("wall", "ceiling")}
    return {**old, "wall_cap": lim.wall_cap, "wall_ceiling": lim.wall_ceiling}


def test_limits_wire_unchanged_without_wall_or_ceiling():
    assert Limits().to_wire() == LIMITS_WIRE
    assert Limits(timeout=2).to_wire() == {**LIMITS_WIRE, "timeout": 2, "wall_cap": 7.0, "wall_ceiling": 70.0}
    for lim in (Limits(), Limits(timeout=2)):
        assert json.dumps(lim.to_wire(), sort_keys=True) == json.dumps(old_limits_wire(lim), sort_keys=True)


def test_limits_wire_with_wall_and_ceiling():
    assert Limits(timeout=2, wall=2).to_wire() == \
        {**LIMITS_WIRE, "timeout": 2, "wall": 2, "wall_cap": 2, "wall_ceiling": 20}
    assert Limits(timeout=2, ceiling=5.5).to_wire() == \
        {**LIMITS_WIRE, "timeout": 2, "ceiling": 5.5, "wall_cap": 7.0, "wall_ceiling": 5.5}
    assert Limits(wall=3, ceiling=4).to_wire() == {**LIMITS_WIRE, "wall": 3, "ceiling": 4, "wall_cap": 3,
                                                   "wall_ceiling": 4}


@pytest.mark.parametrize("bad", [0, -1, 10 * 86400.0 + 1])
def test_limits_refuse_bad_wall_and_ceiling(bad):
    for name in ("wall", "ceiling"):
        with pytest.raises(ValueError, match=f"{name} must be a positive number of seconds"):
            Limits(**{name: bad})


def test_exec_request_wire():
    assert ExecRequest(code="print(1)").to_wire() == \
        {"id": "", "code": "print(1)", "test": None, "stdin": "", "limits": LIMITS_WIRE}
    full = ExecRequest(code="c", id="r1", keep_output=True, files=(("a", "aGk="),), fetch_files=("b",),
                       case_results=True, cases=(IOCase("1\n", "2\n"),))
    assert json.loads(json.dumps(full.to_wire())) == {
        "id": "r1", "code": "c", "test": None, "stdin": "", "limits": LIMITS_WIRE,
        "keep_output": True, "files": [["a", "aGk="]], "fetch_files": ["b"], "case_results": True,
        "cases": [{"stdin": "1\n", "expected": "2\n"}],
        "compare": {"case_sensitive": True, "float_tol": 1e-6, "strict_integers": False}, "all_cases": False}


VERDICT_KEYS = ["status", "detail", "exit_code", "signal", "wall_time", "cpu_time", "max_cpu_time",
                "peak_memory_kb", "stdout_tail", "stderr_tail", "passed_tests", "total_tests", "failing_test",
                "id", "attempts"]


def test_verdict_dict_unchanged_without_the_new_fields():
    got = Verdict(Status.PASSED).to_dict()
    assert list(got) == VERDICT_KEYS
    assert got == {"status": "passed", "detail": "", "exit_code": None, "signal": None, "wall_time": 0.0,
                   "cpu_time": 0.0, "max_cpu_time": 0.0, "peak_memory_kb": 0, "stdout_tail": "", "stderr_tail": "",
                   "passed_tests": 0, "total_tests": 0, "failing_test": None, "id": "", "attempts": 1}


def test_verdict_round_trip_with_the_new_fields():
    v = Verdict(Status.FAILED, "test 1: wrong answer", exit_code=0, stdout="a\n", stderr="", files={},
                cases=[{"status": "passed", "detail": ""}, {"status": "failed", "detail": "wrong answer"}])
    wire = json.loads(json.dumps(v.to_dict()))
    assert list(wire) == [*VERDICT_KEYS, "stdout", "stderr", "files", "cases"]
    assert Verdict.from_wire(wire) == v
    old = Verdict.from_wire({k: wire[k] for k in VERDICT_KEYS})
    assert (old.stdout, old.stderr, old.files, old.cases) == (None, None, None, None)
