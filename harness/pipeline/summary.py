"""The end-of-run table: per dataset and model, pass@k, tokens, cost, statuses; and a
run directory's key (datasets, split, source) in words."""

from __future__ import annotations

from collections import Counter, defaultdict

from ..metrics import pass_at_k
from ..store.runstore import RunStore
from ..tables import number


def describe_key(key: dict) -> str:
    """A run's key (``runner.run_key``) in words: "humaneval+leetcode (split test, source default)"."""
    return f"{'+'.join(key['datasets'])} (split {key['split']}, source {key['source'] or 'default'})"


def refusal(stored: dict | None, key: dict) -> str | None:
    """Why a command of run key ``key`` may not go on with a store of run key ``stored``
    (None: it may). It may with the same split and source and some of the stored
    datasets: those alone are resumed or extended (the matrix keeps every stored one)."""
    if stored is None or (set(key["datasets"]) <= set(stored["datasets"])
                          and (key["split"], key["source"]) == (stored["split"], stored["source"])):
        return None
    return f"holds a run of {describe_key(stored)}, not {describe_key(key)}"


def summarize_run(store: RunStore, models: dict[str, int], problems: dict[str, set[str]]) -> dict:
    """``models``: name -> n; ``problems``: dataset -> the problems this command
    selected. Only those are summarized (an earlier run of the store with a larger
    --limit stored more: ``selection`` says how many of the stored ones are shown), and
    a sample beyond a model's n (stored by an earlier run with a larger n) is not counted."""
    stored: dict[str, set[str]] = defaultdict(set)
    rows = []
    for r in store.db.execute("SELECT dataset, model, problem, status, passed, tokens_in, tokens_out, cost, sample "
                              "FROM samples"):
        stored[r[0]].add(r[2])
        if r[1] in models and r[8] < models[r[1]] and r[2] in problems.get(r[0], ()):
            rows.append(r)
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for r in rows:
        groups[(r[0], r[1])].append(r)
    out = []
    for dataset in problems:
        for model in models:
            mine = groups.get((dataset, model), [])
            outcomes: dict[str, list[bool]] = defaultdict(list)
            for _, _, problem, status, passed, *_ in mine:
                if status not in (None, "sandbox_error"):
                    outcomes[problem].append(bool(passed))
            fewest = min((len(v) for v in outcomes.values()), default=0)
            ks = sorted({1, fewest} - {0})
            out.append({
                "dataset": dataset, "model": model, "problems": len(outcomes), "samples": len(mine),
                **{k: round(v, 4) for k, v in pass_at_k(outcomes, ks).items()},
                "tokens_in": sum(r[5] or 0 for r in mine), "tokens_out": sum(r[6] or 0 for r in mine),
                "cost_usd": float(f"{sum(r[7] or 0.0 for r in mine):.6g}"),  # a sum's float noise, not its digits
                "statuses": dict(Counter(r[3] or "not executed" for r in mine).most_common()),
            })
    selection = {d: {"summarized": len(stored[d] & ids), "stored": len(stored[d])} for d, ids in problems.items()}
    return {"run": str(store.dir), "selection": selection, "models": out}


def selection_note(summary: dict) -> str | None:
    """"summary of 5 of 20 stored problems" when the store holds more than this
    command selected (the matrix keeps them all)."""
    parts = [f"{s['summarized']} of {s['stored']} stored problems ({d})" for d, s in summary["selection"].items()
             if s["summarized"] < s["stored"]]
    if not parts:
        return None
    return f"note: summary of {', '.join(parts)}: the ones this command selected (the matrix has every stored one)"


def format_summary(summary: dict) -> str:
    """The end-of-run table as text (``--json`` prints ``summary`` itself)."""
    ks = sorted({k for m in summary["models"] for k in m if k.startswith("pass@")}, key=lambda k: int(k[5:]))
    head = ["dataset", "model", "problems", "samples", *ks, "tokens in", "tokens out", "total USD", "statuses"]
    lines = []
    for m in summary["models"]:
        lines.append([m["dataset"], m["model"], str(m["problems"]), str(m["samples"]),
                      *[f"{m[k]:.3f}" if k in m else "-" for k in ks], str(m["tokens_in"]), str(m["tokens_out"]),
                      number(m["cost_usd"]), " ".join(f"{s}={c}" for s, c in m["statuses"].items())])
    widths = [max(len(x) for x in col) for col in zip(head, *lines, strict=True)]
    fmt = lambda row: "  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths]), *map(fmt, lines)])
