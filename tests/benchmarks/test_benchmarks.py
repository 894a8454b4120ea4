"""The six adapters load the bundled data with the expected counts, and `benchmarks
validate` / `evaluate` work on each through the real CLI."""

import json
from pathlib import Path

import pytest
from support import ROOT, docker_ready_or_skip, harness

from benchmarks import BENCHMARKS, CallTests, DataError, IOTests, get_benchmark


@pytest.mark.parametrize("name,source,problems,with_refs", [
    ("humaneval", None, 164, 164),
    ("mbpp", None, 974, 974),
    ("mbpp", "sanitized", 427, 427),
    ("apps", None, 128, 16),  # 150 rows, 22 duplicated; references: our fixtures
    ("codecontests", "test66", 66, 0),
    ("codecontests", "train300", 300, 300),
    ("codecontests", "sandboxfusion", 20, 0),
    ("leetcode", None, 437, 437),
    ("runbugrun", None, 732, 732),  # bug records of the 95 problems with derived tests
])
def test_bundled_counts(name, source, problems, with_refs):
    loaded = get_benchmark(name).load(source)
    assert len(loaded) == problems
    assert sum(bool(p.references) for p in loaded) == with_refs
    assert len({p.id for p in loaded}) == problems


@pytest.mark.parametrize("name,source,split,problems,first,last", [
    ("mbpp", None, "test", 500, "MBPP/11", "MBPP/510"),  # HF mbpp (full): task ids 11-510
    ("mbpp", None, "validation", 90, "MBPP/511", "MBPP/600"),
    ("mbpp", None, "train", 374, "MBPP/601", "MBPP/974"),
    ("mbpp", None, "prompt", 10, "MBPP/1", "MBPP/10"),  # the few-shot examples
    ("mbpp", "sanitized", "test", 257, "MBPP/11", "MBPP/479"),  # HF mbpp/sanitized: 257 / 43 / 120 / 7
    ("mbpp", "sanitized", "validation", 43, "MBPP/554", "MBPP/600"),
    ("mbpp", "sanitized", "train", 120, "MBPP/602", "MBPP/809"),
    ("mbpp", "sanitized", "prompt", 7, "MBPP/2", "MBPP/9"),
    ("codecontests", None, "test", 66, "1575_A", None),  # test66 only
    ("codecontests", "train300", "train", 300, None, None),
    ("humaneval", None, "test", 164, "HumanEval/0", "HumanEval/163"),
])
def test_bundled_splits(name, source, split, problems, first, last):
    loaded = get_benchmark(name).load(source, split)
    assert len(loaded) == problems
    assert (first or loaded[0].id, last or loaded[-1].id) == (loaded[0].id, loaded[-1].id)


@pytest.mark.parametrize("name,source,split,message", [
    ("mbpp", "sanitized", "dev",
     "mbpp: no split 'dev' in the bundled sanitized (splits: prompt, test, train, validation)"),
    ("humaneval", None, "train", "humaneval: no split 'train' in the bundled humaneval (splits: test)"),
    ("codecontests", "test66", "train", "codecontests: no split 'train' in the bundled test66 (splits: test)"),
    ("runbugrun", None, "train", "runbugrun: no split 'train' in the bundled derived (splits: test)"),
])
def test_unknown_bundled_split_names_the_valid_ones(name, source, split, message):
    with pytest.raises(DataError) as err:
        get_benchmark(name).load(source, split)
    assert str(err.value) == message


def test_runbugrun_tests_are_marked_derived():
    problems = get_benchmark("runbugrun").load()
    assert {p.metadata["problem_id"] for p in problems} and len({p.metadata["problem_id"] for p in problems}) == 95
    assert all(p.metadata["derived"] for p in problems)
    assert sum(p.test_count for p in problems) == 7406
    prompt = get_benchmark("runbugrun").prompt(problems[0])
    assert prompt.startswith("Provide a fix for the buggy function") and problems[0].wrong[0] in prompt


