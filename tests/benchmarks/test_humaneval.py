"""Must-show 1: all 164 canonical HumanEval solutions pass in both sandboxes, and the
same solutions with their body replaced by ``return None`` all fail."""

import gzip
import json

import pytest
from support import ROOT

from benchmarks import DataError, get_benchmark
from sandboxes import ExecRequest, Limits, Status

SHARED = ROOT.parent / "shared" / "data" / "humaneval" / "HumanEval.jsonl.gz"


@pytest.fixture(scope="module")
def problems():
    return get_benchmark("humaneval").load()


def test_bundled_copy_is_complete(problems):
    assert len(problems) == 164
    assert [p.id for p in problems] == [f"HumanEval/{i}" for i in range(164)]
    assert problems[0].entry_point == "has_close_elements"
    assert problems[0].tests.code.rstrip().endswith("check(has_close_elements)")


def test_bundled_copy_is_the_upstream_file():
    """Byte-identical to the upstream file whose checksum SOURCE.md records (and to
    the staged copy, where ../shared is beside this clone)."""
    import hashlib

    data = (ROOT / "benchmarks/data/humaneval/HumanEval.jsonl.gz").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert f"`{digest}`" in (ROOT / "benchmarks/data/humaneval/SOURCE.md").read_text()
    if SHARED.exists():
        assert data == SHARED.read_bytes()


def test_load_from_local_jsonl(tmp_path, problems):
    rows = [json.loads(line) for line in gzip.open(get_benchmark("humaneval").default_source, "rt")][:3]
    f = tmp_path / "he.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = get_benchmark("humaneval").load(str(f))
    assert loaded == problems[:3]


def test_bad_local_files(tmp_path):
    bench = get_benchmark("humaneval")
    with pytest.raises(DataError, match="no such file"):
        bench.load(str(tmp_path / "missing.jsonl"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "x"}\n')
    with pytest.raises(DataError, match=r"row 1: missing field\(s\) prompt, entry_point"):
        bench.load(str(bad))


def test_hf_id_unreachable_names_the_dataset():
    with pytest.raises(DataError, match="cannot load HuggingFace dataset 'openai_humaneval' split 'test'"):
        get_benchmark("humaneval").load("openai_humaneval")


def test_load_through_datasets_from_a_local_dataset_folder(tmp_path, problems):
    """The same `datasets.load_dataset` code path as a hub id, on a folder laid out as a
    hub dataset repo (data/<split>-*.jsonl)."""
    rows = [json.loads(line) for line in gzip.open(get_benchmark("humaneval").default_source, "rt")][:4]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "test-00000-of-00001.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert get_benchmark("humaneval").load(str(tmp_path)) == problems[:4]


def _requests(problems, body):
    limits = Limits(timeout=10)
    return [ExecRequest(body(p), p.tests.code, limits=limits, id=p.id) for p in problems]


def test_canonical_solutions_all_pass(sandbox, problems):
    verdicts = sandbox.map(_requests(problems, lambda p: p.references[0]))
    failed = [(v.id, v.status.value, v.detail) for v in verdicts if not v.passed]
    assert failed == []
    assert len(verdicts) == 164


def test_return_none_bodies_all_fail(sandbox, problems):
    verdicts = sandbox.map(_requests(problems, lambda p: p.prompt + "    return None\n"))
    passed = [v.id for v in verdicts if v.passed]
    assert passed == []
    statuses = {v.status for v in verdicts}
    assert statuses <= {Status.FAILED, Status.RUNTIME_ERROR}, statuses
