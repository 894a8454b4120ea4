"""The four routing formats read from small files written in exactly their layouts:
scores, costs, splits, prompts and responses to the value; detection from content;
every hostile input one error line naming the file."""

from __future__ import annotations

import csv
import gzip
import json
import math

import pandas as pd
import pytest
from support import A, B, rb_row, routerbench_csv, routerdc

from routers.formats import BUNDLED, FORMATS, bundled_paths, detect, load
from routers.formats.base import read_prices

NON_PRIME = "Write a python function to identify non-prime numbers."  # MBPP/3's statement
FENCED = "Sure:\n```python\ndef is_not_prime(n):\n    return n < 2\n```\n"


def embedllm_csv(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["prompt_id", "model_id", "category_id", "label", "model_name", "category", "prompt"])
        w.writerows(rows)
    return path


def lrb_file(root, dataset, split, model, stamp, records, demo=False):
    folder = root / "bench" / dataset / split / model
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dataset}-{split}-{model}-{stamp}.json"
    path.write_text(json.dumps({"performance": 0.5, "time_taken": 1.0, "prompt_tokens": 0, "completion_tokens": 0,
                                "cost": 0.0, "counts": len(records), "model_name": model, "dataset_name": dataset,
                                "split": split, "demo": demo, "records": records}))
    return path


def rec(index, score, cost=0.001, out=10, query="q"):
    return {"index": index, "origin_query": f"{query}{index}", "prompt": f"Question: {query}{index}",
            "prompt_tokens": 5, "completion_tokens": out, "cost": cost, "score": score, "prediction": "x",
            "ground_truth": "y", "raw_output": f"answer {index}", "extra_fields": {}}


def test_routerdc_train_and_test_files_are_the_split_and_have_no_costs(tmp_path):
    train = routerdc(tmp_path / "humaneval_train.json",
                     [("def f():", {A: 0.3, B: 1.0}), ("def g():", {A: 0.0, B: 0.5})])
    test = routerdc(tmp_path / "humaneval_test.json", [("def h():", {A: 0.7, B: 0.1})])
    assert detect(train) == "routerdc"
    data = load([train, test])
    ids = ["humaneval/humaneval_train/0", "humaneval/humaneval_train/1", "humaneval/humaneval_test/0"]
    assert list(data.scores.index) == ids and data.models == [A, B]
    assert data.scores.to_numpy().tolist() == [[0.3, 1.0], [0.0, 0.5], [0.7, 0.1]]
    assert data.splits == {"train": ids[:2], "test": ids[2:]}
    assert list(data.prompts) == ["def f():", "def g():", "def h():"] and set(data.datasets) == {"humaneval"}
    assert not data.has_costs and data.execution is None and data.responses is None
    prices = tmp_path / "prices.yaml"
    prices.write_text(f"{A}: 0.002\n{B}: 0.01\n")
    priced = load([train, test], prices=prices)
    assert priced.costs.to_numpy().tolist() == [[0.002, 0.01]] * 3 and priced.prices == {A: 0.002, B: 0.01}


def test_a_file_without_a_split_gets_the_seeded_one_and_reads_gzip(tmp_path):
    rows = [(f"q{i}", {A: i / 10, B: 1 - i / 10}) for i in range(10)]
    plain = routerdc(tmp_path / "mbpp.json", rows)
    packed = tmp_path / "mbpp.json.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    data = load([packed])
    assert sorted(map(len, data.splits.values())) == [3, 7]
    assert set(data.splits["test"]) | set(data.splits["train"]) == {f"mbpp/mbpp/{i}" for i in range(10)}
    assert data.notes == ("split: seeded (0), 30% of each dataset's problems for test (the files name no "
                          "train/test split of their own)",)
    assert data.scores.loc["mbpp/mbpp/3"].tolist() == [0.3, 0.7]


