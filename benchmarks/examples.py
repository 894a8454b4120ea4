"""The examples a problem statement shows, parsed into public tests. Every benchmark
whose prompt shows examples reads them here:

* ``call_examples``: a function's docstring examples, in every form the prompts use:
  doctests (``>>> f(x)`` then the value, over several lines too; ``>>> f(x) == y``),
  ``f(x) == y``, ``f(x) ➞ y``, ``f(x) => y``, ``f(x) # returns y``, ``f(x) should return
  y.``, ``For x = 1, y = 2 the output should be z`` and ``Input: ... / Output: ...``
  blocks (HumanEval);
* ``keyword_examples``: ``Input: nums = [1,2], k = 2`` / ``Output: 3`` pairs (LeetCode);
* ``io_examples``: a contest statement's sample ``Input`` / ``Output`` blocks after its
  ``Example(s)`` heading (CodeContests).

An example is kept only when its arguments and its expected value are literals; an
example whose reference solution disagrees is the statement's error, and each
benchmark names those (``wrong``) so that they stay out of its public tests."""

from __future__ import annotations

import ast
import html
import re
from dataclasses import dataclass

from .records import AssertTests

JSON_WORDS = {"true": True, "false": False, "null": None}
# Where a literal may end inside prose: "True.", "'No' (the name ...)", "24 # sum of".
SOFT_END = " \t.,;:#("
# What separates a call from its value in a prose example (``f(x)  # returns "db1db"``).
SEPARATOR = re.compile(r"\s*(?:#\s*)?(==>|=>|->|➞|==|=|returns|should return|)\s*")
ARROWS = ("==>", "=>", "->", "➞")  # forms that are never a definition ("tri(n) = ...")
PREFIX = re.compile(r"^(?:>>>|\*|-|assert\b|for\b|\s)*")
FOR_FORM = re.compile(r"^\W*For (.+?),?\s+the (?:output|result) should be\s+(.+)$")
INPUT = re.compile(r"^\W*Input\W*?:\s*(.*?)\s*$")
OUTPUT = re.compile(r"^\W*Output\W*?:\s*(.*?)\s*$")
MARKDOWN_HEADING = re.compile(r"#{1,6} [A-Z][a-z]")
MAX_CALL_LINES = 12  # a call written over several lines (HumanEval/87's grid)


@dataclass(frozen=True)
class Example:
    """``call`` (source of an expression) should equal ``expected`` (a literal)."""

    call: str
    expected: object

    @property
    def text(self) -> str:
        """How the example is named (in a benchmark's list of wrong ones)."""
        return f"{self.call} == {self.expected!r}"

    @property
    def check(self) -> str:
        # A float is compared as HumanEval's own tests compare them: with a tolerance.
        if isinstance(self.expected, float):
            return f"abs({self.call} - {self.expected!r}) <= 1e-06"
        return f"{self.call} == {self.expected!r}"


def assert_tests(examples: list[Example], wrong: tuple[str, ...] = ()) -> AssertTests | None:
    """The examples as asserts, once each, without the ``wrong`` ones (their ``text``)."""
    checks = list(dict.fromkeys(e.check for e in examples if e.text not in wrong))
    return AssertTests("".join(f"assert {c}\n" for c in checks)) if checks else None


def _literal(node: ast.expr, words: bool = False):
    """A literal's value; JSON's true/false/null are Python's, and with ``words`` any
    other bare word is a string (``is_happy(a) => False``)."""
    class Words(ast.NodeTransformer):
        def visit_Name(self, name):
            if name.id in JSON_WORDS:
                return ast.Constant(JSON_WORDS[name.id])
            return ast.Constant(name.id) if words else name

    return ast.literal_eval(Words().visit(node))


