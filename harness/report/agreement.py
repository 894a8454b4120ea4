"""Our verdicts against the verdicts a replayed source recorded (AdaptiveLLM's
``results``, RouterBench's 0/1 scores): agreement per dataset and model, and every
disagreement with its cause."""

from __future__ import annotations

import re
from collections import Counter
from contextlib import closing
from pathlib import Path

from benchmarks import problem_key

from ..errors import UserError
from ..store.runstore import connect_readonly

# Names a completion may use without importing them when its harness supplies them
# (SandboxFusion prepends these imports; ours, like the benchmarks', does not).
PRELUDE_NAMES = {"List", "Dict", "Tuple", "Optional", "Set", "Any", "Union", "math", "re", "collections", "heapq",
                 "itertools", "functools", "bisect", "string", "sys", "deque", "defaultdict", "Counter", "reduce",
                 "sqrt", "inf", "lru_cache", "cache", "accumulate", "permutations", "combinations", "gcd"}
NAME_ERROR = re.compile(r"NameError: name '(\w+)' is not defined")
# The test statement an error was raised at, as the sandbox reports it ("at tests.py line 2: assert f(1) == 2")
TEST_LINE = re.compile(r"tests\.py line \d+: ([^;\n]*)")
CALLED = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*\(")  # f( but not obj.f(
DEFINED = re.compile(r"^(?:async\s+)?(?:def|class)\s+(\w+)", re.MULTILINE)
ALIASED = re.compile(r"^(\w+)\s*=\s*[A-Za-z_]\w*\s*$", re.MULTILINE)  # f = g: another name for a function


def cause(dataset: str, ours: bool, status: str, detail: str, code: str | None = None) -> str:
    """Why the two verdicts differ, from what our execution saw (``code``: the program
    extracted from the response; None: not known)."""
    if dataset == "leetcode":
        return "different tests (LeetCodeDataset here, LeetCodeSample for the authors)"
    if ours:
        return "passes the benchmark's tests here (authors' verdict or harness differs)"
    if status == "timeout":
        return "timeout here (slow or flaky)"
    if status == "syntax_error":
        if code is not None and not DEFINED.search(code):
            return "no Python function in the response (prose, or code in another language)"
        return "extraction (the extracted code is not valid Python)"
    name = NAME_ERROR.search(detail or "")
    if name and name.group(1) in PRELUDE_NAMES:
        return "harness difference: uses an import the authors' harness supplies"
    test = TEST_LINE.search(detail or "")
    if status == "runtime_error" and test and code is not None \
            and not set(CALLED.findall(test.group(1))) & {*DEFINED.findall(code), *ALIASED.findall(code)}:
        # A prompt without the tests (RouterBench's MBPP rows) names no function: the model chose its own name
        return "the code does not define the function the tests call (another name; the prompt named none)"
    if "EOFError" in (detail or ""):
        return "the response's own example code reads input() (stdin is empty here)"
    if status in ("oom", "output_limit"):
        return f"resource limit here ({status})"
    if "ModuleNotFoundError" in (detail or ""):
        return "harness difference: module not installed here"
    return f"fails here ({status}): test or harness difference"


def agreement(run: str | Path) -> dict:
    with closing(connect_readonly(run)) as con:
        rows = con.execute("SELECT dataset, model, problem, sample, recorded_passed, passed, status, detail, code "
                           "FROM samples WHERE recorded_passed IS NOT NULL AND status IS NOT NULL "
                           "AND status NOT IN ('sandbox_error', 'generation_error') "
                           "ORDER BY dataset, model, problem, sample").fetchall()
    rows.sort(key=lambda r: (r[0], r[1], problem_key(r[2]), r[3]))
    if not rows:
        raise UserError(f"{run}: no executed sample has a recorded verdict to compare with (a replay run is needed)")
    report = {"run": str(run), "datasets": []}
    for dataset in sorted({r[0] for r in rows}):
        mine = [r for r in rows if r[0] == dataset]
        disagree = [{"model": m, "problem": p, "sample": s, "theirs": bool(t), "ours": bool(o), "status": st,
                     "cause": cause(dataset, bool(o), st, d, c or ""), "detail": (d or "")[:200]}
                    for _, m, p, s, t, o, st, d, c in mine if bool(t) != bool(o)]
        per_model = {}
        for model in sorted({r[1] for r in mine}):
            ms = [r for r in mine if r[1] == model]
            per_model[model] = {"samples": len(ms), "agree": sum(bool(r[4]) == bool(r[5]) for r in ms),
                                "theirs_pass": sum(bool(r[4]) for r in ms), "ours_pass": sum(bool(r[5]) for r in ms)}
        report["datasets"].append({
            "dataset": dataset, "samples": len(mine), "agree": len(mine) - len(disagree),
            "agreement": round((len(mine) - len(disagree)) / len(mine), 4),
            "ours_pass_theirs_fail": sum(d["ours"] for d in disagree),
            "ours_fail_theirs_pass": sum(not d["ours"] for d in disagree),
            "causes": dict(Counter(d["cause"] for d in disagree).most_common()),
            "per_model": per_model, "disagreements": disagree})
    return report


def to_markdown(report: dict) -> str:
    out = [f"# Agreement with the recorded verdicts: `{report['run']}`", "",
           "| dataset | samples | agree | ours pass, theirs fail | ours fail, theirs pass |", "|---|---|---|---|---|"]
    for d in report["datasets"]:
        out.append(f"| {d['dataset']} | {d['samples']:,} | {d['agree']:,} ({100 * d['agreement']:.2f} %) | "
                   f"{d['ours_pass_theirs_fail']} | {d['ours_fail_theirs_pass']} |")
    for d in report["datasets"]:
        out += ["", f"## {d['dataset']}", "", "| cause | samples |", "|---|---|"]
        out += [f"| {c} | {n} |" for c, n in d["causes"].items()]
        out += ["", "| model | problem | sample | theirs | ours | status | cause | detail |",
                "|---|---|---|---|---|---|---|---|"]
        for x in d["disagreements"]:
            detail = x["detail"].replace("|", "\\|").replace("\n", " ")[:120]
            out.append(f"| {x['model']} | {x['problem']} | {x['sample']} | {'pass' if x['theirs'] else 'fail'} | "
                       f"{'pass' if x['ours'] else 'fail'} | {x['status']} | {x['cause']} | {detail} |")
    return "\n".join(out) + "\n"