def test_test_kinds_and_aliases():
    apps = get_benchmark("apps").load()
    assert sum(isinstance(p.tests, CallTests) for p in apps) == 79
    assert sum(isinstance(p.tests, IOTests) for p in apps) == 49
    cc = get_benchmark("codecontests")
    test66 = cc.load("test66")
    # public + private + generated, as many as DeepMind's own count for every problem
    assert all(p.test_count == p.metadata["deepmind_test_case_count"] for p in test66)
    assert sum(p.test_count for p in test66) == 12910 + sum(p.metadata["sample_count"] for p in test66)
    aliases = cc.aliases(test66)
    assert aliases["code_contests/0"] == "1575_A" and len(aliases) == 66
    lc = get_benchmark("leetcode")
    assert len(lc.aliases(lc.load())) == 209


def test_unknown_source_fails_cleanly(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        get_benchmark("apps").load(str(tmp_path / "x.jsonl"))


def test_benchmarks_list():
    proc = harness("benchmarks", "list")
    assert proc.returncode == 0, proc.stderr
    for name in BENCHMARKS:
        assert f"\n{name} " in proc.stdout


@pytest.mark.parametrize("sandbox_name", ["local", "docker"])
@pytest.mark.parametrize("dataset,args", [
    ("humaneval", ["--limit", "20"]),
    ("mbpp", ["--limit", "30"]),
    ("apps", []),  # every fixture: 16 references pass, 32 wrong variants fail
    ("codecontests", ["--source", "train300", "--limit", "15"]),
    ("leetcode", ["--limit", "15"]),
    ("runbugrun", ["--limit", "25"]),  # fixed programs pass, buggy ones fail
])
def test_validate_references(sandbox_name, dataset, args):
    if sandbox_name == "docker":
        docker_ready_or_skip()
    proc = harness("benchmarks", "validate", "--dataset", dataset, "--sandbox", sandbox_name, *args)
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["failed"] == 0, proc.stdout
    assert summary["passed"] == summary["checked"] > 0
    assert proc.returncode == 0


def test_evaluate_resolves_adaptivellm_ids(tmp_path):
    """The authors' ids (code_contests/N, LeetCode/N) find our problems."""
    cc = {p.id: p for p in get_benchmark("codecontests").load("test66")}
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "code_contests/0", "solution": "print(1)\n"}) + "\n")
    proc = harness("evaluate", "--dataset", "codecontests", "--samples", str(samples), "--sandbox", "local")
    assert proc.returncode == 0, proc.stderr
    row = json.loads(Path(str(samples) + "_results.jsonl").read_text())
    assert row["status"] == "failed" and row["result"].startswith("failed: test 0: wrong answer")
    assert "1575_A" in cc


def test_evaluate_marks_quarantined_and_uses_calibrated_limits(tmp_path):
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "27_B", "solution": "print(1, 2)\n"}) + "\n"
                       + json.dumps({"task_id": "1575_A", "solution": "import time\ntime.sleep(3)\n"}) + "\n")
    limits = tmp_path / "limits.json"
    limits.write_text(json.dumps({"time_limits": {"1575_A": 0.5}}))
    proc = harness("evaluate", "--dataset", "codecontests", "--samples", str(samples), "--sandbox", "local",
                   "--timeout", "20", "--time-limits", str(limits))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in Path(str(samples) + "_results.jsonl").read_text().splitlines()]
    from benchmarks.quarantine import quarantined

    assert rows[0]["quarantined"] == quarantined("codecontests")["27_B"]
    assert rows[0]["quarantined"].startswith('"If there are several solutions, output any of them"')
    assert "quarantined" not in rows[1]
    # It sleeps: its 0.5 s CPU budget's wall-clock cap (3 x 0.5 + 1 s) stops it, not --timeout 20.
    assert rows[1]["status"] == "timeout" and "wall-clock cap of 2.5 s exceeded" in rows[1]["result"]
    assert "1 tasks are quarantined" in proc.stderr
    limits.write_text("{}")
    proc = harness("evaluate", "--dataset", "codecontests", "--samples", str(samples), "--sandbox", "local",
                   "--time-limits", str(limits))
    assert proc.returncode == 2 and "limits.json: not a `benchmarks validate --out` file" in proc.stderr


LCS_FIXTURE = ROOT / "tests/fixtures/leetcodesample_format.jsonl"


