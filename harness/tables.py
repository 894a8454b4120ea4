"""How commands print rows: a markdown table, CSV or JSON, with numbers written the
same way everywhere (``number``)."""

from __future__ import annotations

import json
import math


def number(v: float) -> str:
    """A table's number: 4 decimals, or 4 significant digits below 0.01, where costs
    per sample live (2.700e-05, not 0.0000)."""
    return "nan" if math.isnan(v) else (f"{v:.3e}" if 0 < abs(v) < 1e-2 else f"{v:.4f}")



def to_json(value) -> str:
    """JSON with NaN as null (JSON has no NaN: a metric undefined for a row, APGR
    without a strong/weak pair...) and numpy numbers as numbers."""
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, float) and math.isnan(v):
            return None
        return v

    return json.dumps(clean(value), indent=1, default=_plain)


def format_table(rows: list[dict], fmt: str, columns: list[str]) -> str:
    if fmt == "json":
        return to_json(rows)

    def cell(v):
        if isinstance(v, float):
            return number(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(cell(x) for x in v) + "]"
        return str(v)
    lines = [[cell(r.get(c, "")) for c in columns] for r in rows]
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        csv.writer(buf).writerows([columns, *lines])
        return buf.getvalue().rstrip("\n")
    return "\n".join(["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
                      *["| " + " | ".join(line) + " |" for line in lines]])


def _plain(v):
    return float(v) if hasattr(v, "__float__") else str(v)
