"""Judging rules: is this output (or return value) the expected one?

Standard library only: the fork server runs these inside the sandbox, next to the
program, so multi-megabyte outputs never cross the channel. One place for every
rule, each with a unit test (tests/sandboxes/test_judge.py):

stdout vs expected stdout (APPS, CodeContests, RunBugRun):
  * both are split into whitespace-separated tokens, so trailing spaces, blank lines
    and a missing final newline never matter; the token counts must be equal;
  * two integer tokens are equal only as exact integers (any size: no float
    rounding of big numbers; "007" == "7");
  * otherwise, two numeric tokens are equal within 1e-6, absolute or relative
    (``1e-7`` == ``0.0000001``, ``2`` == ``2.0``, ``0.3333333`` == ``0.33333333``),
    except with ``strict_integers`` (a benchmark whose judge wants an integer where
    the answer is one, as AtCoder's does for RunBugRun): then "50.0" does not
    answer "50";
  * anything else compares as text, case-sensitively unless the benchmark says
    otherwise (``YES`` != ``yes``).

return value vs expected (APPS call-based), as the APPS grader does: tuples become
lists (recursively), and an expected value wrapped in a one-element list also
matches the bare value.
"""

import re

FLOAT_TOL = 1e-6
_INT = re.compile(r"[+-]?\d+\Z")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")


def tokens_equal(got, want, float_tol=FLOAT_TOL, case_sensitive=True, strict_integers=False):
    if got == want:
        return True
    if _INT.match(want) and (_INT.match(got) or strict_integers):
        return bool(_INT.match(got)) and _integer(got) == _integer(want)
    if _NUMBER.match(got) and _NUMBER.match(want):
        a, b = float(got), float(want)
        return abs(a - b) <= float_tol * max(1.0, abs(b))
    return not case_sensitive and got.lower() == want.lower()


def _integer(token):
    """(sign, digits) without int(): exact at any size, and free of Python's
    4300-digit conversion limit."""
    digits = token.lstrip("+-").lstrip("0") or "0"
    return ("-" if token.startswith("-") and digits != "0" else "", digits)


def compare_stdout(got, want, float_tol=FLOAT_TOL, case_sensitive=True, strict_integers=False):
    """None when ``got`` matches ``want``, else a short description of the first
    difference (for the verdict's detail)."""
    got_tokens, want_tokens = got.split(), want.split()
    for i, (g, w) in enumerate(zip(got_tokens, want_tokens, strict=False)):  # counts checked below
        if not tokens_equal(g, w, float_tol, case_sensitive, strict_integers):
            return f"token {i + 1}: expected {_clip(w)}, got {_clip(g)}"
    if len(got_tokens) != len(want_tokens):
        return f"expected {len(want_tokens)} tokens, got {len(got_tokens)}"
    return None


def _clip(token, width=40):
    return repr(token if len(token) <= width else token[:width] + "...")


def normalize(value):
    """Tuples -> lists, recursively, as the APPS grader compares results."""
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    return value


def call_result_equal(got, want):
    got, want = normalize(got), normalize(want)
    if got == want:
        return True
    return isinstance(want, list) and len(want) == 1 and got == want[0]
