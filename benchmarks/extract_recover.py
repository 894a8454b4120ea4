"""Syntactic recovery of the code in a model's answer when the fenced-block rule gives
no program (``extract_code``): prose around unfenced code, a closing fence without an
opening one, doctest ``>>>`` lines or prose between the pieces of a block.

The answer is cut at its fence and ``[PYTHON]`` tag lines, then into top-level units:
a line at column 0 with the indented, blank and comment lines after it (and the
``else:`` / ``except:`` / closing-bracket lines that continue it, the function under a
decorator). A unit that does not compile because a bracket, a triple-quoted string or
a block is still open is merged with the next ones; one that fails further down
(prose indented under a function) is cut at the blank line before the failing
paragraph. Consecutive units that compile make a region; a region does not start or
end with a bare name or constant (a prose word, a doctest's expected output). The code
is the largest region (non-blank lines) that defines the entry point, or, without an
entry point, the largest one.

evalplus's ``sanitize`` looks for the same kind of region by parsing every pair of
lines (cubic in the answer's length). Here units that compile are checked in windows
that double while they compile (a syntax error's line tells where the good prefix
ends), a line that starts with two words is prose without compiling it, and merges,
cuts and compilations share a budget proportional to the answer: a 1 MB answer costs
a few compilations of 1 MB, never a quadratic number."""

from __future__ import annotations

import ast
import keyword
import re
import warnings
from bisect import bisect_right
from collections.abc import Iterator
from functools import lru_cache

SEPARATOR = re.compile(r"[ \t]*(```|\[/?PYTHON\])")
CONTINUES = re.compile(r"[ \t#)\]}]|(?:else|elif|except|finally)\b|\r?$")  # a line that extends the unit above
# Two words at the start of a line never compile unless the first is a keyword.
WORDS = re.compile(r"([A-Za-z_]\w*) +[A-Za-z_]")
KEYWORDS = frozenset(keyword.kwlist + keyword.softkwlist)
INCOMPLETE = ("was never closed", "unterminated triple-quoted", "unexpected EOF", "expected an indented block")
MAX_MERGE = 64  # units one statement may span (a docstring whose lines start at column 0)
MAX_CUTS = 4
MAX_WIDTH = 256  # units compiled at once: a window that fails is compiled again up to its error
MAX_TRIM = 64  # bare names and constants trimmed off a region's end; more make no program anyway


class Exhausted(Exception):
    """The answer's compilation budget is spent: the regions found so far are all."""


class Budget:
    """Compilations and characters compiled that one answer may cost."""

    def __init__(self, size: int) -> None:
        self.calls, self.chars = 10_000, 2 * size + 100_000

    def compile(self, lines: list[str], start: int, end: int) -> SyntaxError | None:
        if (m := WORDS.match(lines[start])) and m.group(1) not in KEYWORDS:
            return SyntaxError("prose", ("", 1, 1, "", 1, 1))
        code = "\n".join(lines[start:end])
        self.calls -= 1
        self.chars -= len(code)
        if self.calls < 0 or self.chars < 0:
            raise Exhausted
        return compile_error(code)


