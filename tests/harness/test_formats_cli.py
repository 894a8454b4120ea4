"""Imported routing files through the CLI, end to end: `route compare` and `report
oracle-gap` on small files with values computed by hand, on the bundled pools with
values computed from their files by the standard library alone, and the one-line
errors of what cannot be read or combined."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
from support import ROOT, A, B, harness, rb_row, routerbench_csv, routerdc

ROUTING = ROOT / "benchmarks" / "data" / "routing"


def rows_of(out: str) -> dict[str, dict]:
    return {r["router"]: r for r in json.loads(out)["rows"]}


def test_route_compare_on_routerdc_files_with_a_price_table(tmp_path):
    # train: A 0.5, B 0.75 -> the SBS is B; A is cheaper -> `cheapest` is A
    train = routerdc(tmp_path / "humaneval_train.json", [(f"q{i}", {A: a, B: b}) for i, (a, b)
                                                         in enumerate([(1, 1), (0, 1), (0, 0), (1, 1)])])
    test = routerdc(tmp_path / "humaneval_test.json", [("t0", {A: 1.0, B: 0.0}), ("t1", {A: 0.0, B: 1.0})])
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({A: 0.001, B: 0.01}))
    r = harness("route", "compare", "--data", f"{train},{test}", "--prices", str(prices), "--routers",
                "sbs,oracle,cheapest", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = rows_of(r.stdout)
    assert (rows["sbs"]["quality"], rows["sbs"]["cost_per_problem"]) == (0.5, 0.01)
    assert (rows["cheapest"]["quality"], rows["cheapest"]["cost_per_problem"]) == (0.5, 0.001)
    # the oracle: t0 -> A ($0.001), t1 -> B ($0.01)
    assert rows["oracle"]["quality"] == 1.0 and rows["oracle"]["cost_per_problem"] == pytest.approx(0.0055)
    assert rows["sbs"]["coverage"] == "2/2" and set(rows) == {"sbs", "oracle", "cheapest", f"model:{A}", f"model:{B}"}
    no_prices = harness("route", "compare", "--data", f"{train},{test}", "--routers", "sbs")
    assert no_prices.returncode == 2 and no_prices.stderr.count("\n") == 1
    assert "records no costs" in no_prices.stderr and "--prices FILE" in no_prices.stderr


def test_report_oracle_gap_on_a_routerbench_file(tmp_path):
    path = routerbench_csv(tmp_path / "mbpp_test.csv", [
        rb_row(f"s{i}", f"task {i}", scores, ("a", "b"), (0.1, 0.2)) for i, scores
        in enumerate([(1.0, 1.0), (0.0, 1.0), (1.0, 0.0)])])
    r = harness("report", "oracle-gap", str(path), "--format", "json")
    assert r.returncode == 0, r.stderr
    # A and B both 2/3: the tie goes to A, cheaper; the oracle solves all three; the SBS
    # loses p1 only (strict), and p1's cheapest best model is B (WCR)
    assert json.loads(r.stdout) == [{"dataset": "mbpp", "n": 3, "sbs_model": A, "sbs_mean": 2 / 3,
                                     "oracle_mean": 1.0, "og": 1 - 2 / 3, "wcr": 1 / 3, "wcr_strict": 1 / 3}]
    md = harness("report", "oracle-gap", str(path))
    assert f"mbpp: {A} 0.667 ($1.00e-01), {B} 0.667 ($2.00e-01)" in md.stdout


def test_bundled_routerdc_humaneval_oracle_gap():
    rows = [r for name in ("humaneval_train.json.gz", "humaneval_test.json.gz")
            for r in json.loads(gzip.decompress((ROUTING / name).read_bytes()))]
    models = list(rows[0]["scores"])
    means = {m: sum(r["scores"][m] for r in rows) / len(rows) for m in models}
    best = max(models, key=lambda m: means[m])
    oracle = sum(max(r["scores"].values()) for r in rows) / len(rows)
    r = harness("report", "oracle-gap", "routerdc-humaneval", "--format", "json")
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(r.stdout)
    assert (row["dataset"], row["n"], row["sbs_model"]) == ("humaneval", 164, best)
    assert row["sbs_mean"] == pytest.approx(means[best], abs=1e-12)
    assert row["oracle_mean"] == pytest.approx(oracle, abs=1e-12)
    assert (best, round(means[best], 4), round(oracle, 4)) == ("cognitivecomputations/dolphin-2.9-llama3-8b", 0.5128,
                                                               0.7055)


def test_bundled_routerbench_mbpp_route_compare():
    def table(name):
        with gzip.open(ROUTING / name, "rt") as fh:
            return list(csv.DictReader(fh))

    train, test = table("mbpp_train.csv.gz"), table("mbpp_test.csv.gz")
    models = [c for c in train[0] if c and "|" not in c and c not in ("sample_id", "prompt", "eval_name",
                                                                       "oracle_model_to_route_to")]

    def mean(rows, column):
        return sum(float(r[column]) for r in rows) / len(rows)

    best = max(models, key=lambda m: (mean(train, m), -mean(train, f"{m}|total_cost")))
    r = harness("route", "compare", "--data", "routerbench-mbpp", "--routers", "sbs,oracle", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert "297 of 299 MBPP rows matched" in r.stderr and "126 of 128 MBPP rows matched" in r.stderr
    sbs = rows_of(r.stdout)["sbs"]
    # fitted on train (GPT-4 0.6856); on test GPT-3.5 ties it at 0.6875 and is cheaper: the test's own SBS
    assert sbs["shares"] == {best: 1.0} and best == "gpt-4-1106-preview" and sbs["coverage"] == "128/128"
    assert sbs["sbs_model"] == "gpt-3.5-turbo-1106" and sbs["sbs_quality"] == mean(test, best) == 0.6875
    assert sbs["quality"] == pytest.approx(mean(test, best), abs=1e-12)
    assert sbs["cost_per_problem"] == pytest.approx(mean(test, f"{best}|total_cost"), abs=1e-15)


def test_imported_sources_refuse_what_they_cannot_mean(tmp_path):
    dc = routerdc(tmp_path / "humaneval_test.json", [("q", {A: 1.0})])
    matrix = tmp_path / "m.csv"
    matrix.write_text("problem,m1\np1,0.5\n")
    prices = tmp_path / "p.json"
    prices.write_text(json.dumps({A: 1}))
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    for args, message in [
        (("report", "oracle-gap", f"{dc},{matrix}"), f"{dc} is a routerdc file, a source of its own: it cannot be "
                                                     f"combined with {matrix} (a run directory or a matrix file)"),
        (("report", "oracle-gap", f"routerdc-mbpp,{dc}"), "'routerdc-mbpp' is a source of its own"),
        (("route", "compare", "--prices", str(prices), "--routers", "sbs"), "--prices is for imported routing files"),
        (("report", "oracle-gap", str(junk)), f"{junk}: neither a matrix file (it needs a 'problem' column"),
    ]:
        r = harness(*args)
        assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1, (args, r.stderr)


def test_help_lists_the_bundled_pools():
    for args in (("route", "compare", "--help"), ("report", "oracle-gap", "--help")):
        text = " ".join(harness(*args).stdout.split())
        assert "routerdc-humaneval, routerdc-mbpp, routerbench-mbpp" in text, args


def test_report_html_of_an_imported_file(tmp_path):
    path = routerbench_csv(tmp_path / "mbpp_test.csv", [
        rb_row(f"s{i}", f"task {i}", scores, ("a", "b"), (0.1, 0.2)) for i, scores
        in enumerate([(1.0, 1.0), (0.0, 1.0), (1.0, 0.0)])])
    r = harness("report", "html", str(path), "--out", str(tmp_path / "report"))
    assert r.returncode == 0, r.stderr
    page = Path(r.stdout.strip()).read_text()
    assert "routerbench file mbpp_test.csv" in page and "the file&#x27;s, USD per problem" in page