def test_leetcodesample_rows_run_like_sandboxfusion(tmp_path):
    """SandboxFusion AutoEval rows (sine/LeetCodeSample's format): both test layouts
    (#<INSERT> and appended), ids resolved from AdaptiveLLM's question ids, and the
    authors' generations get the same verdicts as through the LeetCodeDataset rows
    that hold the same tests."""
    lc = get_benchmark("leetcode")
    rows = lc.load(str(LCS_FIXTURE))
    assert [p.id for p in rows] == ["9000", "9001", "9002"]
    assert lc.aliases(rows) == {"LeetCode/0": "9000", "LeetCode/1": "9001", "LeetCode/2": "9002"}
    appended = rows[2]
    assert appended.metadata["autoeval_prefix"] is None
    assert "if __name__" not in lc.program(appended, solution="x = 1\nif __name__ == '__main__':\n    main()\n")
    proc = harness("benchmarks", "validate", "--dataset", "leetcode", "--source", str(LCS_FIXTURE),
                   "--sandbox", "local")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (summary["checked"], summary["passed"], summary["failed"]) == (3, 3, 0), proc.stdout

    from benchmarks.extract import extract_code
    from benchmarks.io import read_records

    samples, lines = tmp_path / "s.jsonl", []
    gens = sorted((ROOT / "benchmarks/data/adaptivellm/generations").glob("*-Leetcode.jsonl.gz"))
    for path in gens:
        for r in read_records(path):
            if r["id"] in ("LeetCode/0", "LeetCode/1", "LeetCode/2"):
                lines += [json.dumps({"task_id": r["id"], "solution": extract_code(c)}) for c in r["responses"]]
    samples.write_text("\n".join(lines) + "\n")
    results = {}
    for source in (str(LCS_FIXTURE), None):
        out = tmp_path / f"{bool(source)}.jsonl"
        proc = harness("evaluate", "--dataset", "leetcode", "--samples", str(samples), "--sandbox", "local",
                       "--timeout", "2", "--out", str(out), *(["--source", source] if source else []))
        assert proc.returncode == 0, proc.stderr
        results[bool(source)] = [json.loads(x)["passed"] for x in out.read_text().splitlines()]
    assert len(results[True]) == 105 and results[True] == results[False]
    assert sum(results[True]) == 2  # measured (the authors' LeetCodeSample tests: 4)


@pytest.mark.parametrize("row,message", [
    ({"id": 1, "content": "q", "labels": "{}", "test": "{not json"}, "field 'test' is neither JSON"),
    ({"id": 1, "content": "q", "labels": {"programming_language": "cpp"}, "test": {"code": ""}},
     "only Python rows"),
    ({"id": 1, "content": "q", "labels": {}, "test": {"code": "x = #<INSERT>"}}, "must start a line"),
    ({"id": 1, "content": "q", "labels": {}, "test": {"code": "", "asset": {"a.txt": "eA=="}}}, "asset files"),
    ({"id": 1, "content": "q", "labels": [], "test": {"code": ""}}, "'labels' must be an object"),
])
def test_leetcodesample_bad_rows(row, message):
    with pytest.raises(DataError, match=message):
        get_benchmark("leetcode").from_rows([row], "rows.jsonl")


def test_hf_ids_get_their_config(monkeypatch):
    """LeetCodeSample lives in the `python` subset; the hub is unreachable here, so
    the call `datasets` receives is checked, and feeding its rows back works."""
    import datasets

    calls = []
    rows = [json.loads(line) for line in LCS_FIXTURE.read_text().splitlines()]
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **kw: calls.append((a, kw)) or rows)
    problems = get_benchmark("leetcode").load("sine/LeetCodeSample")
    assert calls == [(("sine/LeetCodeSample", "python"), {"split": "test"})]
    assert [p.id for p in problems] == ["9000", "9001", "9002"]
    with pytest.raises(DataError, match="mbpp row 1: missing field"):  # LeetCode rows are not MBPP's
        get_benchmark("mbpp").load("mbpp", split="test")
    assert calls[1] == (("mbpp", "full"), {"split": "test"})
