"""Code out of a model's output. The ``<think>`` part of a reasoning model apart
(``split_thinking``); then, as SandboxFusion (which AdaptiveLLM used) does, the
fenced (or CodeLlama ``[PYTHON]``-tagged) block written in Python (tagged so before
untagged; the one that defines the entry point when there are several), else the
first fenced block, else the completion itself; when that is not a program defining the entry point, the
largest region of the answer that is (``extract_recover``); without the model's own
top-level tests (``extract_tests``) (``extract_code``, docs/extraction.md); and the
program that code stands for (``program_for``). The providers, the harness and the
routers all use these.

``EXTRACTOR_VERSION`` changes whenever the extraction rules change, so that a stored
program says which rules made it: "1" = the fenced-block rules alone (up to commit
f8df397), "2" = with the syntactic recovery, stray closing fences and tests dropped."""

from __future__ import annotations

import re
import textwrap

from .extract_recover import compile_error, defines, recover
from .extract_tests import strip_tests

EXTRACTOR_VERSION = "2"

THINK = re.compile(r"<think>(.*?)(?:</think>|\Z)", re.S)
LANG = re.compile(r"[ \t]*([\w+#-]*)")  # a fence's language: what follows its ``` on the line
STRAY = re.compile(r"^[ \t]*```[ \t]*$", re.M)  # a bare fence line: opens an untagged block, or closes one
TAGS = re.compile(r"\[PYTHON\]\n?(.*?)(?:\[/PYTHON\]|\Z)", re.S)  # CodeLlama-Instruct's own markup
PYTHON = {"python", "python3", "py"}


def split_thinking(text: str) -> tuple[str, str]:
    """(thinking, answer) of a reasoning model's output: the ``<think>`` part apart.
    A reply that never closes its ``<think>`` is all thinking."""
    parts = THINK.findall(text)
    if not parts:
        return "", text
    return "\n".join(p.strip() for p in parts), THINK.sub("", text).strip()


def extract_code(completion: str, entry_point: str = "") -> str:
    """The code of a model's answer (its ``<think>`` part dropped). SandboxFusion's rule
    first: the Python (tagged, else untagged) fenced / ``[PYTHON]`` block, the one
    defining the entry point when there are several (``pick_block``), else the first
    block, else the whole answer.
    When that is blank, does not compile or does not define the entry point, the
    largest region of the answer that compiles and defines it (``extract_recover``), if
    any. With an entry point, the model's own top-level tests go (``extract_tests``)."""
    text = split_thinking(completion)[1] if "<think>" in completion else completion
    name = entry_name(entry_point)
    blocks = fenced_blocks(text)
    chosen = pick_block(blocks, name) if blocks else text
    code = chosen if sound(chosen, name) else recover(text, name)
    if code is None:
        return chosen
    return strip_tests(code, name) if name else code


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced block, then of each ``[PYTHON]`` one. A fence is
    ``` anywhere, the rest of its line the language; the body runs to the next ``` or
    the end. Scanned with ``str.find``: the regex it replaces (v1's) was quadratic on a
    reply of backticks without a newline."""
    blocks, pos = [], 0
    while (start := text.find("```", pos)) != -1 and (eol := text.find("\n", start + 3)) != -1:
        end = text.find("```", eol + 1)
        body = text[eol + 1:end if end != -1 else None]
        indent = text[text.rfind("\n", 0, start) + 1:start]
        if indent and not indent.strip(" \t"):
            body = textwrap.dedent(body)  # a block indented under a markdown list item, fences and all
        blocks.append((LANG.match(text, start + 3, eol).group(1).lower(), body))
        if end == -1:
            break
        pos = end + 3
    return blocks + [("python", body) for body in TAGS.findall(text)]


def pick_block(blocks: list[tuple[str, str]], name: str) -> str:
    """The first block defining ``name`` among those tagged Python, else among the
    untagged, else among all; else the first of the first of these that has any. An
    untagged block may be a sample input or output (``5``) next to the program."""
    tiers = [[b for lang, b in blocks if lang in PYTHON], [b for lang, b in blocks if lang == ""],
             [b for _, b in blocks]]
    if name:
        for tier in tiers:
            if found := next((b for b in tier if defines(b, name)), None):
                return found
    return next(tier[0] for tier in tiers if tier)


def entry_name(entry_point: str) -> str:
    """The name a program must define: ``Solution().twoSum`` -> ``twoSum``."""
    return entry_point.split(".")[-1] if entry_point else ""


def sound(code: str, name: str) -> bool:
    """Code that runs as it is: not blank, compiling, defining ``name`` if given."""
    return bool(code.strip()) and (not name or defines(code, name)) and compile_error(code) is None


def program_for(bench, problem, completion: str, code: str | None = None) -> tuple[str, str]:
    """(extracted code, program to run) for a model's output. ``code``: the source
    gave code already (an evalplus ``solution``). A completion that does not define the
    entry point and is not fenced continues the prompt (completion-style models); so
    does the part before a stray closing fence when the prompt followed by it parses.
    A continuation loses the model's own top-level tests as fenced code does; the
    prompt keeps its code."""
    if code is not None:
        return code, bench.program(problem, solution=code)
    extracted = extract_code(completion, problem.entry_point)
    name = entry_name(problem.entry_point)
    if name and not defines(extracted, name) \
            and bench.program(problem, completion="") != bench.program(problem, solution=""):
        head = unfenced_head(completion)
        if head is completion or (head and head.strip() and sound(bench.program(problem, completion=head), "")):
            return continued(bench, problem, head, name)
    return extracted, bench.program(problem, solution=extracted)


def unfenced_head(completion: str) -> str | None:
    """The completion without fences, or what precedes its first fence when that one
    is bare (a closing fence without an opening one), or None."""
    if "```" not in completion and "[PYTHON]" not in completion:
        return completion
    fence = STRAY.search(completion)
    if fence is None or "[PYTHON]" in completion[:fence.start()] or "```" in completion[:fence.start()]:
        return None
    return completion[:fence.start()]


def continued(bench, problem, head: str, name: str) -> tuple[str, str]:
    """(completion, program) for a completion that continues the prompt, without the
    model's own tests: only top-level statements starting after the prompt's lines go."""
    prefix, program = bench.program(problem, completion=""), bench.program(problem, completion=head)
    if not program.startswith(prefix):
        return head, program
    stripped = strip_tests(program, name, after=prefix.count("\n") + (not prefix.endswith("\n") and bool(prefix)))
    return stripped[len(prefix):], stripped
