"""The clients RL trainers use, unchanged, against a real ``python -m harness serve``:
verl's sandbox_fusion reward, SandboxFusion's own client (sync and async), our
``/run_tests``, and examples/verl_reward.py loaded the way verl loads a custom reward."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
import types

import httpx
import pytest
import sandbox_fusion
from sandbox_fusion import RunCodeRequest, SummaryMapping
from support import ROOT, docker_ready_or_skip, served, wait_for
from verl.trainer.ppo.reward import get_custom_reward_fn
from verl.utils.reward_score.sandbox_fusion import compute_score
from verl.utils.reward_score.sandbox_fusion.utils import check_correctness

EXAMPLE = ROOT / "examples" / "verl_reward.py"
DOUBLE = "```python\nprint(int(input()) * 2)\n```"
SLEEPER = "import time\nx = input()\nif x == '2':\n    time.sleep(60)\nprint(x)\n"


@pytest.fixture(scope="module", params=["local", pytest.param("docker", marks=pytest.mark.slow)])
def server(request):
    if request.param == "docker":
        docker_ready_or_skip()
    with served("--sandbox", request.param, "--workers", "2") as s:
        yield s


def score(server, completion, test_cases, **kw):
    kw.setdefault("memory_limit_mb", 1024)
    return compute_score(sandbox_fusion_url=f"{server.url}/run_code", concurrent_semaphore=None,
                         completion=completion, test_cases=test_cases, **kw)


def statuses(metadata):
    return [m["status"] for m in metadata]


# ---------------------------------------------------------------- verl's reward

def test_verl_stdin_stdout(server):
    cases = {"inputs": ["1\n", "2\n", "3\n", "4\n"], "outputs": ["2\n", "4\n", "6\n", "9\n"]}
    assert score(server, DOUBLE, cases)[0] == 0.75
    got, meta = score(server, DOUBLE, json.dumps(cases))  # verl's datasets store it as JSON text
    assert got == 0.75
    assert statuses(meta) == ["success", "success", "success", "wrong_answer"]
    last = meta[3]
    assert (last["stdout"], last["stderr"], last["exit_code"], last["api_status"], last["run_status"]) == \
        ("8\n", "", 0, "Success", "Finished")
    assert isinstance(last["duration"], float) and last["duration"] >= 0
    assert last["api_request_error"] is None


def test_verl_fn_name_wrapper(server):
    completion = "```python\nclass Solution:\n    def pair_sum(self, a, b):\n        return [a + b]\n```"
    cases = {"fn_name": "pair_sum", "inputs": ["1\n2", "[1]\n[2]", "3\n4"], "outputs": ["[3]", "[[1, 2]]", "[8]"]}
    got, meta = score(server, completion, cases)
    assert got == 2 / 3
    assert statuses(meta) == ["success", "success", "wrong_answer"]
    assert meta[2]["stdout"] == "[7]\n"


def test_verl_assert_cases(server):
    completion = "```python\ndef f(x):\n    return 2 * x\n```"
    got, meta = score(server, completion, {"assert_case": ["assert f(1) == 2", "assert f(2) == 5",
                                                           "assert f(3) == 6", "f(None)"]})
    assert got == 0.5
    assert statuses(meta) == ["success", "runtime_error", "success", "runtime_error"]
    assert meta[1]["exit_code"] == 1 and "AssertionError" in meta[1]["stderr"]
    assert "TypeError" in meta[3]["stderr"]


def test_verl_result_codes(server):
    """check_correctness's codes: True, False, -2 runtime error (a syntax error too:
    Python has no compile step), -3 timeout."""
    cases = {"inputs": ["1", "2", "3"], "outputs": ["1", "2", "4"]}
    results, meta = check_correctness(f"{server.url}/run_code", cases, SLEEPER, timeout=1)
    assert results == [True, -3, False]
    assert statuses(meta) == ["success", "timeout", "wrong_answer"]
    assert (meta[1]["run_status"], meta[1]["api_status"], meta[1]["exit_code"]) == ("TimeLimitExceeded", "Failed",
                                                                                   None)
    results, meta = check_correctness(f"{server.url}/run_code", cases, "print(", timeout=1)
    assert results == [-2, -2, -2]
    assert meta[0]["exit_code"] == 1 and "SyntaxError" in meta[0]["stderr"]
    results, meta = check_correctness(f"{server.url}/run_code", cases, "raise ValueError(input())", timeout=1)
    assert results == [-2, -2, -2]
    assert meta[2]["stderr"].endswith("ValueError: 3\n")


def test_verl_timeout_scores_zero(server):
    got, meta = score(server, "```python\nimport time\ntime.sleep(60)\n```", {"inputs": [""], "outputs": ["x"]},
                      timeout=1)
    assert (got, statuses(meta)) == (0.0, ["timeout"])


def test_verl_memory_limit(server):
    got, meta = score(server, "```python\nx = bytearray(512 * 2**20)\nprint(1)\n```",
                      {"inputs": ["", ""], "outputs": ["1", "1"]}, memory_limit_mb=128)
    assert (got, statuses(meta)) == (0.0, ["runtime_error", "runtime_error"])
    assert "MemoryError" in meta[0]["stderr"]


# ---------------------------------------------------------------- SandboxFusion's client

def test_sandbox_fusion_run_code(server):
    code = ("import sys\nprint(open('data/in.txt').read())\n"
            "open('out.txt', 'w').write(sys.stdin.read()[::-1])\n")
    req = RunCodeRequest(code=code, language="python", stdin="abc",
                         files={"data/in.txt": base64.b64encode(b"hello").decode()}, fetch_files=["out.txt"])
    resp = sandbox_fusion.run_code(req, endpoint=server.url, max_attempts=1)
    assert resp.status == sandbox_fusion.RunStatus.Success
    assert (resp.run_result.status, resp.run_result.return_code, resp.run_result.stdout) == \
        (sandbox_fusion.CommandRunStatus.Finished, 0, "hello\n")
    assert base64.b64decode(resp.files["out.txt"]) == b"cba"
    assert sandbox_fusion.summary_run_code_result(resp, SummaryMapping()) == "Success"


def test_sandbox_fusion_async_client(server):
    async def both():
        return await asyncio.gather(*(sandbox_fusion.run_code_async(
            RunCodeRequest(code=f"print({i} * 7)", language="python"), endpoint=server.url, max_attempts=1)
            for i in range(4)))
    assert [r.run_result.stdout for r in asyncio.run(both())] == ["0\n", "7\n", "14\n", "21\n"]


def test_sandbox_fusion_summary_mapping(server):
    mapping = SummaryMapping(Success="AC", Failed="WA", RunFailed="RE", RunTimeout="TLE")

    def summary(code, **kw):
        resp = sandbox_fusion.run_code(RunCodeRequest(code=code, language="python", **kw), endpoint=server.url,
                                       max_attempts=1)
        return resp.status.value, sandbox_fusion.summary_run_code_result(resp, mapping)

    assert summary("print(1)") == ("Success", "AC")
    assert summary("raise SystemExit(3)") == ("Failed", "RE")
    assert summary("import time\ntime.sleep(60)", run_timeout=1) == ("Failed", "TLE")


def test_sandbox_fusion_other_language_raises(server):
    req = RunCodeRequest(code="int main() { return 0; }", language="cpp")
    with pytest.raises(Exception, match=re.escape("Sandbox responded with error: language 'cpp' is not supported")):
        sandbox_fusion.run_code(req, endpoint=server.url, max_attempts=1)


# ---------------------------------------------------------------- /run_tests

def run_tests(server, code, cases, status=200, **kw):
    resp = httpx.post(f"{server.url}/run_tests", json={"code": code, "cases": cases, **kw}, timeout=120)
    assert resp.status_code == status, resp.text
    return resp.json()


def summary(body):
    return (body["status"], body["accepted"], body["reward"], body["passed"], body["total"],
            [c and c["status"] for c in body["cases"]])


IO = [{"stdin": "1", "expected": "2"}, {"stdin": "2", "expected": "5"}, {"stdin": "3", "expected": "6"}]


def test_run_tests_all_pass(server):
    body = run_tests(server, "print(int(input()) * 2)", [{"stdin": "1\n", "expected": "2"},
                                                          {"stdin": "21", "expected": "  42\n\n"}])
    assert summary(body) == ("Success", True, 1.0, 2, 2, ["passed", "passed"])
    assert [c["stdout"] for c in body["cases"]] == ["2\n", "42\n"]
    assert [c["return_code"] for c in body["cases"]] == [0, 0]


def test_run_tests_stops_at_first_failure(server):
    body = run_tests(server, "print(int(input()) * 2)", IO)
    assert summary(body) == ("Failed", False, 1 / 3, 1, 3, ["passed", "failed", None])
    assert body["cases"][1]["detail"].endswith("wrong answer: token 1: expected '5', got '4'")


def test_run_tests_all_cases(server):
    body = run_tests(server, "print(int(input()) * 2)", IO, all_cases=True)
    assert summary(body) == ("Failed", False, 2 / 3, 2, 3, ["passed", "failed", "passed"])


def test_run_tests_judge_float_tolerance_and_case(server):
    cases = [{"expected": "0.333333333"}, {"expected": "0.3334"}, {"expected": "0.33333333 YES"}]
    body = run_tests(server, "print(1 / 3)", cases[:2], all_cases=True)
    assert summary(body)[-1] == ["passed", "failed"]
    assert summary(run_tests(server, "print(1 / 3)", cases[:2], float_tol=1e-3))[-1] == ["passed", "passed"]
    body = run_tests(server, "print(1 / 3, 'yes')", cases[2:], case_sensitive=False)
    assert summary(body) == ("Success", True, 1.0, 1, 1, ["passed"])
    assert summary(run_tests(server, "print(1 / 3, 'yes')", cases[2:]))[-1] == ["failed"]
    assert summary(run_tests(server, "print(7)", [{"expected": "007"}]))[-1] == ["passed"]


def test_run_tests_timeout_in_one_case(server):
    cases = [{"stdin": str(i), "expected": str(i)} for i in (1, 2, 3)]
    body = run_tests(server, SLEEPER, cases, all_cases=True, run_timeout=1)
    assert summary(body) == ("Failed", False, 2 / 3, 2, 3, ["passed", "timeout", "passed"])
    assert summary(run_tests(server, SLEEPER, cases, run_timeout=1))[-1] == ["passed", "timeout", None]


def test_run_tests_program_errors(server):
    cases = [{"stdin": "1", "expected": "1"}, {"stdin": "2", "expected": "2"}]
    body = run_tests(server, "print(", cases, all_cases=True)
    assert summary(body) == ("Failed", False, 0.0, 0, 2, ["syntax_error", "syntax_error"])
    body = run_tests(server, "raise ValueError(input())", cases)
    assert summary(body)[-1] == ["runtime_error", None]
    assert body["cases"][0]["return_code"] == 1
    assert body["cases"][0]["stderr"].endswith("ValueError: 1\n")
    body = run_tests(server, "x = bytearray(512 * 2**20)", cases, memory_limit_MB=128)
    assert summary(body)[-1] == ["oom", None]


def test_run_tests_assert_cases(server):
    code = "def f(x):\n    return 2 * x\n"
    cases = [{"assert_code": "assert f(1) == 2"}, {"assert_code": "assert f(2) == 5"},
             {"assert_code": "assert f(3) == 6"}, {"assert_code": "f(None)"}]
    body = run_tests(server, code, cases)
    assert summary(body) == ("Failed", False, 0.25, 1, 4, ["passed", "failed", None, None])
    assert body["cases"][1]["detail"] == "AssertionError: tests.py line 1: assert f(2) == 5"  # where it failed
    body = run_tests(server, code, cases, all_cases=True)
    assert summary(body) == ("Failed", False, 0.5, 2, 4, ["passed", "failed", "passed", "runtime_error"])
    assert body["cases"][3]["detail"] == ("TypeError: unsupported operand type(s) for *: 'int' and 'NoneType'\n"
                                          "at tests.py line 1: f(None); main.py line 2: return 2 * x")
    assert summary(run_tests(server, code, cases[:1]))[:3] == ("Success", True, 1.0)


def test_run_tests_bad_requests(server):
    mixed = [{"stdin": "1", "expected": "1"}, {"assert_code": "assert True"}]
    assert run_tests(server, "print(1)", mixed, status=400)["detail"] == \
        "cases: give every case stdin/expected or every case assert_code, not a mix"
    assert run_tests(server, "print(1)", [{"stdin": "1"}], status=400)["detail"] == \
        "cases[0]: expected (stdout) is missing"
    assert run_tests(server, "print(1)", [], status=422)["detail"][0]["type"] == "too_short"
    assert run_tests(server, "print(1)", IO, status=422, run_timeout=0)["detail"][0]["loc"] == ["body", "run_timeout"]
    assert run_tests(server, "print(1)", IO, status=400, memory_limit_MB=1)["detail"].startswith("memory_limit_MB: 1")
    body = run_tests(server, "int main() {}", IO, language="cpp")
    assert summary(body) == ("SandboxError", False, 0.0, 0, 3, [None, None, None])
    assert "Python only" in body["message"]


# ---------------------------------------------------------------- examples/verl_reward.py

def custom_reward(**reward_kwargs):
    """The function as verl's trainer loads it: by file path and name, kwargs merged."""
    config = types.SimpleNamespace(reward={"custom_reward_function": {
        "path": str(EXAMPLE), "name": "compute_score", "reward_kwargs": reward_kwargs}})
    return get_custom_reward_fn(config)


