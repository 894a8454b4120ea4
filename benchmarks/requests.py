"""How a problem's tests and a program become one sandbox request, and the
request's verdicts one result again. Benchmark knowledge written in the sandbox's
records: benchmarks sit above ``sandboxes`` (which knows no benchmark), below the
routers and the harness, which both build their requests here."""

from __future__ import annotations

import functools
import inspect
from dataclasses import replace

from sandboxes import ExecRequest, IOCase, Limits, Verdict, judge

from .records import AssertTests, CallTests, IOTests, Problem

# Call-based cases run in the program's process after it, as test code that carries
# its own copy of the judge's comparison (defined after the candidate ran, so the
# candidate cannot have replaced it).
CALL_RUNNER = '''
import ast as _ast, json as _json

{judge_functions}

def _parse(text):
    try:
        return _json.loads(text)
    except ValueError:
        return _ast.literal_eval(text)

for _i, (_args, _want) in enumerate({cases!r}):
    _got = {target}(*_parse(_args))
    assert call_result_equal(_got, _parse(_want)), (
        f"test {{_i}}: expected {{_want[:80]}}, got {{repr(_got)[:80]}}")
'''


# Assert tests (HumanEval, MBPP, LeetCode) run in this wrapper: the same code in the
# same namespace, compiled as tests.py; what fails fails the same way, and says where:
# a failed assert names the test line (HumanEval's `assert candidate(...) == ...`), an
# exception gets a note (Python's own mechanism, shown with it) with the test line and
# the program's line it came from.
ASSERT_RUNNER = '''
_codeharness_src, _codeharness_program = {src!r}, {program!r}
try:
    exec(compile(_codeharness_src, "tests.py", "exec", dont_inherit=True), globals())
except Exception as _codeharness_exc:
    try:
        _codeharness_at, _codeharness_tb = {{}}, _codeharness_exc.__traceback__
        while _codeharness_tb is not None:
            _codeharness_at[_codeharness_tb.tb_frame.f_code.co_filename] = _codeharness_tb.tb_lineno
            _codeharness_tb = _codeharness_tb.tb_next
        _codeharness_where = "; ".join(
            "%s line %d: %s" % (_name, _codeharness_at[_name],
                                _text.splitlines()[_codeharness_at[_name] - 1].strip()[:200])
            for _name, _text in (("tests.py", _codeharness_src), ("main.py", _codeharness_program))
            if _name in _codeharness_at)
        _codeharness_message = str(_codeharness_exc)
    except BaseException:
        _codeharness_where = ""
    if not _codeharness_where or isinstance(_codeharness_exc, MemoryError):
        raise
    if type(_codeharness_exc) is AssertionError:
        raise AssertionError("%s (%s)" % (_codeharness_message, _codeharness_where) if _codeharness_message
                             else _codeharness_where) from None
    try:
        _codeharness_exc.add_note("at " + _codeharness_where)
    except BaseException:
        pass
    raise
'''


def assert_test_code(code: str, program: str) -> str:
    """``code`` in ``ASSERT_RUNNER``; test code that does not compile goes as it is
    (the sandbox reports it as its own failure, ``sandbox_error``)."""
    try:
        compile(code, "tests.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return code
    return ASSERT_RUNNER.format(src=code, program=program)


def call_test_code(tests: CallTests) -> str:
    target = f"Solution().{tests.fn_name}" if tests.method else tests.fn_name
    functions = "\n\n".join(inspect.getsource(f) for f in (judge.normalize, judge.call_result_equal))
    return CALL_RUNNER.format(judge_functions=functions, cases=[list(c) for c in tests.cases], target=target)


def exec_request(problem: Problem, program: str, limits: Limits, id: str = "", all_cases: bool = False) -> ExecRequest:
    tests = problem.tests
    if isinstance(tests, AssertTests):
        return ExecRequest(program, assert_test_code(tests.code, program), limits=limits, id=id)
    if isinstance(tests, CallTests):
        return ExecRequest(program, call_test_code(tests), limits=limits, id=id)
    if isinstance(tests, IOTests):
        return ExecRequest(program, limits=limits, id=id, cases=_io_cases(tests),
                           case_sensitive=tests.case_sensitive, strict_integers=tests.strict_integers,
                           all_cases=all_cases)
    raise TypeError(f"{problem.benchmark} {problem.id}: unknown test kind {type(tests).__name__}")


@functools.lru_cache(maxsize=4096)
def _io_cases(tests: IOTests) -> tuple[IOCase, ...]:
    """One tuple per problem, shared by all its requests: pickled once per batch (the
    ``ray`` sandbox's driver, pickle's memo), not once per sample (~200 cases each)."""
    return tuple(IOCase(i, o) for i, o in tests.cases)


def case_requests(req: ExecRequest) -> list[ExecRequest]:
    """A stdin/stdout request as one request per case, so that every case runs and
    each gets its own verdict (``merge_cases`` puts them back together)."""
    return [replace(req, cases=(case,), id=f"{req.id}:{i}") for i, case in enumerate(req.cases)]


def merge_cases(verdicts: list[Verdict]) -> tuple[Verdict, list[dict]]:
    """(the request's verdict, one result per case) from ``case_requests``' verdicts,
    in case order. The verdict is the sandbox's for all the cases: the first case
    that did not pass decides it, and its detail says which case."""
    cases, first = [], None
    for i, v in enumerate(verdicts):
        detail = v.detail.removeprefix("test 0").removeprefix(": ")  # each ran as its request's only case
        cases.append({"case": i, "status": v.status.value, "detail": detail, "wall_time": v.wall_time})
        if first is None and not v.passed:
            first = replace(v, detail=f"test {i}: {detail}".rstrip(": "), failing_test=i)
    base = first or replace(verdicts[0], detail="")
    merged = replace(base, id=verdicts[0].id.rsplit(":", 1)[0], passed_tests=sum(v.passed for v in verdicts),
                     total_tests=len(verdicts), wall_time=round(sum(v.wall_time for v in verdicts), 6),
                     cpu_time=round(sum(v.cpu_time for v in verdicts), 6),
                     peak_memory_kb=max(v.peak_memory_kb for v in verdicts))
    return merged, cases