def test_routerbench_csv_scores_costs_responses_and_mbpp_programs(tmp_path):
    path = routerbench_csv(tmp_path / "mbpp_test.csv", [
        rb_row("mbpp.dev.1", NON_PRIME, (1.0, 0.0), (FENCED, "no idea"), (0.00024, 6.78e-05)),
        rb_row("mbpp.dev.7", "Write a function nobody asked for.", (0.0, 1.0), ("x", "y"), (0.001, 0.0))])
    assert detect(path) == "routerbench"
    data = load([path])
    ids = ["mbpp/mbpp.dev.1", "mbpp/mbpp.dev.7"]
    assert list(data.scores.index) == ids and data.models == [A, B]
    assert data.scores.to_numpy().tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert data.costs.to_numpy().tolist() == [[0.00024, 6.78e-05], [0.001, 0.0]]
    assert data.prices == pytest.approx({A: (0.00024 + 0.001) / 2, B: 6.78e-05 / 2})
    assert data.splits == {"test": ids} and data.prompts[ids[0]] == NON_PRIME
    assert data.responses.at[ids[0], A] == FENCED
    assert data.notes == (f"{path}: 1 of 2 MBPP rows matched to a bundled MBPP problem by their statement; 1 not "
                          "(a statement several problems share, or none): no program for those",)
    assert {pid: p.id for pid, (_, p) in data.execution.problems.items()} == {ids[0]: "MBPP/3"}
    samples = data.execution.samples
    assert samples[(ids[0], A)][0].program == "def is_not_prime(n):\n    return n < 2\n"
    assert (samples[(ids[0], A)][0].score, samples[(ids[0], A)][0].cost) == (1.0, 0.00024)
    assert samples[(ids[1], B)][0].program is None and samples[(ids[1], B)][0].score == 1.0


def test_routerbench_pickle_reads_as_its_csv(tmp_path):
    path = routerbench_csv(tmp_path / "rb.csv", [rb_row("s1", "Say hi.", (0.5, 1.0), ("hi", "hello"), (0.1, 0.2),
                                                        eval_name="mt-bench")])
    pickle = tmp_path / "routerbench_0shot.pkl"
    pd.read_csv(path).to_pickle(pickle)
    assert detect(pickle) == "routerbench"
    data = load([pickle])
    assert data.scores.loc["mt-bench/s1"].tolist() == [0.5, 1.0]
    assert data.costs.loc["mt-bench/s1"].tolist() == [0.1, 0.2]
    assert data.execution is None and data.notes[0].startswith("split: seeded")


def test_embedllm_long_csv_with_a_repeated_pair(tmp_path):
    path = embedllm_csv(tmp_path / "test.csv", [
        ["0", 0, 3, 1, A, "gsm8k", "What is 2+2?"], ["0", 1, 3, 0, B, "gsm8k", "What is 2+2?"],
        ["1", 0, 5, 1, A, "mmlu", "Pick one."], ["1", 0, 5, 0, A, "mmlu", "Pick one."],
        ["1", 1, 5, 1, B, "mmlu", "Pick one."], ["2", 1, 3, 1, B, "gsm8k", "What is 3+3?"]])
    assert detect(path) == "embedllm"
    data = load([path])
    assert list(data.scores.index) == ["gsm8k/0", "mmlu/1", "gsm8k/2"] and data.models == [A, B]
    assert data.scores.fillna(-1).to_numpy().tolist() == [[1.0, 0.0], [0.5, 1.0], [-1, 1.0]]
    assert list(data.datasets) == ["gsm8k", "mmlu", "gsm8k"] and data.prompts["mmlu/1"] == "Pick one."
    assert data.splits == {"test": ["gsm8k/0", "mmlu/1", "gsm8k/2"]} and not data.has_costs
    assert data.notes == (f"{path}: 1 (question, model) pairs recorded more than once: scored by the mean of their "
                          "labels",)


