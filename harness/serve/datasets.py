"""``/submit`` and ``/list_datasets``: SandboxFusion's dataset API over our benchmarks.

Served under SandboxFusion's names where it has the benchmark (``humaneval_python``,
``mbpp``, ``code_contests``), under ours where it has none (``apps``, ``leetcode``,
``runbugrun``); SandboxFusion's ids are accepted beside ours (``0`` or ``"0"`` for
``HumanEval/0``, ``11`` for ``MBPP/11``, its row ids for its 20 CodeContests sample
rows). ``config.provided_data`` (one row, or a list searched by ``id``) replaces the
stored problem, in the row format of the dataset's SandboxFusion class, or of
``config.dataset_type`` for a dataset it does not name. Tests are assembled by the
benchmarks' own adapters (``benchmarks.requests.exec_request``); stdin/stdout cases run
as one request judged next to the program (``sandboxes/judge.py``), one ``EvalTestCase``
each.

Completions, as SandboxFusion treats them:
* ``humaneval_python``: by default a continuation of the prompt, cut at the first line
  that starts at column 0; with ``config.extra.is_freeform`` a chat answer, whose code
  is taken out by ``benchmarks.extract.program_for`` (``run``'s rule). Either way
  SandboxFusion's import preamble goes first.
* ``mbpp``: cut at ``[DONE]``; the code block taken out; cut at the first ``\\nassert``
  or ``\\n\"\"\"``; the problem's ``test_setup_code`` first; cut at ``if __name__ ==``;
  the ``test_list`` asserts (only the last with ``config.is_fewshot``), not the
  challenge tests.
* ``code_contests`` and our stdin benchmarks: the code block taken out; the first
  failing case ends the run unless ``config.extra.run_all_cases``.

Where we differ from SandboxFusion: the code block is chosen by ``benchmarks.extract``
(Python-tagged blocks first, then the one defining the entry point) and an answer
without one is kept whole (SandboxFusion keeps only its ``def``/``class`` runs, or
nothing); stdout is judged by our judge (float tolerance 1e-6; letter case matters
unless the statement says it does not: SandboxFusion always ignores case);
``run_timeout`` is CPU seconds per run (wall seconds not spent waiting for a CPU too);
a HumanEval continuation follows the prompt directly (``HumanEval.program``; SandboxFusion
puts a newline between); ``config.custom_extract_logic`` (code SandboxFusion runs in its
own process) is ignored.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks import DataError, Problem, get_benchmark
from benchmarks.base import DATA
from benchmarks.extract import extract_code, program_for
from benchmarks.io import read_records
from benchmarks.literal import parse_literal
from benchmarks.records import AssertTests
from benchmarks.requests import exec_request
from sandboxes.records import ExecRequest, Status, Verdict

from .models import EvalResult, EvalTestCase, RunStatus, SubmitRequest
from .translate import BadRequest, Policy, limits, not_python, run_code_response

RUN_TIMEOUT = 20.0  # SandboxFusion's default for each of these datasets
TEST_INFO_CHARS = 1000  # SandboxFusion's truncate_str, unless config.extra.return_full_case
# SandboxFusion's humaneval_python stop token: the first line starting at column 0 ends
# the function body.
HUMANEVAL_STOP = re.compile(r"\n(?!\s|\n)(?=.|\n)")
MBPP_STOP = ("\nassert", '\n"""')
# What SandboxFusion puts before every HumanEval program (its IMPORT_HELPER["python"]):
# completions that use math or List unimported pass there, so they pass here.
SF_IMPORTS = ("import math\nimport re\nimport sys\nimport copy\nimport datetime\nimport itertools\n"
              "import collections\nimport heapq\nimport statistics\nimport functools\nimport hashlib\n"
              "import numpy\nimport numpy as np\nimport string\nfrom typing import *\nfrom collections import *\n")


@dataclass
class Plan:
    """The programs a submission runs, and how their verdicts become its ``EvalResult``."""

    requests: list[ExecRequest]
    finish: Callable[[list[Verdict]], EvalResult]


@dataclass(frozen=True)
class Served:
    benchmark: str  # ours
    kind: str  # how a completion becomes a program: humaneval, mbpp, commonoj, ours
    sf_class: str = ""  # SandboxFusion's class: its config.dataset_type, its provided_data format


SERVED = {
    "humaneval_python": Served("humaneval", "humaneval", "HumanEvalDataset"),
    "mbpp": Served("mbpp", "mbpp", "MBPPDataset"),
    "code_contests": Served("codecontests", "commonoj", "CommonOJDataset"),
    "apps": Served("apps", "ours"),
    "leetcode": Served("leetcode", "ours"),
    "runbugrun": Served("runbugrun", "ours"),
}
BY_CLASS = {s.sf_class: s for s in SERVED.values() if s.sf_class}


