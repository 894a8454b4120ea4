"""Code extraction compared on the AdaptiveLLM artifact's raw responses: the previous
rules (extractor version 1, read from git history, not kept in the tree), the current
ones (``benchmarks.extract``) and evalplus's ``sanitize`` (PyPI ``evalplus``), each
program run against the bundled tests in one sandbox session (through the execution
cache: a program that two extractors agree on runs once, and a re-run executes
nothing new).

Per dataset (HumanEval, LeetCode, CodeContests; the responses of problems we have
tests for): samples, passes per extractor, the samples that pass with one extractor
and not another (``only``: "a>b" = passes with a, not with b), and ``lost_vs_v1`` (pass
with v1, not with the current rules). ``--details`` adds the sample ids of each
``only`` set. Budgets: ``--timeout`` CPU seconds per program (``evaluate``'s default),
a problem with its judge's time limit gets ``run``'s budget for it.

    python perf/extraction.py [--sandbox local] [--workers N] [--details]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

V1_COMMIT = "f8df397"  # the last commit with extractor version 1
DATASETS = {"humaneval": "HumanEval", "leetcode": "Leetcode", "codecontests": "CodeContests"}
EXTRACTORS = ("v1", "current", "sanitize")


def v1_extractor() -> types.ModuleType:
    """benchmarks/extract.py as of ``V1_COMMIT``, loaded as a module of its own."""
    try:
        source = subprocess.run(["git", "show", f"{V1_COMMIT}:benchmarks/extract.py"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        sys.exit(f"perf/extraction.py: cannot read the v1 extractor from git ({exc}); needs a clone with history")
    module = types.ModuleType("extract_v1")
    exec(compile(source, f"{V1_COMMIT}:benchmarks/extract.py", "exec"), module.__dict__)
    return module


def sanitizer():
    try:
        from evalplus.sanitize import sanitize
    except ImportError:
        sys.exit("perf/extraction.py: needs evalplus (pip install evalplus)")
    return sanitize


def sanitize_entry(entry_point: str) -> str | None:
    """What evalplus keeps code reachable from: the function, or a LeetCode method's
    class (``Solution().twoSum`` -> ``Solution``); nothing for stdin/stdout programs."""
    return entry_point.split("(")[0].split(".")[0] or None


def samples(dataset: str):
    """(sample id, problem, answer) of each recorded response of a problem with tests."""
    from benchmarks import get_benchmark
    from benchmarks.extract import split_thinking
    from benchmarks.io import read_records
    from harness.providers.replay import ADAPTIVELLM

    problems = get_benchmark(dataset).by_id()
    for path in sorted(ADAPTIVELLM.glob(f"*-output-{DATASETS[dataset]}.jsonl.gz")):
        model = path.name.split("-output-")[0]
        for row in read_records(path):
            if row["id"] in problems:
                for i, response in enumerate(row["responses"]):
                    yield f"{model}|{row['id']}|{i}", problems[row["id"]], split_thinking(response)[1]


def programs(dataset: str) -> tuple[list[str], list, dict[str, list[str]]]:
    """Sample ids, their problems, and per extractor the program of each sample."""
    from benchmarks import get_benchmark
    from benchmarks.extract import program_for

    bench, v1, sanitize = get_benchmark(dataset), v1_extractor(), sanitizer()
    ids, problems, out = [], [], {name: [] for name in EXTRACTORS}
    for sid, problem, answer in samples(dataset):
        ids.append(sid)
        problems.append(problem)
        out["v1"].append(v1.program_for(bench, problem, answer)[1])
        out["current"].append(program_for(bench, problem, answer)[1])
        out["sanitize"].append(bench.program(problem, solution=sanitize(answer, sanitize_entry(problem.entry_point))))
    return ids, problems, out


def budget(problem, timeout: float) -> float:
    from harness.score.references import JUDGE_SCALE, MIN_JUDGE_BUDGET

    return round(max(MIN_JUDGE_BUDGET, JUDGE_SCALE * problem.time_limit), 2) if problem.time_limit else timeout


def compare(dataset: str, sandbox, timeout: float, details: bool) -> dict:
    from benchmarks.requests import exec_request
    from sandboxes import Limits

    ids, problems, progs = programs(dataset)
    print(f"{dataset}: {len(ids)} samples x {len(EXTRACTORS)} extractors", file=sys.stderr)
    reqs = [exec_request(p, prog, Limits(timeout=budget(p, timeout)), id=str(i))
            for name in EXTRACTORS for i, (p, prog) in enumerate(zip(problems, progs[name], strict=True))]
    verdicts = sandbox.map(reqs)
    n = len(ids)
    passed = {name: {ids[i] for i, v in enumerate(verdicts[k * n:(k + 1) * n]) if v.passed}
              for k, name in enumerate(EXTRACTORS)}
    statuses = {name: {} for name in EXTRACTORS}
    for k, name in enumerate(EXTRACTORS):
        for v in verdicts[k * n:(k + 1) * n]:
            statuses[name][v.status.value] = statuses[name].get(v.status.value, 0) + 1
    only = {f"{a}>{b}": sorted(passed[a] - passed[b]) for a in EXTRACTORS for b in EXTRACTORS if a != b}
    return {"samples": n, "passed": {k: len(v) for k, v in passed.items()}, "statuses": statuses,
            "only": {k: len(v) for k, v in only.items()}, "lost_vs_v1": len(only["v1>current"]),
            "changed_programs_vs_v1": sum(a != b for a, b in zip(progs["v1"], progs["current"], strict=True)),
            **({"only_ids": only} if details else {})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default=",".join(DATASETS), help="comma-separated (default: all three)")
    ap.add_argument("--sandbox", default="local", help="docker, local or ray (default local)")
    ap.add_argument("--workers", type=int, help="sandbox workers (default: one per core)")
    ap.add_argument("--timeout", type=float, default=10.0, help="CPU seconds per program (default 10, evaluate's)")
    ap.add_argument("--details", action="store_true", help="list the sample ids of each `only` set")
    args = ap.parse_args()
    from harness.route.exec_cache import cached_sandbox

    with cached_sandbox(args.sandbox, args.workers) as sandbox:
        out = {d: compare(d, sandbox, args.timeout, args.details) for d in args.dataset.split(",")}
        out["executed"] = sandbox.executed
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