def test_llmrouterbench_tree_latest_non_demo_run(tmp_path):
    lrb_file(tmp_path, "humaneval", "test", "m1", "20250101_000000", [rec(0, 0.0), rec(1, 0.0)])  # older
    lrb_file(tmp_path, "humaneval", "test", "m1", "20250102_000000", [rec(0, 1.0, 0.002, 40), rec(1, None, 0.003)])
    lrb_file(tmp_path, "humaneval", "test", "m1", "20250103_000000", [rec(0, 0.0)], demo=True)
    lrb_file(tmp_path, "humaneval", "test", "m2", "20250101_000000", [rec(0, 0.0, 0.0001, 7), rec(1, 0.5, 0.0002)])
    lrb_file(tmp_path, "medqa", "train", "m1", "20250101_000000", [rec(0, 1.0)])
    lrb_file(tmp_path, "medqa", "test", "m1", "20250101_000000", [rec(0, 0.0)])
    assert detect(tmp_path) == "llmrouterbench" and detect(tmp_path / "bench") == "llmrouterbench"
    data = load([tmp_path])
    ids = ["humaneval/0", "humaneval/1", "medqa/test-0", "medqa/train-0"]
    assert list(data.scores.index) == ids and data.models == ["m1", "m2"]
    assert data.scores.fillna(-1).to_numpy().tolist() == [[1.0, 0.0], [0.0, 0.5], [0.0, -1], [1.0, -1]]
    assert data.costs.loc["humaneval/0"].tolist() == [0.002, 0.0001]
    assert data.tokens.loc["humaneval/0"].tolist() == [40, 7]
    assert data.prompts["humaneval/1"] == "q1" and data.responses.at["humaneval/1", "m2"] == "answer 1"
    assert data.notes[0] == f"{tmp_path}: 1 records without a score counted as 0, as upstream's loader does"
    assert data.notes[1].startswith("split: seeded")  # humaneval has no train split


def test_detection_is_by_content_not_name(tmp_path):
    matrix = tmp_path / "scores.json"
    matrix.write_text("problem,m1\np1,0.5\n")
    assert detect(matrix) is None
    disguised = routerdc(tmp_path / "data.csv", [("q", {A: 1.0})])
    assert detect(disguised) == "routerdc"
    assert detect(tmp_path) is None  # a directory without LLMRouterBench's tree
    assert sorted(FORMATS) == ["embedllm", "llmrouterbench", "routerbench", "routerdc"]


@pytest.mark.parametrize(("name", "message"), [
    ("missing_cost", "model 'model-b' has no column 'model-b|total_cost'"),
    ("out_of_range", "score of model 'org/model-a' on 'mbpp/s1' must be a number in [0, 1] (got 1.5)"),
    ("malformed", "prompt of 'mbpp/s1' is not a Python-literal list of strings (\"['unclosed\")"),
    ("not_strings", "prompt of 'mbpp/s1' is not a list of strings ('[1, 2]')"),
    ("duplicate", "sample_id 's1' of 'mbpp' appears twice"),
    ("empty", "no rows"),
])
def test_routerbench_hostile_files(tmp_path, name, message):
    good = rb_row("s1", "p", (1.0, 0.0), ("a", "b"), (0.1, 0.2))
    rows = {"missing_cost": [good], "out_of_range": [{**good, A: 1.5}], "malformed": [{**good, "prompt": "['unclosed"}],
            "not_strings": [{**good, "prompt": "[1, 2]"}], "duplicate": [good, good], "empty": []}[name]
    path = routerbench_csv(tmp_path / "rb.csv", rows, drop=(f"{B}|total_cost",) if name == "missing_cost" else ())
    with pytest.raises(ValueError) as err:
        load([path])
    assert str(err.value) == f"{path}: {message}" and "\n" not in str(err.value)


