"""The model's own tests out of the code it wrote for a function (``extract_code``,
when there is an entry point): top-level ``assert``s, ``print(...)`` calls, calls of the
entry point or of a function made only of tests (``check_solution()``),
``doctest.testmod()`` / ``unittest.main()``, ``if __name__ == "__main__":`` blocks, and
loops or ``if``s made only of those. The benchmark's tests check the
function, not them; a wrong expectation or a crash in them (``s[-1]`` on an example of
its own) fails a correct function. evalplus's ``sanitize`` drops every top-level
statement but imports, definitions and assignments; this drops only tests, so set-up
such as ``sys.setrecursionlimit(...)`` stays. Programs for stdin/stdout problems (no
entry point) are left whole."""

from __future__ import annotations

import ast
import re

# A line that may start a test: no parse for code without one (most code).
MAYBE = re.compile(r"^(?:(?:assert|if|for|while)\b|[A-Za-z_][\w.]*\s*\()", re.M)


def strip_tests(code: str, name: str, after: int = 0) -> str:
    """``code`` without its top-level tests (see the module's doc) starting after line
    ``after`` (a prompt that the code continues keeps its own), or as it is."""
    if not MAYBE.search(code):
        return code
    try:
        body = ast.parse(code).body
    except (SyntaxError, ValueError):
        return code
    checkers = {s.name for s in body if isinstance(s, ast.FunctionDef)
                and all(is_test(b, name) for b in s.body if not is_docstring(b))}
    tests = [s for s in body if s.lineno > after and is_test(s, name, checkers)]
    if not tests:
        return code
    kept = {i for s in body if s not in tests for i in range(first_line(s), s.end_lineno + 1)}
    gone = {i for s in tests for i in range(s.lineno, s.end_lineno + 1)} - kept  # a line shared via ';' stays
    lines = [(i, line) for i, line in enumerate(code.split("\n"), 1) if i not in gone]
    last = max(kept, default=0)
    while lines and lines[-1][0] > last and (not lines[-1][1].strip() or lines[-1][1].lstrip().startswith("#")):
        lines.pop()  # comments after the code: the tests' heading ("# Test cases")
    return "\n".join(line for _, line in lines) + ("\n" if code.endswith("\n") else "")


def first_line(s: ast.stmt) -> int:
    return min([s.lineno, *(d.lineno for d in getattr(s, "decorator_list", ()))])


def is_docstring(s: ast.stmt) -> bool:
    return isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str)


def is_test(s: ast.stmt, name: str, checkers: set[str] = frozenset()) -> bool:
    if isinstance(s, ast.Assert):
        return True
    if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
        func = s.value.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return called in ("print", name, "testmod", *checkers) or ast.unparse(func) == "unittest.main"
    if isinstance(s, ast.If) and main_guard(s.test):
        return True
    if isinstance(s, (ast.If, ast.For, ast.While)):
        return all(is_test(b, name, checkers) for b in s.body + s.orelse)
    return False


def main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    return {ast.unparse(test.left), ast.unparse(test.comparators[0])} == {"__name__", "'__main__'"}
