"""How a problem's tests and a program become one sandbox request."""

from __future__ import annotations

import inspect

from benchmarks import AssertTests, CallTests, IOTests, Problem
from sandboxes import ExecRequest, IOCase, Limits, judge

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


def call_test_code(tests: CallTests) -> str:
    target = f"Solution().{tests.fn_name}" if tests.method else tests.fn_name
    functions = "\n\n".join(inspect.getsource(f) for f in (judge.normalize, judge.call_result_equal))
    return CALL_RUNNER.format(judge_functions=functions, cases=[list(c) for c in tests.cases], target=target)


def exec_request(problem: Problem, program: str, limits: Limits, id: str = "", all_cases: bool = False) -> ExecRequest:
    tests = problem.tests
    if isinstance(tests, AssertTests):
        return ExecRequest(program, tests.code, limits=limits, id=id)
    if isinstance(tests, CallTests):
        return ExecRequest(program, call_test_code(tests), limits=limits, id=id)
    if isinstance(tests, IOTests):
        return ExecRequest(program, limits=limits, id=id, cases=tuple(IOCase(i, o) for i, o in tests.cases),
                           case_sensitive=tests.case_sensitive, strict_integers=tests.strict_integers,
                           all_cases=all_cases)
    raise TypeError(f"{problem.benchmark} {problem.id}: unknown test kind {type(tests).__name__}")