def names() -> list[str]:
    return sorted(SERVED)


def plan(req: SubmitRequest, policy: Policy) -> Plan:
    served = _served(req)
    bench = get_benchmark(served.benchmark)
    problem = _provided(req, served) if req.config.provided_data else _stored(req, served)
    lim = limits(req.config.run_timeout or RUN_TIMEOUT, -1, policy, None)
    all_cases = bool(req.config.extra.get("run_all_cases"))
    if served.kind == "commonoj":
        if not req.config.language:
            raise BadRequest(f"config.language: required for {req.dataset} (CommonOJDataset), e.g. \"python\"")
        if message := not_python(req.config.language):
            raise BadRequest(f"config.language: {message}")
    if served.kind == "humaneval":
        extracted, program = _humaneval(bench, problem, req)
    elif served.kind == "mbpp":
        extracted, program = _mbpp(problem, req.completion)
        tests = problem.metadata["test_list"][-1:] if req.config.is_fewshot else problem.metadata["test_list"]
        problem = dataclasses.replace(problem, tests=AssertTests("\n".join(tests) + "\n"))
    elif served.kind == "commonoj":
        extracted = program = extract_code(req.completion)
    else:
        extracted, program = program_for(bench, problem, req.completion)
    exec_req = exec_request(problem, program, lim, all_cases=all_cases)
    exec_req = dataclasses.replace(exec_req, case_results=exec_req.cases is not None, keep_output=True)
    test_code = problem.tests.code if isinstance(problem.tests, AssertTests) else exec_req.test
    full_code = f"{program}\n{test_code}" if test_code else program
    full_case = bool(req.config.extra.get("return_full_case"))

    def finish(verdicts: list[Verdict]) -> EvalResult:
        (v,) = verdicts
        if v.cases is not None:
            passed = [c["status"] == Status.PASSED.value for c in v.cases]
            # As SandboxFusion: a failed case's test_info whole, a passed one's cut.
            tests = [EvalTestCase(passed=ok, exec_info=run_code_response(Verdict.from_wire(c), policy),
                                  test_info=_test_info(case, full_case or not ok))
                     for ok, c, case in zip(passed, v.cases, exec_req.cases, strict=False)]
        else:
            info = run_code_response(v, policy)
            if not v.passed and info.status is not RunStatus.SandboxError:
                # A failed test is reported by the runner, not printed: show it where
                # SandboxFusion's traceback would be; tests that stopped short failed.
                run = info.run_result
                if run is not None and not run.stderr:
                    run = run.model_copy(update={"stderr": f"{v.detail}\n"})
                info = info.model_copy(update={"status": RunStatus.Failed, "run_result": run,
                                               "message": info.message or v.detail})
            tests = [EvalTestCase(passed=v.passed, exec_info=info)]
        return EvalResult(id=req.id, accepted=v.passed, extracted_code=extracted, full_code=full_code, tests=tests)

    return Plan([exec_req], finish)


def _served(req: SubmitRequest) -> Served:
    if req.dataset in SERVED:
        return SERVED[req.dataset]
    kind = req.config.dataset_type
    if kind is None:
        raise BadRequest(f"dataset: {req.dataset!r} is not served (served: {', '.join(names())}; "
                         f"or config.dataset_type {', '.join(BY_CLASS)} with config.provided_data)")
    if kind not in BY_CLASS:
        raise BadRequest(f"config.dataset_type: {kind!r} is not one of {', '.join(BY_CLASS)}")
    if not req.config.provided_data:
        raise BadRequest(f"config.provided_data: required for dataset {req.dataset!r}, which is not stored here")
    return BY_CLASS[kind]


@functools.cache
def _problems(benchmark: str) -> dict[str, Problem]:
    problems = get_benchmark(benchmark).by_id()
    if benchmark == "codecontests":  # SandboxFusion's row ids of the CodeContests rows we hold in its format
        rows = read_records(DATA / get_benchmark(benchmark).bundled["sandboxfusion"])
        titles = {str(r["id"]): parse_literal(r["labels"])["name"] if isinstance(r["labels"], str)
                  else r["labels"]["name"] for r in rows}
        problems |= {sf_id: problems[name.split(".", 1)[0].strip()] for sf_id, name in titles.items()}
    return problems


