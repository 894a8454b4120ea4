"""The programs of a RouterBench MBPP replay run, each with MBPP's tested name bound to
the response's own function, as samples files for a second replay run: how RouterBench's
labels compare with execution once the one thing its prompts withheld (the function's
name) is given back (docs/agreement.md#routerbenchs-mbpp-labels).

    python examples/routerbench_bind_names.py RUN_DIR OUT_DIR
    python -m harness run --dataset mbpp --source benchmarks/data/mbpp/mbpp_sanitized_427.jsonl.gz \
        --models OUT_DIR/pool.yaml --run-dir OUT_DIR/run
    python -m harness report agreement OUT_DIR/run

A program that defines no function named as the one MBPP's tests call (the reference
solution's function that the tests call) gets ``<tested> = <its last top-level def>``
appended; the others are kept as they ran. Each model's samples file keeps the recorded
0/1 as ``passed``, so ``report agreement`` compares against RouterBench again."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a clone, installed or not

from benchmarks import get_benchmark  # noqa: E402

DEF = re.compile(r"^def\s+(\w+)", re.MULTILINE)
CALLED = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*\(")


def bound(code: str, problem) -> str:
    """``code`` with the tested name bound to its last top-level function, when it lacks it."""
    called = set(CALLED.findall(" ".join(problem.metadata["test_list"])))
    tested = [name for name in DEF.findall(problem.references[0]) if name in called]
    mine = DEF.findall(code)
    if tested and mine and tested[0] not in mine:
        return f"{code}\n\n{tested[0]} = {mine[-1]}\n"
    return code


def main(run_dir: str, out: str) -> None:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    problems = {p.id: p for p in get_benchmark("mbpp").load("sanitized", None)}
    with sqlite3.connect(f"file:{Path(run_dir) / 'run.sqlite'}?mode=ro", uri=True) as con:
        samples = con.execute("SELECT model, problem, code, recorded_passed FROM samples "
                              "WHERE recorded_passed IS NOT NULL ORDER BY model, problem").fetchall()
    files: dict[str, list[str]] = {}
    changed = 0
    for model, pid, code, recorded in samples:
        program = bound(code or "", problems[pid])
        changed += program != (code or "")
        files.setdefault(model, []).append(json.dumps({"task_id": pid, "solution": program,
                                                       "passed": bool(recorded)}) + "\n")
    pool = ["models:"]
    for model, lines in files.items():
        path = out_dir / f"{model}.jsonl"
        path.write_text("".join(lines))
        pool.append(f"  - {{name: {json.dumps(model)}, provider: replay, path: {json.dumps(str(path))}, price: 0}}")
    (out_dir / "pool.yaml").write_text("\n".join(pool) + "\n")
    print(f"{changed} of {len(samples)} programs got the tested name bound; pool: {out_dir / 'pool.yaml'}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or not (Path(sys.argv[1]) / "run.sqlite").is_file():
        sys.exit("usage: python examples/routerbench_bind_names.py RUN_DIR OUT_DIR "
                 "(RUN_DIR: a replay run of RouterBench's MBPP rows, with its run.sqlite)")
    main(*sys.argv[1:3])
