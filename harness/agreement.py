"""Re-execute the AdaptiveLLM authors' generations in our sandbox and compare with
the verdicts they recorded (``results`` in their artifact)."""

from __future__ import annotations

import gzip
import json
import sys
from collections import Counter
from dataclasses import dataclass

from benchmarks import get_benchmark
from benchmarks.base import DATA
from sandboxes import Limits, Verdict, get_sandbox

from .extract import extract_code
from .requests import exec_request

GENERATIONS = DATA / "adaptivellm" / "generations"
FILE_SUFFIX = {"humaneval": "HumanEval", "leetcode": "Leetcode", "codecontests": "CodeContests"}


@dataclass(frozen=True)
class Sample:
    model: str
    aid: str  # AdaptiveLLM problem id
    index: int
    theirs: bool
    program: str


def load_samples(dataset: str, models: list[str] | None = None):
    bench = get_benchmark(dataset)
    problems = bench.load()
    by_id = {p.id: p for p in problems}
    by_id.update({alias: by_id[pid] for alias, pid in bench.aliases(problems).items()})
    samples, missing = [], Counter()
    for path in sorted(GENERATIONS.glob(f"*-output-{FILE_SUFFIX[dataset]}.jsonl.gz")):
        model = path.name.split("-output-")[0]
        if models and model not in models:
            continue
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                problem = by_id.get(row["id"])
                if problem is None:
                    missing[model] += len(row["results"])
                    continue
                for i, (response, result) in enumerate(zip(row["responses"], row["results"], strict=True)):
                    code = extract_code(response, problem.entry_point)
                    samples.append((problem, Sample(model, row["id"], i, bool(result),
                                                    bench.program(problem, solution=code))))
    return samples, missing


def agreement(dataset: str, sandbox_name: str | None, workers: int | None, timeout: float,
              models: list[str] | None = None) -> dict:
    from tqdm import tqdm

    samples, missing = load_samples(dataset, models)
    limits = Limits(timeout=timeout)
    requests = [exec_request(p, s.program, limits, id=str(i)) for i, (p, s) in enumerate(samples)]
    verdicts: list[Verdict | None] = [None] * len(samples)
    with get_sandbox(sandbox_name, workers) as sandbox, \
            tqdm(total=len(requests), desc=f"re-executing {dataset}", unit="prog", file=sys.stderr) as bar:
        for v in sandbox.run(requests):
            verdicts[int(v.id)] = v
            bar.update()
    rows = []
    for (problem, s), v in zip(samples, verdicts, strict=True):
        rows.append({"model": s.model, "id": s.aid, "problem": problem.id, "sample": s.index,
                     "theirs": s.theirs, "ours": v.passed, "status": v.status.value, "detail": v.detail[:300]})
    agree = sum(r["theirs"] == r["ours"] for r in rows)
    per_model = {}
    for m in sorted({r["model"] for r in rows}):
        mine = [r for r in rows if r["model"] == m]
        per_model[m] = {"samples": len(mine), "agree": sum(r["theirs"] == r["ours"] for r in mine),
                        "theirs_pass": sum(r["theirs"] for r in mine), "ours_pass": sum(r["ours"] for r in mine)}
    return {
        "dataset": dataset,
        "samples": len(rows),
        "agree": agree,
        "agreement": round(agree / len(rows), 4) if rows else None,
        "ours_pass_theirs_fail": sum(r["ours"] and not r["theirs"] for r in rows),
        "ours_fail_theirs_pass": sum(r["theirs"] and not r["ours"] for r in rows),
        "disagreement_statuses": dict(Counter(r["status"] for r in rows if r["theirs"] != r["ours"])),
        "samples_without_our_tests": dict(missing),
        "per_model": per_model,
        "disagreements": [r for r in rows if r["theirs"] != r["ours"]],
    }
