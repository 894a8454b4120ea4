"""Parse data fields stored as JSON or as Python literals (several mirrors store
``repr`` strings)."""

from __future__ import annotations

import ast
import json


def parse_literal(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return ast.literal_eval(text)
