"""``/submit`` and ``/list_datasets`` against a real server on 127.0.0.1, through
SandboxFusion's own client (``sandbox_fusion.submit``, ``submit_async``): each served
dataset with a correct and a wrong completion, ``config.provided_data`` in each of
SandboxFusion's row formats, and each bad request's 400 message."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from sandbox_fusion import SubmitRequest, TestConfig, submit, submit_async
from support import docker_ready_or_skip, served

from benchmarks import IOTests, get_benchmark

HE0 = get_benchmark("humaneval").by_id()["HumanEval/0"]
HE0_BODY = HE0.references[0][len(HE0.prompt):]  # the canonical completion
MBPP11 = get_benchmark("mbpp").by_id()["MBPP/11"]
CC = get_benchmark("codecontests").by_id()["177_B1"]  # 10 stdin/stdout cases, a Python reference
CC_WRONG = "n = int(input())\nprint(-n)\n"  # right on no case
# Right on the first case only: the first failure is the second case.
CC_FIRST = f"n = int(input())\nprint({CC.tests.cases[0][1].strip()} if n == {CC.tests.cases[0][0].strip()} else 0)\n"
COMMONOJ_ROW = {"id": 7, "content": "Print the sum of two integers.", "test": json.dumps(
    [{"input": {"stdin": "1 2\n"}, "output": {"stdout": "3\n"}},
     {"input": {"stdin": "-5 5\n"}, "output": {"stdout": "0"}},
     {"input": {"stdin": "10 20\n"}, "output": {"stdout": "30\n"}}])}
SUM = "a, b = map(int, input().split())\nprint(a + b)\n"
HUMANEVAL_ROW = {"task_id": "custom/1", "entry_point": "double", "prompt": "def double(x):\n",
                 "test": "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(-1) == -2\n"}
MBPP_ROW = {"id": 3, "content": "Write a function that squares a number.", "labels": {"test_setup_code": "import math"},
            "test_list": ["assert square(3) == 9", "assert square(math.isqrt(16)) == 16"]}


@pytest.fixture(scope="module")
def url():
    with served("--sandbox", "local", "--workers", "2") as srv:
        yield srv.url


def sf(url: str, dataset: str, id, completion: str, **config):
    return submit(SubmitRequest(dataset=dataset, id=id, completion=completion, config=TestConfig(**config)),
                  endpoint=url, max_attempts=1)


def fenced(code: str) -> str:
    return f"Here is my solution:\n```python\n{code}```\nIt runs in linear time."


def outcomes(result) -> list[tuple[bool, str]]:
    return [(t.passed, t.exec_info.status.value) for t in result.tests]


def test_list_datasets(url):
    resp = httpx.get(f"{url}/list_datasets", timeout=30)
    assert resp.status_code == 200
    assert resp.json() == ["apps", "code_contests", "humaneval_python", "leetcode", "mbpp", "runbugrun"]


def test_humaneval_pretrain_completion_is_cut_at_the_function_end(url):
    completion = HE0_BODY + "\nprint('not part of the function')\nassert False\n"
    for id in (0, "0", "HumanEval/0"):
        result = sf(url, "humaneval_python", id, completion)
        assert (result.accepted, outcomes(result), result.extracted_code) == (True, [(True, "Success")], HE0_BODY)
    assert result.id == "HumanEval/0"
    assert result.full_code.startswith("import math\n")
    assert result.full_code.endswith(f"{HE0.prompt}{HE0_BODY}\n{HE0.tests.code}")


def test_humaneval_wrong_completion_fails_with_the_assert(url):
    result = sf(url, "humaneval_python", 0, "    return False\n")
    assert (result.accepted, outcomes(result)) == (False, [(False, "Failed")])
    run = result.tests[0].exec_info.run_result
    assert run.return_code == 1 and run.stderr.startswith("AssertionError: tests.py line")


def test_humaneval_freeform_takes_the_code_block(url):
    result = sf(url, "humaneval_python", "HumanEval/0", fenced(HE0.references[0]), extra={"is_freeform": True})
    assert (result.accepted, outcomes(result), result.extracted_code) == (True, [(True, "Success")], HE0.references[0])
    # Without is_freeform, a chat answer continues the prompt: not a program.
    assert sf(url, "humaneval_python", 0, fenced(HE0.references[0])).accepted is False


def test_mbpp(url):
    answer = f"{MBPP11.references[0]}\nassert remove_Occ('a', 'a') == 'oops'\n[DONE]\nmore text"
    for id in (11, "11", "MBPP/11"):
        result = sf(url, "mbpp", id, answer)
        assert (result.accepted, outcomes(result)) == (True, [(True, "Success")])
    assert result.extracted_code == "\n" + MBPP11.references[0].rstrip("\n")
    assert result.full_code.endswith("\n".join(MBPP11.metadata["test_list"]) + "\n")
    assert sf(url, "mbpp", 11, fenced("def remove_Occ(s, ch):\n    return s\n")).accepted is False
    # Few-shot: only the last test runs; this one passes it and no other.
    last = MBPP11.metadata["test_list"][-1]
    cheat = "def remove_Occ(s, ch):\n    return 'H'\n"
    assert sf(url, "mbpp", 11, cheat, is_fewshot=True).accepted is ("'H'" in last or '"H"' in last)


def test_code_contests_stdin_cases(url):
    result = sf(url, "code_contests", "177_B1", fenced(CC.references[0]), language="python")
    assert result.accepted is True
    assert outcomes(result) == [(True, "Success")] * 10
    assert result.tests[0].test_info == {"input": {"stdin": CC.tests.cases[0][0]},
                                         "output": {"stdout": CC.tests.cases[0][1]}}
    assert result.tests[0].exec_info.run_result.stdout == CC.tests.cases[0][1].strip() + "\n"
    first = sf(url, "code_contests", "177_B1", fenced(CC_FIRST), language="python")
    assert (first.accepted, outcomes(first)) == (False, [(True, "Success"), (False, "Success")])  # wrong answer
    every = sf(url, "code_contests", "177_B1", CC_WRONG, language="python", extra={"run_all_cases": True})
    assert (every.accepted, outcomes(every)) == (False, [(False, "Success")] * 10)
    crash = sf(url, "code_contests", "177_B1", "raise SystemExit(3)", language="python")
    assert outcomes(crash) == [(False, "Failed")] and crash.tests[0].exec_info.run_result.return_code == 3
    # SandboxFusion's row id 3 of its CodeContests sample is our 1000_A.
    assert len(sf(url, "code_contests", 3, "print(0)", language="python").tests) == 1


def test_our_benchmarks(url):
    for dataset, pid in (("apps", "1642"), ("leetcode", "count-distinct-numbers-on-board"), ("runbugrun", "420538")):
        problem = get_benchmark(dataset).by_id()[pid]
        right = sf(url, dataset, pid, fenced(problem.references[0]))
        assert (dataset, right.accepted) == (dataset, True)
        assert len(right.tests) == (problem.test_count if isinstance(problem.tests, IOTests) else 1)
        wrong = sf(url, dataset, pid, fenced("print(1)\n"))
        assert (dataset, wrong.accepted) == (dataset, False)


def test_provided_data(url):
    he = sf(url, "humaneval_python", "custom/1", "    return 2 * x\n", provided_data=HUMANEVAL_ROW)
    assert (he.accepted, outcomes(he)) == (True, [(True, "Success")])
    assert sf(url, "humaneval_python", "custom/1", "    return x\n", provided_data=HUMANEVAL_ROW).accepted is False
    oj = sf(url, "code_contests", 7, fenced(SUM), language="python", provided_data=COMMONOJ_ROW)
    assert (oj.accepted, outcomes(oj)) == (True, [(True, "Success")] * 3)
    # A list of rows: the one with the request's id; a dataset SandboxFusion does not
    # register, by its class.
    rows = [dict(COMMONOJ_ROW, id=6, test=[{"input": {"stdin": ""}, "output": {"stdout": "x"}}]), COMMONOJ_ROW]
    typed = sf(url, "my_oj", 7, SUM.replace("a + b", "a + b if a < 0 else 0"), language="python",
               dataset_type="CommonOJDataset", provided_data=rows, extra={"run_all_cases": True})
    assert (typed.accepted, outcomes(typed)) == (False, [(False, "Success"), (True, "Success"), (False, "Success")])
    mbpp = sf(url, "mbpp", 3, "def square(x):\n    return x * x\n[DONE]", provided_data=MBPP_ROW)
    assert (mbpp.accepted, mbpp.extracted_code) == (True, "import math\ndef square(x):\n    return x * x\n")
    literal = dict(MBPP_ROW, labels=str(MBPP_ROW["labels"]), test_list=str(MBPP_ROW["test_list"]))  # SF's table
    assert sf(url, "my_mbpp", 3, "def square(x):\n    return x\n", dataset_type="MBPPDataset",
              provided_data=literal).accepted is False


def test_test_info_of_a_passed_case_is_cut_unless_asked(url):
    row = {"id": 1, "content": "Print 3000 x.", "test": [
        {"input": {"stdin": ""}, "output": {"stdout": "x" * 3000}},
        {"input": {"stdin": "y" * 2000}, "output": {"stdout": "z" * 3000}}]}
    program = "print('x' * 3000)"
    cut = sf(url, "code_contests", 1, program, language="python", provided_data=row, extra={"run_all_cases": True})
    assert [t.test_info for t in cut.tests] == [
        {"input": {"stdin": ""}, "output": {"stdout": "x" * 498 + "..." + "x" * 498}}, row["test"][1]]
    whole = sf(url, "code_contests", 1, program, language="python", provided_data=row,
               extra={"run_all_cases": True, "return_full_case": True})
    assert [t.test_info for t in whole.tests] == row["test"]


def test_submit_async(url):
    async def both():
        return await asyncio.gather(*(
            submit_async(SubmitRequest(dataset="humaneval_python", id=0, completion=c, config=TestConfig()),
                         endpoint=url, max_attempts=1) for c in (HE0_BODY, "    return True\n")))

    right, wrong = asyncio.run(both())
    assert (right.accepted, wrong.accepted) == (True, False)


@pytest.mark.parametrize(("body", "message"), [
    ({"dataset": "nope", "id": 1}, "dataset: 'nope' is not served (served: apps, code_contests, humaneval_python, "
     "leetcode, mbpp, runbugrun; or config.dataset_type HumanEvalDataset, MBPPDataset, CommonOJDataset with "
     "config.provided_data)"),
    ({"dataset": "humaneval_python", "id": 999}, "id: 999 is not a problem of humaneval_python"),
    ({"dataset": "mbpp", "id": "MBPP/x"}, "id: 'MBPP/x' is not a problem of mbpp"),
    ({"dataset": "code_contests", "id": "177_B1"},
     'config.language: required for code_contests (CommonOJDataset), e.g. "python"'),
    ({"dataset": "code_contests", "id": "177_B1", "config": {"language": "cpp"}},
     "config.language: language 'cpp' is not supported: codeharness serve runs Python only (language 'python')"),
    ({"dataset": "x", "id": 1, "config": {"dataset_type": "FooDataset"}},
     "config.dataset_type: 'FooDataset' is not one of HumanEvalDataset, MBPPDataset, CommonOJDataset"),
    ({"dataset": "x", "id": 1, "config": {"dataset_type": "MBPPDataset"}},
     "config.provided_data: required for dataset 'x', which is not stored here"),
    ({"dataset": "humaneval_python", "id": 1, "config": {"provided_data": {"task_id": "a", "prompt": ""}}},
     "config.provided_data: missing field(s) test, entry_point of a HumanEvalDataset row"),
    ({"dataset": "humaneval_python", "id": 1, "config": {"provided_data": dict(HUMANEVAL_ROW, test=3)}},
     "config.provided_data: field(s) test must be strings"),
    ({"dataset": "code_contests", "id": 7, "config": {"language": "python", "provided_data": dict(
        COMMONOJ_ROW, test="[{]")}}, "config.provided_data.test: not JSON"),
    ({"dataset": "code_contests", "id": 7, "config": {"language": "python", "provided_data": dict(
        COMMONOJ_ROW, test=[{"input": "1 2"}])}},
     'config.provided_data.test: want a non-empty list of {"input": {"stdin": str}, "output": {"stdout": str}}'),
    ({"dataset": "code_contests", "id": 8, "config": {"language": "python", "provided_data": [COMMONOJ_ROW]}},
     "config.provided_data: 0 rows have id 8 (want one)"),
    ({"dataset": "apps", "id": "1642", "config": {"provided_data": {"id": 1}}},
     "config.provided_data: not taken for apps (only in the formats of humaneval_python, mbpp, code_contests)"),
])
def test_bad_requests(url, body, message):
    resp = httpx.post(f"{url}/submit", json={"completion": "print(1)", **body}, timeout=30)
    assert (resp.status_code, resp.json()) == (400, {"detail": message})


@pytest.mark.slow
def test_docker():
    docker_ready_or_skip()
    with served("--sandbox", "docker", "--workers", "2") as srv:
        assert sf(srv.url, "humaneval_python", 0, HE0_BODY).accepted is True
        result = sf(srv.url, "code_contests", "177_B1", CC.references[0], language="python")
        assert outcomes(result) == [(True, "Success")] * 10
        assert outcomes(sf(srv.url, "code_contests", "177_B1", CC_FIRST, language="python")) == \
            [(True, "Success"), (False, "Success")]
