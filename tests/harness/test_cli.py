"""The CLI as users call it: real subprocesses, real files, real sandboxes."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support import docker_ready_or_skip, harness, harness_process


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_help_imports_nothing_heavy():
    proc = harness("--help", flags=("-X", "importtime"), timeout=60)
    assert proc.returncode == 0 and "evaluate" in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert not imported & {"docker", "numpy", "tqdm", "pandas", "datasets", "torch"}




@pytest.fixture
def samples(tmp_path):
    """Two tasks x three samples: HumanEval/0 has 2 correct, HumanEval/2 has 0."""
    good0 = ("    for i, a in enumerate(numbers):\n        for b in numbers[i + 1:]:\n"
             "            if abs(a - b) < threshold:\n                return True\n    return False\n")
    return write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": "HumanEval/0", "completion": good0},
        {"task_id": "HumanEval/2", "completion": "    return 0.0\n"},
        {"task_id": "HumanEval/0", "completion": "    return None\n"},
        {"task_id": "HumanEval/2", "completion": "    while True: pass\n"},
        {"task_id": "HumanEval/0", "completion": good0, "extra": [1, 2]},
        {"task_id": "HumanEval/2", "solution": "def truncate_number(number):\n    return number\n"},
    ])


@pytest.mark.parametrize("sandbox_name", ["local", "docker"])
def test_evaluate_writes_results_in_input_order(samples, sandbox_name):
    if sandbox_name == "docker":
        docker_ready_or_skip()
    proc = harness("evaluate", "--dataset", "humaneval", "--samples", str(samples), "--sandbox", sandbox_name,
                   "--timeout", "2", "--k", "1,2,3,5", timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = Path(str(samples) + "_results.jsonl")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in rows] == ["passed", "failed", "failed", "timeout", "passed", "failed"]
    assert [r["passed"] for r in rows] == [True, False, False, False, True, False]
    assert rows[4]["extra"] == [1, 2]
    assert rows[0]["result"] == "passed" and rows[3]["result"].startswith("timeout: ")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    # Task 0: n=3, c=2 -> pass@1 2/3, pass@2 1, pass@3 1. Task 2: c=0 -> 0.
    assert summary["pass@1"] == pytest.approx((2 / 3 + 0) / 2)
    assert summary["pass@2"] == pytest.approx(0.5)
    assert summary["pass@3"] == pytest.approx(0.5)
    assert "pass@5" not in summary
    assert summary["statuses"] == {"failed": 3, "passed": 2, "timeout": 1}
    assert "pass@1: 0.3333" in proc.stdout


def test_evaluate_out_option(samples, tmp_path):
    out = tmp_path / "sub" / "r.jsonl"
    proc = harness("evaluate", "--dataset", "humaneval", "--samples", str(samples), "--sandbox", "local",
                   "--timeout", "1", "--out", str(out), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert len(out.read_text().splitlines()) == 6
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    assert not Path(str(samples) + "_results.jsonl").exists()


@pytest.mark.parametrize("rows,message", [
    (['{"task_id": "HumanEval/0", "completion": "x"}', "{not json"], "samples.jsonl:2: invalid JSON"),
    (['{"task_id": "HumanEval/0", "completion": "x"}', "", '{"task_id": "HumanEval/999", "completion": ""}'],
     "samples.jsonl:3: unknown task_id 'HumanEval/999' for dataset humaneval"),
    (['{"task_id": "HumanEval/0"}'], "samples.jsonl:1: needs a 'completion'"),
    (['{"completion": "x"}'], "samples.jsonl:1: missing or non-string 'task_id'"),
    (['{"task_id": "HumanEval/0", "completion": 5}'], "samples.jsonl:1: 'completion' must be a string"),
    (['[1, 2]'], "samples.jsonl:1: expected a JSON object"),
    ([], "samples.jsonl: no samples in file"),
])
def test_evaluate_bad_input_names_the_line(tmp_path, rows, message):
    f = write_jsonl(tmp_path / "samples.jsonl", rows)
    proc = harness("evaluate", "--dataset", "humaneval", "--samples", str(f), "--sandbox", "local", timeout=300)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not Path(str(f) + "_results.jsonl").exists()


def test_evaluate_bytes_level_problems_name_the_line(tmp_path):
    f = tmp_path / "samples.jsonl"
    good = json.dumps({"task_id": "HumanEval/0", "completion": "    return False\n"}).encode()
    f.write_bytes(good + b"\n" + good + b"\n" + b'{"task_id": "HumanEval/0", "completion": "\xff"}\n')
    proc = harness("evaluate", "--dataset", "humaneval", "--samples", str(f), "--sandbox", "local", timeout=300)
    assert proc.returncode == 2 and "samples.jsonl:3: not UTF-8 text" in proc.stderr, proc.stderr
    f.write_bytes(b"[" * 200000 + b"\n")
    proc = harness("evaluate", "--dataset", "humaneval", "--samples", str(f), "--sandbox", "local", timeout=300)
    assert proc.returncode == 2 and "samples.jsonl:1: invalid JSON" in proc.stderr
    assert "Traceback" not in proc.stderr
    f.write_bytes(b"\xef\xbb\xbf" + good + b"\n")  # a byte-order mark is fine
    proc = harness("evaluate", "--dataset", "humaneval", "--samples", str(f), "--sandbox", "local", timeout=300)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("args,message", [
    (["--samples", "."], ".: not a file"),
    (["--out", "{tmp}/file.txt/r.jsonl"], "file.txt/r.jsonl: cannot write results there"),
    (["--out", "{tmp}"], ": is a directory, not a results file"),
    (["--memory-mb", "8"], "memory_mb must be >= 32"),
    (["--timeout", "inf"], "timeout must be in (0, 86400.0]"),
    (["--timeout", "1e308"], "timeout must be in (0, 86400.0]"),
    (["--source", "{tmp}/empty.jsonl"], "empty.jsonl: no problems in the humaneval source"),
])
def test_evaluate_bad_options_fail_before_running(tmp_path, samples, args, message):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "empty.jsonl").write_text("")
    args = [a.format(tmp=tmp_path) for a in args]
    base = ["evaluate", "--dataset", "humaneval", "--sandbox", "local"]
    if "--samples" not in args:
        base += ["--samples", str(samples)]
    proc = harness(*base, *args, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and "executing" not in proc.stderr


def test_evaluate_exits_3_when_the_harness_fails(tmp_path):
    """Samples whose test code cannot even compile get sandbox_error: reported apart,
    left out of pass@k, and the command fails."""
    import gzip

    from benchmarks import get_benchmark

    rows = [json.loads(line) for line in gzip.open(get_benchmark("humaneval").default_source, "rt")][:2]
    rows[1]["test"] = "def check(candidate):\n    assert (\n"
    source = write_jsonl(tmp_path / "he.jsonl", rows)
    samples = write_jsonl(tmp_path / "s.jsonl", [
        {"task_id": rows[0]["task_id"], "completion": rows[0]["canonical_solution"]},
        {"task_id": rows[1]["task_id"], "completion": rows[1]["canonical_solution"]},
    ])
    proc = harness("evaluate", "--dataset", "humaneval", "--samples", str(samples), "--source", str(source),
                   "--sandbox", "local", timeout=300)
    assert proc.returncode == 3, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["statuses"] == {"passed": 1, "sandbox_error": 1}
    assert summary["pass@1"] == 1.0 and summary["unscored_tasks"] == ["HumanEval/1"]
    assert "1 samples got sandbox_error" in proc.stderr


def test_evaluate_missing_file_and_unknown_dataset(tmp_path):
    proc = harness("evaluate", "--dataset", "humaneval", "--samples", str(tmp_path / "nope.jsonl"), timeout=300)
    assert proc.returncode == 2 and "nope.jsonl: no such samples file" in proc.stderr
    proc = harness("evaluate", "--dataset", "nosuch", "--samples", str(tmp_path / "x.jsonl"), timeout=300)
    assert proc.returncode == 2 and "unknown dataset 'nosuch'" in proc.stderr
    proc = harness("evaluate", "--dataset", "humaneval", "--samples", "x", "--timeout", "-1", timeout=300)
    assert proc.returncode == 2 and "must be > 0" in proc.stderr


def test_interrupted_evaluate_writes_nothing(tmp_path):
    rows = [{"task_id": "HumanEval/0", "completion": "    import time; time.sleep(30)\n"}] * 8
    f = write_jsonl(tmp_path / "samples.jsonl", rows)
    proc = harness_process("evaluate", "--dataset", "humaneval", "--samples", str(f), "--sandbox", "local",
                           "--timeout", "30", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    err = ""
    while "executing" not in err and time.time() < deadline:
        err += proc.stderr.read(1)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    # Ctrl-C stops the running programs instead of waiting out their 30 s.
    _, rest = proc.communicate(timeout=20)
    assert proc.returncode == 130, err + rest
    assert "interrupted" in rest
    assert sorted(os.listdir(tmp_path)) == ["samples.jsonl"]


def test_exec_prints_one_verdict(tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("import sys\nprint(sys.stdin.read().upper(), end='')\n")
    stdin = tmp_path / "in.txt"
    stdin.write_text("hello")
    proc = harness("exec", str(prog), "--stdin", str(stdin), "--sandbox", "local", timeout=300)
    assert proc.returncode == 0, proc.stderr
    verdict = json.loads(proc.stdout)
    assert verdict["status"] == "passed" and verdict["stdout_tail"] == "HELLO"


def test_exec_empty_stdin_file(tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("import sys\nprint(repr(sys.stdin.read()))\n")
    proc = harness("exec", str(prog), "--stdin", "", "--sandbox", "local", timeout=300)
    assert proc.returncode == 2 and "cannot read stdin" in proc.stderr


def test_exec_exit_zero_whatever_the_verdict(tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("x = [0] * (10 ** 10)\n")
    proc = harness("exec", str(prog), "--sandbox", "local", "--memory-mb", "256", timeout=300)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["status"] == "oom"
    prog.write_text("import time\ntime.sleep(5)\n")
    proc = harness("exec", str(prog), "--sandbox", "local", "--timeout", "0.5", timeout=300)
    assert proc.returncode == 0 and json.loads(proc.stdout)["status"] == "timeout"


def test_exec_bad_input(tmp_path):
    proc = harness("exec", str(tmp_path / "missing.py"), "--sandbox", "local", timeout=300)
    assert proc.returncode == 2 and "missing.py: cannot read program" in proc.stderr
    binary = tmp_path / "b.py"
    binary.write_bytes(b"\xff\xfe\x00")
    proc = harness("exec", str(binary), "--sandbox", "local", timeout=300)
    assert proc.returncode == 2 and "not UTF-8" in proc.stderr


def test_sandbox_check_reports():
    proc = harness("sandbox", "check", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "default sandbox:" in proc.stdout and "local isolation modes:" in proc.stdout


CHAT_ANSWERS = [  # raw chat completions, as a chat model writes them
    {"task_id": "HumanEval/0", "completion": "Sure! Here:\n```python\nfrom typing import List\n\n"
     "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n    return any(abs(a - b) < "
     "threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n```\nDone."},
    {"task_id": "HumanEval/2", "completion": "[PYTHON]\ndef truncate_number(number):\n    return number % 1.0\n"
     "[/PYTHON]"},
    {"task_id": "HumanEval/2", "completion": "<think>easy</think>Let me explain.\n```\ndef truncate_number(number):"
     "\n    return number.foo\n```"},
]


def test_evaluate_extract_and_the_hint_when_most_samples_do_not_parse(tmp_path):
    f = write_jsonl(tmp_path / "chat.jsonl", CHAT_ANSWERS)
    proc = harness("evaluate", "--dataset", "humaneval", "--samples", str(f), "--sandbox", "local", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["statuses"] == {"syntax_error": 3}
    assert "note: 3 of 3 samples are not valid Python (syntax_error): if they are raw model answers (fenced " \
           "code, [PYTHON] tags), add --extract to take the code out as `run` does\n" in proc.stderr
    proc = harness("evaluate", "--dataset", "humaneval", "--samples", str(f), "--sandbox", "local", "--extract",
                   timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in Path(str(f) + "_results.jsonl").read_text().splitlines()]
    assert [r["status"] for r in rows] == ["passed", "passed", "runtime_error"]
    assert "syntax_error" not in proc.stderr
    # The program is the one `run` stores for the same answer.
    from benchmarks import get_benchmark
    from benchmarks.extract import program_for
    from harness.score.samples import read_samples

    bench = get_benchmark("humaneval")
    problem = {p.id: p for p in bench.load()}["HumanEval/2"]
    assert read_samples(f, "humaneval", extract=True)[2].program == program_for(
        bench, problem, "Let me explain.\n```\ndef truncate_number(number):\n    return number.foo\n```")[1]
    # Each row shows the program that ran.
    assert [r["program"] for r in rows] == [s.program for s in read_samples(f, "humaneval", extract=True)]


def test_evaluate_rows_say_which_line_failed(samples):
    proc = harness("evaluate", "--dataset", "humaneval", "--samples", str(samples), "--sandbox", "local",
                   "--timeout", "2", timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in Path(str(samples) + "_results.jsonl").read_text().splitlines()]
    assert rows[1]["result"] == "failed: AssertionError: tests.py line 10: assert candidate(3.5) == 0.5"
    assert rows[2]["detail"] == \
        "AssertionError: tests.py line 10: assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True"
    assert [(r["passed_tests"], r["total_tests"]) for r in rows] == [(1, 1), (0, 1), (0, 1), (0, 1), (1, 1), (0, 1)]
    f = write_jsonl(samples.parent / "crash.jsonl", [{"task_id": "HumanEval/2", "completion": "    return number.x\n"}])
    proc = harness("evaluate", "--dataset", "humaneval", "--samples", str(f), "--sandbox", "local", timeout=300)
    (row,) = [json.loads(line) for line in Path(str(f) + "_results.jsonl").read_text().splitlines()]
    where = "at tests.py line 10: assert candidate(3.5) == 0.5; main.py line 12: return number.x"
    assert row["detail"] == f"AttributeError: 'float' object has no attribute 'x'\n{where}"
    assert row["stderr_tail"].startswith("Traceback (most recent call last):\n")
    assert row["stderr_tail"].endswith(f'  File "main.py", line 12, in truncate_number\n'
                                       f"AttributeError: 'float' object has no attribute 'x'\n{where}\n")


def test_evaluate_all_cases_gives_every_case_its_result(tmp_path):
    """APPS 2189 (8 stdin/stdout cases) with a program that answers HL and crashes when
    t > 2: without --all-cases the first failure ends the run; with it every case runs."""
    program = 't = int(input())\nif t > 2:\n    raise ValueError(t)\nprint("HL")\n'
    f = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "2189", "solution": program}])
    first = "test 0: wrong answer: token 1: expected 'T', got 'HL'"
    for extra, passed, cases in (([], 0, None), (["--all-cases"], 3, [
            ("failed", "wrong answer: token 1: expected 'T', got 'HL'"), ("passed", ""),
            ("failed", "wrong answer: token 1: expected 'T', got 'HL'"), ("runtime_error", "ValueError: 3"),
            ("runtime_error", "ValueError: 4"), ("passed", ""), ("passed", ""),
            ("failed", "wrong answer: token 1: expected 'T', got 'HL'")])):
        proc = harness("evaluate", "--dataset", "apps", "--samples", str(f), "--sandbox", "local", *extra,
                       timeout=300)
        assert proc.returncode == 0, proc.stderr
        (row,) = [json.loads(line) for line in Path(str(f) + "_results.jsonl").read_text().splitlines()]
        assert (row["status"], row["detail"], row["passed_tests"], row["total_tests"]) == ("failed", first, passed, 8)
        assert [(c["status"], c["detail"]) for c in row.get("cases", [])] == (cases or [])
        assert ("cases" in row) == bool(cases)
