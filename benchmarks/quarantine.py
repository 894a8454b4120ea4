"""Problems excluded from validation by default, each with the reason
(``data/quarantine.jsonl``): they need a checker (several valid answers) or their
reference is broken. Never silently scored: the list is committed and reviewed."""

from __future__ import annotations

import json

from .base import DATA

QUARANTINE = DATA / "quarantine.jsonl"


def quarantine_rows() -> list[dict]:
    with QUARANTINE.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def quarantined(benchmark: str) -> dict[str, str]:
    """Problem id -> reason, for one benchmark."""
    return {r["id"]: r["reason"] for r in quarantine_rows() if r["benchmark"] == benchmark}
