"""Code out of a model's completion, as SandboxFusion (which AdaptiveLLM used) does:
the fenced (or CodeLlama ``[PYTHON]``-tagged) block written in Python (the one that
defines the entry point when there are several), else the first fenced block, else
the completion itself."""

from __future__ import annotations

import re

FENCE = re.compile(r"```[ \t]*([\w+#-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
TAGS = re.compile(r"\[PYTHON\]\n?(.*?)(?:\[/PYTHON\]|\Z)", re.S)  # CodeLlama-Instruct's own markup
PYTHON = {"python", "python3", "py", ""}


def extract_code(completion: str, entry_point: str = "") -> str:
    blocks = [(lang.lower(), body) for lang, body in FENCE.findall(completion)]
    blocks += [("python", body) for body in TAGS.findall(completion)]
    if not blocks:
        return completion
    python = [body for lang, body in blocks if lang in PYTHON] or [body for _, body in blocks]
    name = entry_point.split(".")[-1] if entry_point else ""
    if name:
        defining = [b for b in python if re.search(rf"\bdef\s+{re.escape(name)}\s*\(", b)]
        if defining:
            return defining[0]
    return python[0]