@lru_cache(maxsize=4)  # recovery's first window is often the answer that just failed whole
def compile_error(code: str) -> SyntaxError | None:
    """Why ``code`` does not compile, or None. Compiling (not only parsing) also
    rejects what would fail before the first line runs (``return`` outside a function)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like: the program's concern
            compile(code, "<answer>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return exc
    except ValueError as exc:  # a NUL byte
        return SyntaxError(str(exc), ("", 1, 1, "", 1, 1))
    return None


def defines(code: str, name: str) -> bool:
    return bool(re.search(rf"^[ \t]*(?:async\s+)?def\s+{re.escape(name)}\s*\(|^[ \t]*class\s+{re.escape(name)}\b",
                          code, re.M))


def recover(text: str, name: str) -> str | None:
    """The largest region of ``text`` that compiles and defines ``name`` (any region
    when ``name`` is empty), or None."""
    lines = text.split("\n")
    best, best_size = None, 0
    for start, end in regions(lines, Budget(len(text))):
        code = "\n".join(lines[start:end]).rstrip()
        size = sum(1 for line in lines[start:end] if line.strip())
        if size > best_size and (not name or defines(code, name)):
            best, best_size = code, size
    return best


def regions(lines: list[str], budget: Budget) -> list[tuple[int, int]]:
    """[start, end) of each run of consecutive units that compile, without the bare
    names and constants at its ends."""
    out: list[tuple[int, int]] = []
    run: list[tuple[int, int]] = []

    def close() -> None:
        first, last = 0, len(run)
        while first < min(last, MAX_TRIM) and trivial(lines, *run[first]):
            first += 1
        while last > max(first, len(run) - MAX_TRIM) and trivial(lines, *run[last - 1]):
            last -= 1
        if first < last:
            out.append((run[first][0], run[last - 1][1]))
        run.clear()

    try:
        for start, end, ok in units(lines, budget):
            if ok:
                run.append((start, end))
            else:
                close()
    except Exhausted:
        pass
    close()
    return out


def trivial(lines: list[str], start: int, end: int) -> bool:
    """A unit that is no code: a bare name or constant (a prose word, a doctest's
    output), an annotation without a value (``Note: this``), or only comments."""
    if end - start > 3:  # a few lines at most; longer units are code
        return False
    try:
        body = ast.parse("\n".join(lines[start:end])).body
    except SyntaxError:
        return False
    return all(isinstance(s, ast.Expr) and isinstance(s.value, (ast.Name, ast.Constant, ast.List, ast.Tuple))
               or isinstance(s, ast.AnnAssign) and s.value is None for s in body)


def unit_spans(lines: list[str]) -> Iterator[list[tuple[int, int]]]:
    """The units of each stretch between separator lines, as [start, end) spans."""
    spans: list[tuple[int, int]] = []
    start, decorated = None, False
    for i, line in enumerate(lines):
        if SEPARATOR.match(line):
            if start is not None:
                spans.append((start, i))
            yield spans
            spans, start, decorated = [], None, False
        elif not CONTINUES.match(line) and not decorated:  # a decorator's function is one unit with it
            if start is not None:
                spans.append((start, i))
            start = i
        if line.strip() and not line.startswith("#"):
            decorated = line.startswith("@")
    if start is not None:
        spans.append((start, len(lines)))
    yield spans


def units(lines: list[str], budget: Budget) -> Iterator[tuple[int, int, bool]]:
    """(start, end, compiles) of each unit, or of units merged into one statement; a
    separator counts as a unit that does not compile."""
    for spans in unit_spans(lines):
        starts = [s for s, _ in spans]
        k, width = 0, 1
        while k < len(spans):
            j = min(len(spans), k + width) - 1
            start = spans[k][0]
            err = budget.compile(lines, start, spans[j][1])
            if err is None:  # the window compiles: try a wider one next
                yield from ((s, e, True) for s, e in spans[k:j + 1])
                k, width = j + 1, min(2 * width, MAX_WIDTH)
                continue
            width = 1
            if j > k:  # the units before the failing one may compile together
                u = bisect_right(starts, start + (err.lineno or 1) - 1) - 1
                if k < u <= j and budget.compile(lines, start, spans[u - 1][1]) is None:
                    yield from ((s, e, True) for s, e in spans[k:u])
                    k = u
                continue
            entries, k = alone(lines, spans, k, err, budget)
            yield from entries
        yield len(lines), len(lines), False


def alone(lines: list[str], spans: list[tuple[int, int]], k: int, err: SyntaxError,
          budget: Budget) -> tuple[list[tuple[int, int, bool]], int]:
    """Unit ``k``, which does not compile by itself: merged with the next units while
    its statement is unfinished, else cut; and the index of the unit to look at next."""
    start, j = spans[k][0], k
    while any(m in err.msg for m in INCOMPLETE) and j + 1 < len(spans) and j - k < MAX_MERGE:
        j += 1
        err = budget.compile(lines, start, spans[j][1])
        if err is None:
            return [(start, spans[j][1], True)], j + 1
    return cut(lines, start, spans[j][1], err, budget), k + 1


def cut(lines: list[str], start: int, end: int, err: SyntaxError,
        budget: Budget) -> list[tuple[int, int, bool]]:
    """The paragraphs before the one with the syntax error, if they compile (prose
    indented under code), then the failed rest. Only at a blank line: a function cut
    inside a paragraph would be broken code passed off as valid."""
    for _ in range(MAX_CUTS):
        stop = start + (err.lineno or 1) - 1
        while start < stop < end and lines[stop - 1].strip():
            stop -= 1
        if not start < stop < end:
            break
        err = budget.compile(lines, start, stop)
        if err is None:
            return [(start, stop, True), (stop, end, False)]
        end = stop
    return [(start, end, False)]