def value_of(text: str):
    """The literal ``text`` is; ValueError if it is none."""
    try:
        return _literal(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise ValueError(text) from None


def _leading_literal(text: str):
    """The longest literal ``text`` starts with, followed by prose or nothing."""
    for end in sorted({i for i, ch in enumerate(text) if ch in SOFT_END} | {len(text)}, reverse=True):
        try:
            return value_of(text[:end])
        except ValueError:
            continue
    raise ValueError(text)


def _expected_value(rest: str):
    """The value a prose example gives: all of ``rest``, or its last ``= v`` (``19 - 5 -
    6 = 8``), or the literal it starts with (``100 = points from one 1``)."""
    for whole in (rest, rest.rpartition("=")[2]):
        try:
            return value_of(whole.rstrip(" ."))
        except ValueError:
            continue
    return _leading_literal(rest)


def call_examples(text: str, fn: str) -> list[Example]:
    """The examples of calls to ``fn`` that ``text`` (a prompt) shows. A docstring may
    call the function by another name (HumanEval/81's ``grade_equation``): a call to
    a name the prompt does not define is taken as one to ``fn``."""
    lines = text.splitlines()
    defined = set(re.findall(r"^\s*def (\w+)", text, re.M)) - {fn}
    out = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        example = _doctest(lines, i) if stripped.startswith(">>>") else None
        example = example or _inline(lines, i, fn, defined) or _for_form(stripped, fn)
        if example is not None:
            out.append(example)
    return out + [e for e in _input_output(text, fn) if e not in out]


def _doctest(lines: list[str], i: int) -> Example | None:
    """``>>> expr`` (``... `` continues it) then its value, up to a blank line."""
    source = [lines[i].strip()[4:]]
    j = i + 1
    while j < len(lines) and lines[j].strip().startswith("..."):
        source.append(lines[j].strip()[4:])
        j += 1
    want = []
    while j < len(lines) and (s := lines[j].strip()) and not s.startswith(">>>") and '"""' not in s \
            and "'''" not in s:
        want.append(s)
        j += 1
    try:
        expr = ast.parse("\n".join(source).strip(), mode="eval").body
        call = ast.unparse(expr) if isinstance(expr, (ast.Call, ast.Name, ast.Attribute, ast.Subscript)) \
            else f"({ast.unparse(expr)})"  # ``a or b`` must stay one operand of the ==
        return Example(call, value_of(" ".join(want))) if want else None
    except (SyntaxError, ValueError):
        return None


def _inline(lines: list[str], i: int, fn: str, defined: set[str]) -> Example | None:
    """``name(args) <separator> value`` on one line, or a call spread over a few."""
    head = PREFIX.sub("", lines[i].strip())
    name = re.match(r"(\w+)\(", head)
    if name is None or name[1] in defined:
        return None
    text, found = head, _call(head, name[1])
    for extra in lines[i + 1:i + MAX_CALL_LINES]:
        if found is not None:
            break
        text += " " + extra.strip()
        found = _call(text, name[1])
    if found is None:
        return None
    node, rest = found
    sep = SEPARATOR.match(rest)
    try:
        args = [_literal(a, words=sep[1] in ARROWS) for a in node.args]
        return Example(_source(fn, args), _expected_value(rest[sep.end():]))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _call(text: str, fn: str) -> tuple[ast.Call, str] | None:
    """The shortest ``fn(...)`` call ``text`` starts with, and the text after it."""
    for end in (i + 1 for i, ch in enumerate(text) if ch == ")"):
        try:
            node = ast.parse(text[:end], mode="eval").body
        except SyntaxError:
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == fn \
                and not node.keywords:
            return node, text[end:]
    return None


def _for_form(line: str, fn: str) -> Example | None:
    """``For lst = [1,2,3] the output should be 14`` (the arguments in their order)."""
    m = FOR_FORM.match(line)
    if m is None:
        return None
    args = _arguments(m[1])
    try:
        return Example(_source(fn, [v for _, v in args]), _leading_literal(m[2])) if args else None
    except ValueError:
        return None


def _input_output(text: str, fn: str) -> list[Example]:
    """``Input: arr = [1], k = 1`` (or one ``name : value`` per line) / ``Output: [1]``."""
    out = []
    for given, shown in _input_output_blocks(text):
        args = _arguments(re.sub(r"^(\w+)\s*:", r"\1 =", given, flags=re.M).replace("\n", ", "), whole=True)
        try:
            if args is not None:
                out.append(Example(_source(fn, [v for _, v in args]), _leading_literal(shown)))
        except ValueError:
            continue
    return out


def keyword_examples(text: str) -> list[tuple[dict, str]]:
    """(arguments by name, the ``Output`` text) of each ``Input: a = 1, b = 2`` example."""
    out = []
    for given, shown in _input_output_blocks(text):
        args = _arguments(given.replace("\n", " ").strip("`* "), whole=True)
        if args and all(name for name, _ in args):
            out.append((dict(args), shown))
    return out


def _input_output_blocks(text: str) -> list[tuple[str, str]]:
    """(what follows ``Input:``, up to ``Output:``; the ``Output:`` line's value, or the
    next line's) for each example so written."""
    lines, out = text.splitlines(), []
    for i, line in enumerate(lines):
        m = INPUT.match(line)
        if m is None:
            continue
        given = [m[1]] if m[1] else []
        for j in range(i + 1, len(lines)):
            if (o := OUTPUT.match(lines[j])) is not None:
                shown = o[1] or next((s.strip() for s in lines[j + 1:j + 3] if s.strip()), "")
                out.append(("\n".join(given), shown.strip("`* ")))
                break
            if INPUT.match(lines[j]) or not lines[j].strip() and given:
                break
            if lines[j].strip():
                given.append(lines[j].strip())
    return out


def _arguments(text: str, whole: bool = False) -> list[tuple[str, object]] | None:
    """``x = 1, y = [2]`` or ``1, [2]`` as (name or "", value) pairs: the whole text or,
    unless ``whole``, the longest part up to a comma that is such a list."""
    ends = [len(text)] if whole else sorted({i for i, ch in enumerate(text) if ch == ","} | {len(text)},
                                            reverse=True)
    for end in ends:
        try:
            call = ast.parse(f"f({text[:end]})", mode="eval").body
            if isinstance(call, ast.Call):
                return [("", _literal(a)) for a in call.args] + [(k.arg, _literal(k.value)) for k in call.keywords]
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            continue
    return None


def _source(fn: str, args: list) -> str:
    return f"{fn}({', '.join(map(repr, args))})"


def io_examples(text: str) -> list[tuple[str, str]]:
    """(stdin, stdout) of each sample after the statement's ``Example(s)`` heading:
    ``Input`` and ``Output`` lines open the blocks, ``Note`` ends them. An ``Input``
    without its ``Output`` is left out."""
    lines = text.splitlines()
    start = next((i for i, s in enumerate(lines) if s.strip() in ("Example", "Examples")), None)
    if start is None:
        return []
    blocks: list[tuple[str, list[str]]] = []
    for line in lines[start + 1:]:
        head = line.strip().rstrip(":")
        if head in ("Note", "Notes", "Explanation") and (not blocks or blocks[-1][0] == "Output"):
            break  # inside an Input block it is the input (633_C's words include "Note")
        if MARKDOWN_HEADING.match(line):
            break  # a section appended to the statement (690_C1's "## Source")
        if head in ("Input", "Output"):
            blocks.append((head, []))
        elif blocks:
            blocks[-1][1].append(line)
    pairs = [(blocks[i][1], blocks[i + 1][1]) for i in range(len(blocks) - 1)
             if blocks[i][0] == "Input" and blocks[i + 1][0] == "Output"]
    # The statements are HTML-escaped ("&lt;"); what a program reads and prints is not.
    return [tuple(html.unescape("\n".join(b).strip("\n")) + "\n" for b in pair) for pair in pairs]