def _stored(req: SubmitRequest, served: Served) -> Problem:
    key = str(req.id)
    if key.isdigit() and served.benchmark in ("humaneval", "mbpp"):  # SandboxFusion's integer ids
        key = f"{'HumanEval' if served.benchmark == 'humaneval' else 'MBPP'}/{key}"
    problem = _problems(served.benchmark).get(key)
    if problem is None:
        raise BadRequest(f"id: {req.id!r} is not a problem of {req.dataset}")
    return problem


def _provided(req: SubmitRequest, served: Served) -> Problem:
    """The problem of ``config.provided_data``, one row in SandboxFusion's format of
    ``served`` (or a list of them, the one whose id is ``req.id``), read by our adapter."""
    data, where = req.config.provided_data, "config.provided_data"
    if isinstance(data, list):
        matches = [r for r in data if str(r.get("id", r.get("task_id"))) == str(req.id)]
        if len(matches) != 1:
            raise BadRequest(f"{where}: {len(matches)} rows have id {req.id!r} (want one)")
        data = matches[0]
    if not served.sf_class:
        raise BadRequest(f"{where}: not taken for {req.dataset} (only in the formats of "
                         f"{', '.join(s for s in SERVED if SERVED[s].sf_class)})")
    fields = {"humaneval": ("task_id", "prompt", "test", "entry_point"), "mbpp": ("id", "content", "test_list"),
              "commonoj": ("id", "content", "test")}[served.kind]
    if missing := [f for f in fields if f not in data]:
        raise BadRequest(f"{where}: missing field(s) {', '.join(missing)} of a {served.sf_class} row")
    if not_text := [f for f in fields if f in ("task_id", "prompt", "test", "entry_point", "content")
                    and not isinstance(data[f], str) and not (f == "test" and served.kind == "commonoj")]:
        raise BadRequest(f"{where}: field(s) {', '.join(not_text)} must be strings")
    try:
        if served.kind == "humaneval":
            row = {"canonical_solution": "", **data}
        elif served.kind == "mbpp":
            labels = _json(data.get("labels") or {}, f"{where}.labels")
            row = {"task_id": data["id"], "text": data["content"], "code": "", "test_list": _json(
                data["test_list"], f"{where}.test_list"), "test_setup_code": labels.get("test_setup_code", "")}
        else:
            row = {"content": data["content"], "test": _stdio_tests(data["test"], f"{where}.test"),
                   "labels": {"name": str(data["id"])}}
        return get_benchmark(served.benchmark).problem(row, where)
    except BadRequest:
        raise
    except (DataError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise BadRequest(f"{where}: not a {served.sf_class} row ({exc})") from None


def _json(value, where: str):
    if not isinstance(value, str):
        return value
    try:
        return parse_literal(value)  # JSON, or the Python literal SandboxFusion's MBPP rows hold
    except (ValueError, SyntaxError):
        raise BadRequest(f"{where}: not JSON") from None


def _stdio_tests(value, where: str) -> list[dict]:
    tests = _json(value, where)
    if not isinstance(tests, list) or not tests or not all(
            isinstance(t, dict) and isinstance(t.get("input"), dict) and isinstance(t["input"].get("stdin"), str)
            and isinstance(t.get("output"), dict) and isinstance(t["output"].get("stdout"), str) for t in tests):
        raise BadRequest(f"{where}: want a non-empty list of {{\"input\": {{\"stdin\": str}}, "
                         f"\"output\": {{\"stdout\": str}}}}")
    return tests


def _humaneval(bench, problem: Problem, req: SubmitRequest) -> tuple[str, str]:
    if req.config.extra.get("is_freeform"):
        extracted, program = program_for(bench, problem, req.completion)
    else:
        stop = HUMANEVAL_STOP.search(req.completion)
        extracted = req.completion[:stop.start()] if stop else req.completion
        program = bench.program(problem, completion=extracted)
    return extracted, SF_IMPORTS + program


def _mbpp(problem: Problem, completion: str) -> tuple[str, str]:
    code = extract_code(completion.split("[DONE]", 1)[0])
    for stop in MBPP_STOP:
        code = code.split(stop, 1)[0]
    code = f"{problem.metadata['setup']}\n{code}".split("if __name__ ==", 1)[0]
    return code, code


def _test_info(case, full: bool) -> dict:
    def cut(s: str) -> str:
        if full or len(s) <= TEST_INFO_CHARS:
            return s
        keep = (TEST_INFO_CHARS - 3) // 2
        return f"{s[:keep]}...{s[-keep:]}"

    return {"input": {"stdin": cut(case.stdin)}, "output": {"stdout": cut(case.expected)}}

