"""Code out of a model's output. The ``<think>`` part of a reasoning model apart
(``split_thinking``); then, as SandboxFusion (which AdaptiveLLM used) does, the
fenced (or CodeLlama ``[PYTHON]``-tagged) block written in Python (the one that
defines the entry point when there are several), else the first fenced block, else
the completion itself (``extract_code``); and the program that code stands for
(``program_for``). The providers, the harness and the routers all use these."""

from __future__ import annotations

import re

THINK = re.compile(r"<think>(.*?)(?:</think>|\Z)", re.S)
FENCE = re.compile(r"```[ \t]*([\w+#-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
TAGS = re.compile(r"\[PYTHON\]\n?(.*?)(?:\[/PYTHON\]|\Z)", re.S)  # CodeLlama-Instruct's own markup
PYTHON = {"python", "python3", "py", ""}


def split_thinking(text: str) -> tuple[str, str]:
    """(thinking, answer) of a reasoning model's output: the ``<think>`` part apart.
    A reply that never closes its ``<think>`` is all thinking."""
    parts = THINK.findall(text)
    if not parts:
        return "", text
    return "\n".join(p.strip() for p in parts), THINK.sub("", text).strip()


def extract_code(completion: str, entry_point: str = "") -> str:
    blocks = [(lang.lower(), body) for lang, body in FENCE.findall(completion)]
    blocks += [("python", body) for body in TAGS.findall(completion)]
    if not blocks:
        return completion
    python = [body for lang, body in blocks if lang in PYTHON] or [body for _, body in blocks]
    name = entry_point.split(".")[-1] if entry_point else ""
    if name:
        defining = [b for b in python if defines(b, name)]
        if defining:
            return defining[0]
    return python[0]


def defines(code: str, name: str) -> bool:
    return bool(re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(|^\s*class\s+{re.escape(name)}\b",
                          code, re.M))


def program_for(bench, problem, completion: str, code: str | None = None) -> tuple[str, str]:
    """(extracted code, program to run) for a model's output. ``code``: the source
    gave code already (an evalplus ``solution``). A completion that does not define the
    entry point and is not fenced continues the prompt (completion-style models)."""
    if code is not None:
        return code, bench.program(problem, solution=code)
    extracted = extract_code(completion, problem.entry_point)
    name = problem.entry_point.split(".")[-1] if problem.entry_point else ""
    if name and extracted is completion and not defines(completion, name) \
            and bench.program(problem, completion="") != bench.program(problem, solution=""):
        return completion, bench.program(problem, completion=completion)
    return extracted, bench.program(problem, solution=extracted)
