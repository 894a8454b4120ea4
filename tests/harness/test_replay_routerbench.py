"""RouterBench's recorded responses replayed (``replay`` with a RouterBench table): a real
run in the local sandbox on MBPP's tests, then `report agreement` against the file's
0/1 scores, with the causes of each disagreement."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import ROOT, A, B, harness, pool, rb_row, routerbench_csv, rows

from benchmarks import get_benchmark

SANITIZED = ROOT / "benchmarks/data/mbpp/mbpp_sanitized_427.jsonl.gz"
MBPP = {p.id: p for p in get_benchmark("mbpp").load("sanitized", None)}


def fenced(code: str) -> str:
    return f"Here is the function:\n\n```python\n{code}\n```\n"


def test_routerbench_responses_replayed_and_compared(tmp_path):
    p2, p3, p4 = (MBPP[f"MBPP/{i}"] for i in (2, 3, 4))
    renamed = p3.references[0].replace("is_not_prime", "non_prime")  # the prompt named no function
    truncated = p4.references[0][:40]  # cut mid-statement, as a response that hit its token limit
    table = routerbench_csv(tmp_path / "mbpp_test.csv", [
        # A: passes (recorded 1); another name (recorded 1); no code at all (recorded 1)
        # B: passes (recorded 0); passes (recorded 1); truncated (recorded 0)
        rb_row("mbpp.dev.0", p2.prompt, (1, 0), (fenced(p2.references[0]),) * 2, (0.1, 0.2)),
        rb_row("mbpp.dev.1", p3.prompt, (1, 1), (fenced(renamed), fenced(p3.references[0])), (0.1, 0.2)),
        rb_row("mbpp.dev.2", p4.prompt, (1, 0), ("I would use heapq.nlargest.", fenced(truncated)), (0.1, 0.2)),
        rb_row("mbpp.dev.3", "A statement of no MBPP problem.", (1, 1), ("x", "y"), (0.1, 0.2)),  # not replayed
    ])
    models = [{"name": "a", "provider": "replay", "path": str(table), "model": A, "price": 0},
              {"name": "b", "provider": "replay", "path": str(table), "model": B, "price": 0}]
    run_dir = tmp_path / "run"
    typo = harness("run", "--dataset", "mbpp", "--models", pool(tmp_path, {**models[0], "model": "org/model-c"},
                                                                   name="typo.yaml"),
                   "--sandbox", "local", "--run-dir", str(tmp_path / "typo"))
    assert typo.returncode == 2 and "no model 'org/model-c' with responses in" in typo.stderr
    assert f"it has: {B}, {A}" in typo.stderr
    bare = routerbench_csv(tmp_path / "bare.csv", [rb_row("mbpp.dev.0", p2.prompt, (1, 0), ("x", "y"), (0.1, 0.2))],
                           drop=(f"{A}|model_response", f"{B}|model_response"))
    no_text = harness("run", "--dataset", "mbpp", "--models", pool(tmp_path, {**models[0], "path": str(bare)},
                                                                      name="bare.yaml"),
                      "--sandbox", "local", "--run-dir", str(tmp_path / "bare"))
    assert no_text.returncode == 2 and "has no <model>|model_response columns: nothing to replay" in no_text.stderr
    proc = harness("run", "--dataset", "mbpp", "--source", str(SANITIZED), "--models", pool(tmp_path, *models),
                   "--sandbox", "local", "--no-calibrate", "--run-dir", str(run_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    stored = {(r[1], r[2]): (r[4], r[5]) for r in rows(run_dir)}
    assert stored == {("MBPP/2", "a"): ("passed", 1), ("MBPP/2", "b"): ("passed", 1),
                      ("MBPP/3", "a"): ("runtime_error", 0), ("MBPP/3", "b"): ("passed", 1),
                      ("MBPP/4", "a"): ("syntax_error", 0), ("MBPP/4", "b"): ("runtime_error", 0)}

    out = tmp_path / "agreement.json"
    report = harness("report", "agreement", str(run_dir), "--out", str(out))
    assert report.returncode == 0, report.stderr
    (mbpp,) = json.loads(out.read_text())["datasets"]
    counts = (mbpp["samples"], mbpp["agree"], mbpp["ours_pass_theirs_fail"], mbpp["ours_fail_theirs_pass"])
    assert counts == (6, 3, 1, 2)
    assert mbpp["per_model"] == {"a": {"samples": 3, "agree": 1, "theirs_pass": 3, "ours_pass": 1},
                                 "b": {"samples": 3, "agree": 2, "theirs_pass": 1, "ours_pass": 2}}
    assert mbpp["causes"] == {
        "passes the benchmark's tests here (authors' verdict or harness differs)": 1,
        "the code does not define the function the tests call (another name; the prompt named none)": 1,
        "no Python function in the response (prose, or code in another language)": 1}

    # The tested name bound to the response's function (examples/routerbench_bind_names.py): a's renamed
    # is_not_prime now passes, so only the two other disagreements are left.
    bind = subprocess.run([sys.executable, str(ROOT / "examples/routerbench_bind_names.py"), str(run_dir),
                           str(tmp_path / "bound")], capture_output=True, text=True, cwd=ROOT)
    assert bind.returncode == 0 and "1 of 6 programs got the tested name bound" in bind.stdout, bind.stderr
    again = harness("run", "--dataset", "mbpp", "--source", str(SANITIZED), "--models",
                    str(tmp_path / "bound/pool.yaml"), "--sandbox", "local", "--no-calibrate", "--run-dir",
                    str(tmp_path / "bound/run"))
    assert again.returncode == 0, again.stderr
    assert harness("report", "agreement", str(tmp_path / "bound/run"), "--out", str(out)).returncode == 0
    (mbpp,) = json.loads(out.read_text())["datasets"]
    assert (mbpp["agree"], mbpp["causes"]) == (4, {
        "passes the benchmark's tests here (authors' verdict or harness differs)": 1,
        "no Python function in the response (prose, or code in another language)": 1})


@pytest.mark.parametrize("status,detail,code,want", [
    ("runtime_error", "NameError: name 'similar_elements' is not defined\nat tests.py line 2: assert "
     "set(similar_elements((3, 4), (4,))) == set((4,))", "def find_shared(a, b):\n    return a\n",
     "the code does not define the function the tests call"),
    # the response's example code bound the tested name to a value: still not the tested function
    ("runtime_error", "TypeError: 'float' object is not callable | at tests.py line 2: assert "
     "math.isclose(circle_circumference(10), 62.83, rel_tol=0.001)",
     "def calculate_circumference(r):\n    return 6.283 * r\ncircle_circumference = calculate_circumference(5)\n",
     "the code does not define the function the tests call"),
    ("runtime_error", "IndexError: list index out of range | at tests.py line 5: assert is_majority([1], 5, 1) == "
     "False; main.py line 4: if nums[i] == elem:", "def is_majority(nums, n, elem):\n    return nums[n]\n",
     "fails here (runtime_error)"),
    # bound to the response's function (examples/routerbench_bind_names.py), which takes other arguments
    ("runtime_error", "TypeError: 'int' object is not iterable\nat tests.py line 2: assert long_words(3, \"a bc\") "
     "== ['bc']; main.py line 2", "def find_long_words(words, n):\n    return words\n\n\n"
     "long_words = find_long_words\n",
     "fails here (runtime_error)"),
    ("runtime_error", "EOFError: EOF when reading a line", "def f(n):\n    return n\nf(int(input()))\n",
     "reads input()"),
    ("runtime_error", "NameError: name 'math' is not defined", "def area(r):\n    return math.pi * r * r\n",
     "uses an import the authors' harness supplies"),
    ("syntax_error", "invalid syntax", "I would use heapq.nlargest.", "no Python function in the response"),
    ("syntax_error", "invalid syntax", "bool isSquare(int n) { return n == 0; }", "no Python function"),
    ("syntax_error", "invalid syntax", "def f(:\n", "extraction"),
    ("syntax_error", "invalid syntax", None, "extraction"),  # the code not known: no guess
])
def test_causes_of_routerbench_disagreements(status, detail, code, want):
    from harness.report.agreement import cause

    assert want in cause("mbpp", False, status, detail, code)
