"""Several run directories / matrix files read as one (``harness.store.sources``) by
``route compare --data A,B``, ``report oracle-gap A,B`` and ``report html A,B``:
models matched by name, problems the union, a cell two runs share pooled (its
samples side by side), conflicts and missing paths one error line."""

import json
import shutil
import sqlite3

import pytest
from support import REPLAY, harness, pool

from harness.store.sources import load_runs

YI, DS = (m["name"] for m in REPLAY)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A: HumanEval/0-1, B: HumanEval/0-2 (0 and 1 pooled with A's), C: 3 LeetCode
    problems of AdaptiveLLM's source; each of the two replayed models, 1 sample."""
    tmp = tmp_path_factory.mktemp("runs")
    models = pool(tmp, *(dict(m, n=1) for m in REPLAY))
    out = []
    for name, extra in (("A", ["humaneval", "--limit", "2"]), ("B", ["humaneval", "--limit", "3"]),
                        ("C", ["leetcode", "--source", "adaptivellm", "--limit", "3"])):
        proc = harness("run", "--dataset", *extra, "--models", models, "--sandbox", "local", "--no-calibrate",
                       "--run-dir", str(tmp / name))
        assert proc.returncode == 0, proc.stderr
        out.append(tmp / name)
    return out


def one_error(proc) -> str:
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    return proc.stderr


@pytest.mark.slow
def test_runs_pool_into_the_union_of_their_problems(runs):
    alone = [load_runs([str(r)]).matrix for r in runs]
    m = load_runs([str(r) for r in runs]).matrix
    leetcode = list(alone[2].passes.index)
    assert len(leetcode) == 3 and {d for d, _ in leetcode} == {"leetcode"}
    assert list(m.passes.columns) == [YI, DS]
    assert list(m.passes.index) == [("humaneval", f"HumanEval/{i}") for i in range(3)] + leetcode
    assert int(m.passes.notna().sum().sum()) == 12  # complete: 6 problems x 2 models
    # (2 + 3 + 3) problems x 2 models, 1 sample each; a pooled cell has A's sample 0 and B's, numbered 1
    assert len(m.samples) == 16
    shared = m.samples[m.samples["problem"] == "HumanEval/0"]
    assert sorted(zip(shared["model"], shared["sample"], strict=True)) == [(YI, 0), (YI, 1), (DS, 0), (DS, 1)]
    # a pooled cell is the mean over both runs' samples (replay answers sample 0 alike in both)
    for model in (YI, DS):
        assert m.passes.loc[("humaneval", "HumanEval/0"), model] == alone[1].passes.loc[
            ("humaneval", "HumanEval/0"), model]
    assert m.passes.loc[leetcode].equals(alone[2].passes)
    assert m.costs.loc[("humaneval", "HumanEval/2")].equals(alone[1].costs.loc[("humaneval", "HumanEval/2")])


@pytest.mark.slow
def test_the_three_commands_read_a_comma_separated_list(runs, tmp_path):
    data = ",".join(map(str, runs))
    gap = harness("report", "oracle-gap", data, "--format", "json")
    assert gap.returncode == 0, gap.stderr
    assert [(r["dataset"], r["n"]) for r in json.loads(gap.stdout)] == [("humaneval", 3), ("leetcode", 3)]
    compare = harness("route", "compare", "--data", data, "--routers", "sbs,oracle", "--format", "json",
                      "--sandbox", "local")
    assert compare.returncode == 0, compare.stderr
    rows = json.loads(compare.stdout)["rows"]
    assert [r["router"] for r in rows] == ["sbs", "oracle", f"model:{YI}", f"model:{DS}"]
    # the seeded split's test share of each dataset: round(0.3 x 3) = 1 each
    assert {r["problems"] for r in rows} == {2}
    html = harness("report", "html", data, "--out", str(tmp_path / "out"))
    assert html.returncode == 0, html.stderr
    page = (tmp_path / "out" / "index.html").read_text()
    assert "<td>run directories A, B, C (pooled: models matched by name, problems the union)</td>" in page
    assert "<td>humaneval (3 problems), leetcode (3 problems)</td>" in page
    assert "<th>samples</th><td>16</td>" in page
    assert "<th>split / source</th><td>test / bundled, test / adaptivellm</td>" in page
    from harness.cli.report import out_name

    assert out_name(data) == "A+B+C"  # the default --out: results/report__A+B+C


@pytest.mark.slow
def test_mistakes_are_one_line_naming_the_source(runs, tmp_path):
    a, b, _ = map(str, runs)
    assert one_error(harness("route", "compare", "--data", f"{a},{tmp_path}/nope")) == (
        f"error: {tmp_path}/nope: no such run directory or matrix file\n")
    assert one_error(harness("report", "oracle-gap", f"{a},{a}")) == f"error: {a},{a}: {a} is given twice\n"
    assert one_error(harness("report", "html", f"adaptivellm,{a}")).startswith(
        f"error: adaptivellm,{a}: 'adaptivellm' is a source of its own")
    for change, expected in (
            ("UPDATE models SET price_out = 9 WHERE name = 'Yi-Coder-1.5B-Chat'",
             f"model {YI!r} costs 0.14/9.0 USD per Mtok (in/out), in {a} 0.14/0.14: not the same model"),
            ("""UPDATE models SET identity = json_set(identity, '$.params.temperature', 0.7)
                WHERE name = 'Yi-Coder-1.5B-Chat'""", f"model {YI!r} differs from the one in {a} (temperature"),
            ("""UPDATE meta SET value = json_set(value, '$.split', 'train') WHERE key = 'run'""",
             f"dataset 'humaneval' was run on split 'train' of source bundled, in {a} on split 'test'")):
        c = tmp_path / "C"
        shutil.rmtree(c, ignore_errors=True)
        shutil.copytree(b, c)
        with sqlite3.connect(c / "run.sqlite") as con:
            con.execute(change)
        err = one_error(harness("report", "oracle-gap", f"{a},{c}"))
        assert err.startswith(f"error: {c}: {expected}"), err


def test_matrix_files_join_and_refuse_a_cell_given_twice(tmp_path):
    from harness.route.experiments import oracle_gap_table

    (tmp_path / "x.csv").write_text("dataset,problem,m1,m2\nd,p1,1,0\nd,p2,0,1\n")
    (tmp_path / "y.csv").write_text("dataset,problem,m2,m3\nd,p3,1,0.5\ne,q1,0,1\n")
    (tmp_path / "z.csv").write_text("dataset,problem,m1\nd,p2,1\n")
    from harness.store.sources import matrix_scores

    joined = matrix_scores([str(tmp_path / "x.csv"), str(tmp_path / "y.csv")])
    assert list(joined.columns) == ["m1", "m2", "m3"]
    assert list(joined.index) == [("d", "p1"), ("d", "p2"), ("d", "p3"), ("e", "q1")]
    assert joined.notna().sum().tolist() == [2, 4, 2]
    # union of problems; d has no problem every model scores: dropped with a note
    notes = []
    rows = oracle_gap_table(f"{tmp_path / 'x.csv'},{tmp_path / 'y.csv'}", log=notes.append)
    assert [(r["dataset"], r["n"]) for r in rows] == [("e", 1)] and len(notes) == 1
    proc = harness("report", "oracle-gap", f"{tmp_path / 'x.csv'},{tmp_path / 'z.csv'}")
    assert one_error(proc) == (f"error: {tmp_path / 'z.csv'}: problem 'p2' of 'd' has a score of model 'm1' here "
                               f"and in {tmp_path / 'x.csv'} (a matrix file has no sample counts to pool: give each "
                               "cell once)\n")


@pytest.mark.slow
def test_a_run_and_a_matrix_file_join_as_scores(runs, tmp_path):
    csv = tmp_path / "other.csv"
    csv.write_text("dataset,problem,other\nhumaneval,HumanEval/0,1\nhumaneval,HumanEval/1,0\n")
    gap = harness("report", "oracle-gap", f"{runs[0]},{csv}", "--format", "json")
    assert gap.returncode == 0, gap.stderr
    (row,) = json.loads(gap.stdout)
    assert row["dataset"] == "humaneval" and row["n"] == 2
    html = harness("report", "html", f"{runs[0]},{csv}", "--out", str(tmp_path / "out"))
    assert html.returncode == 0, html.stderr
    page = (tmp_path / "out" / "index.html").read_text()
    assert "<td>run directory A, matrix file other.csv (models matched by name, problems the union)</td>" in page
    assert f"<td>3: {YI}, {DS}, other</td>" in page