def test_example_reward_as_verl_loads_it(server, monkeypatch):
    monkeypatch.setenv("CODEHARNESS_SERVE_URL", server.url)
    fn = custom_reward()
    truth = json.dumps({"inputs": ["1", "2", "3", "4"], "outputs": ["2", "5", "6", "8"]})
    call = dict(data_source="codecontests", ground_truth=truth, extra_info={"index": 0})
    assert fn(solution_str=f"Sure:\n{DOUBLE}\n", **call) == 0.75
    assert fn(solution_str="no code here", **call) == 0.0
    assert fn(solution_str="```python\nprint(int(input()) * 2.0000000001)\n```", **call) == 0.75
    assert custom_reward(all_cases=False)(solution_str=DOUBLE, **call) == 0.25  # stopped at the second case
    assert custom_reward(run_timeout=1)(solution_str=f"```python\n{SLEEPER}```", data_source="x",
                                        ground_truth={"inputs": ["1", "2"], "outputs": ["1", "2"]}) == 0.5


def test_example_reward_fn_name_and_asserts(server):
    fn = custom_reward(url=server.url)
    solution = "```python\nclass Solution:\n    def f(self, a, b):\n        return [a / b, {'k': a}]\n```"
    truth = {"fn_name": "f", "inputs": ["1\n3", [2, 4], "1\n0"],
             "outputs": ['[0.3333333333, {"k": 1}]', [0.5, {"k": 2}], [0, {"k": 1}]]}
    assert fn(data_source="taco", solution_str=solution, ground_truth=truth) == 2 / 3
    asserts = {"assert_case": ["assert Solution().f(1, 2)[0] == 0.5", "assert Solution().f(1, 0)"]}
    assert fn(data_source="x", solution_str=solution, ground_truth=json.dumps(asserts)) == 0.5
    with pytest.raises(RuntimeError, match="Python only"):
        verl_reward_module().run_tests({"code": "", "language": "cpp", "cases": [{"expected": ""}],
                                        "run_timeout": 1}, server.url)


def verl_reward_module():
    from verl.utils.import_utils import load_module
    return load_module(str(EXAMPLE))


def metric(url, line_start):
    text = httpx.get(f"{url}/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start))


@pytest.mark.slow
def test_example_reward_retries_504():
    """One lane, one queue slot, 1 s of waiting: while a program holds the lane the
    reward's /run_tests is answered 504 + Retry-After, and retried until it runs."""
    with served("--sandbox", "local", "--workers", "1", "--queue", "1", "--max-wait", "1") as s:
        holder = threading.Thread(target=httpx.post, args=(f"{s.url}/run_code",), kwargs=dict(
            json={"code": "import time\ntime.sleep(8)", "language": "python", "run_timeout": 10}, timeout=60))
        holder.start()
        try:
            wait_for(lambda: metric(s.url, "codeharness_running ") == 1)
            reward = custom_reward(url=s.url)(data_source="x", solution_str=DOUBLE,
                                              ground_truth={"inputs": ["1"], "outputs": ["2"]})
        finally:
            holder.join()
        assert reward == 1.0
        assert metric(s.url, 'codeharness_requests_total{code="504",endpoint="run_tests"') >= 1
        assert metric(s.url, 'codeharness_requests_total{code="200",endpoint="run_tests"') == 1
