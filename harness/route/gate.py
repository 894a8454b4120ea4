"""``python -m harness gate --baseline FILE``: recompute routers' metrics on a fixed
split and fail (exit 1) when one got worse than its baseline by more than its
tolerance. Baseline file (JSON)::

    {"data": "adaptivellm", "train": "train", "test": "test",
     "routers": {"cot-length": {"params": {}, "metrics": {"quality": {"value": 0.4157, "tolerance": 0.005}, ...}}}}

``"cv": K`` (and optionally ``"seed": N``, default 0) instead of ``train``/``test``:
the metrics of K-fold cross-validation over all problems (``route compare --cv K``).
Higher is better for quality and closed_gap; lower for cost_per_problem and
normalized_cost."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from ..errors import UserError

HIGHER_IS_BETTER = {"quality": True, "closed_gap": True, "cost_per_problem": False, "normalized_cost": False}


def load_baseline(path: str) -> dict:
    try:
        spec = json.loads(Path(path).read_text())
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise UserError(f"{path}: not JSON ({exc})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("routers"), dict) or not spec["routers"]:
        raise UserError(f"{path}: needs a non-empty 'routers' mapping")
    for key, least in (("cv", 2), ("seed", 0)):
        if key in spec and (not isinstance(spec[key], int) or isinstance(spec[key], bool) or spec[key] < least):
            raise UserError(f"{path}: '{key}' must be an integer >= {least}, got {spec[key]!r}")
    if "cv" in spec and ({"train", "test"} & set(spec)):
        raise UserError(f"{path}: 'cv' scores every problem out of fold: drop 'train' / 'test'")
    for name, entry in spec["routers"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("params", {}), dict):
            raise UserError(f"{path}: routers.{name}: needs a mapping with 'metrics' and optional 'params' mapping")
        metrics = entry.get("metrics")
        if not isinstance(metrics, dict) or not metrics:
            raise UserError(f"{path}: routers.{name}: needs a 'metrics' mapping")
        for metric, m in metrics.items():
            if metric not in HIGHER_IS_BETTER:
                raise UserError(f"{path}: routers.{name}.metrics.{metric}: unknown metric; choose from "
                                f"{', '.join(HIGHER_IS_BETTER)}")
            if not isinstance(m, dict) or not all(isinstance(m.get(k), (int, float)) and not isinstance(m.get(k), bool)
                                                  for k in ("value", "tolerance")):
                raise UserError(f"{path}: routers.{name}.metrics.{metric}: needs numeric 'value' and 'tolerance'")
            if m["tolerance"] < 0:
                raise UserError(f"{path}: routers.{name}.metrics.{metric}: 'tolerance' must be >= 0, "
                                f"got {m['tolerance']}")
    return spec


def gate(path: str) -> tuple[list[dict], bool]:
    from . import experiments

    spec = load_baseline(path)
    # Every router is built (its parameters checked) before the first one trains; each
    # training gets a fresh one (K of them with "cv").
    for name, entry in spec["routers"].items():
        try:
            experiments.build_router(name, entry.get("params", {}))
        except UserError as exc:
            raise UserError(f"{path}: routers.{name}: {exc}") from None
    data = experiments.load_data(spec.get("data", "adaptivellm"))
    rows, ok = [], True
    for name, entry in spec["routers"].items():
        make = functools.partial(experiments.build_router, name, entry.get("params", {}))
        (now,) = experiments.score(name, make, data, spec.get("train", "train"), spec.get("test", "test"),
                               cv=spec.get("cv"), seed=spec.get("seed", 0))
        for metric, m in entry["metrics"].items():
            delta = now[metric] - m["value"]
            worse = -delta if HIGHER_IS_BETTER[metric] else delta
            passed = worse <= m["tolerance"]
            ok &= passed
            rows.append({"router": name, "metric": metric, "baseline": m["value"], "now": now[metric],
                         "delta": delta, "tolerance": m["tolerance"], "status": "ok" if passed else "WORSE"})
    return rows, ok