def test_other_hostile_inputs(tmp_path):
    def error(paths, **kw) -> str:
        with pytest.raises(ValueError) as err:
            load(paths, **kw)
        return str(err.value)

    empty = tmp_path / "humaneval_test.json"
    empty.write_text("")
    assert error([empty]) == f"{empty}: none of the routing formats (routerbench, routerdc, embedllm, " \
                             "llmrouterbench: docs/formats.md)"
    lacking = routerdc(tmp_path / "a.json", [("q0", {A: 1.0, B: 0.0}), ("q1", {A: 0.5})])
    assert error([lacking]) == f"{lacking}: row 1: no score of model 'model-b' (every row scores the same models: " \
                               f"{A}, {B})"
    wrong = routerdc(tmp_path / "b.json", [("q0", {A: "yes"})])
    assert error([wrong]) == f"{wrong}: score of model '{A}' on 'b/b/0' must be a number in [0, 1] (got 'yes')"
    labels = embedllm_csv(tmp_path / "val.csv", [["0", 0, 0, 2, A, "mmlu", "q"]])
    assert error([labels]) == f"{labels}: line 2: label must be 0 or 1 (got 2)"
    clash = embedllm_csv(tmp_path / "train.csv", [["0", 0, 0, 1, A, "mmlu", "q"], ["0", 1, 0, 1, B, "gsm8k", "q"]])
    assert error([clash]) == f"{clash}: prompt_id '0' comes with two categories or prompts"
    lrb_file(tmp_path / "lrb", "mbpp", "test", "m1", "20250101_000000", [rec(0, 1.0), rec(0, 0.0)])
    assert error([tmp_path / "lrb"]).endswith("mbpp-test-m1-20250101_000000.json: record index 0 appears twice")
    good = routerdc(tmp_path / "c.json", [("q0", {A: 1.0, B: 0.0})])
    prices = tmp_path / "p.json"
    prices.write_text(json.dumps({A: 0.1}))
    assert error([good], prices=prices) == f"{prices}: no price for model '{B}' of {good} (its models: {A}, {B})"
    (tmp_path / "again").mkdir()
    again = routerdc(tmp_path / "again" / "c.json", [("q0", {A: 1.0, B: 0.0})])
    assert error([good, again]) == f"{again}: problem 'c/c/0' is also in {good} (give each problem once)"
    assert error([good, labels]).startswith("files of different formats cannot be read as one: ")
    for text, why in [("[1, 2]", "a price table maps each model"), ('{"m": -1}', "price of model 'm' must be"),
                      ("{", "not a JSON/YAML price table")]:
        prices.write_text(text)
        with pytest.raises(ValueError, match=why):
            read_prices(prices)


def test_bundled_pools_read_to_the_numbers_of_their_files():
    """Every bundled pool, against the files read with the standard library alone."""
    train = json.loads(gzip.decompress(bundled_paths("routerdc-humaneval")[0].read_bytes()))
    test = json.loads(gzip.decompress(bundled_paths("routerdc-humaneval")[1].read_bytes()))
    data = load(bundled_paths("routerdc-humaneval"))
    assert data.scores.shape == (164, 7) and {k: len(v) for k, v in data.splits.items()} == {"train": 115, "test": 49}
    for model in data.models:
        assert math.isclose(data.scores[model].mean(), sum(r["scores"][model] for r in train + test) / 164)
    mbpp = load(bundled_paths("routerdc-mbpp"))
    assert mbpp.scores.shape == (500, 7) and not mbpp.has_costs
    rb = load(bundled_paths("routerbench-mbpp"))
    assert rb.scores.shape == (427, 11) and {k: len(v) for k, v in rb.splits.items()} == {"train": 299, "test": 128}
    assert len(rb.execution.problems) == 423 and sorted(BUNDLED) == ["routerbench-mbpp", "routerdc-humaneval",
                                                                    "routerdc-mbpp"]
    with gzip.open(bundled_paths("routerbench-mbpp")[1], "rt") as fh:
        rows = list(csv.DictReader(fh))
    gpt4 = "gpt-4-1106-preview"
    assert math.isclose(rb.split("test").costs[gpt4].sum(), sum(float(r[f"{gpt4}|total_cost"]) for r in rows))
