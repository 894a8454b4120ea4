"""`python -m harness run` on bad input: pools, options, endpoints and run directories
that are wrong are one error line and leave a run as it was."""

from __future__ import annotations

import json
import sqlite3

import pytest
from openai_server import FaultyOpenAIServer
from support import REPLAY, ROOT, answer_with_reference, harness, pool, rows

BAD_POOLS = [
    ("models: [\n  - name: a\n    provider: replay\n  oops",
     "line 2 column 3 not valid YAML (expected the node content"),
    ("models: []", "expected a non-empty list of models"),
    ("- {name: a, provider: gpt5}", "model 'a': field 'provider': unknown provider 'gpt5'; choose from openai"),
    ("- {provider: replay}", "models[0]: field 'name': missing"),
    ("- {name: a, provider: openai}", "model 'a': field 'model': missing (provider 'openai' needs it)"),
    ("- {name: a, provider: openai, model: m, api_key_env: CODEHARNESS_NO_SUCH_KEY, price: 1}",
     "model 'a': field 'api_key_env': environment variable CODEHARNESS_NO_SUCH_KEY is not set"),
    ("- {name: a, provider: replay, temperature: hot}", "model 'a': field 'temperature': must be a number"),
    ("- {name: a, provider: replay, n: 0}", "model 'a': field 'n': must be an integer >= 1, got 0"),
    ("- {name: a, provider: replay, price: {input: -1}}", "field 'price': field 'input': must be a number >= 0.0"),
    ("- {name: a, provider: replay, price: -1}", "model 'a': field 'price': must be a number >= 0.0, got -1"),
    ("- {name: a, provider: replay}", "model 'a': field 'price': missing: USD per million tokens"),
    ("- {name: a, provider: replay, price: {input: 0.1}}", "model 'a': field 'price': field 'output': missing"),
    ("- {name: a, provider: replay, price: {output: 0}}", "model 'a': field 'price': field 'input': missing"),
    ("- {name: a, provider: replay, base_url: x}", "model 'a': field 'base_url': unknown field for provider 'replay'"),
    ("- {name: a, provider: replay, path: /no/such/dir, price: 0}",
     "field 'path': /no/such/dir: no such file or folder"),
    ("- {name: a, provider: replay, price: 0}\n- {name: a, provider: replay, price: 0}",
     "model name 'a' appears more than once"),
    ("- {name: a, provider: openai, model: m, base_url: 'ftp://x', price: 0}",
     "field 'base_url': must be an http(s) URL"),
    ("- {name: a, provider: replay, prompt_style: fancy, price: 0}",
     "field 'prompt_style': unknown style 'fancy'; choose from"),
]


@pytest.mark.parametrize("text,message", BAD_POOLS)
def test_bad_pool_one_clear_line(tmp_path, existing_run, text, message):
    bad = tmp_path / "pool.yaml"
    bad.write_text(text)
    run_dir = existing_run
    before = (run_dir / "run.sqlite").read_bytes()
    proc = harness("run", "--dataset", "humaneval", "--models", str(bad), "--run-dir", str(run_dir),
                   "--sandbox", "local")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith(f"error: {bad}")
    assert message in proc.stderr, proc.stderr
    assert (run_dir / "run.sqlite").read_bytes() == before


def test_explicit_zero_price_is_free_and_every_example_pool_loads(tmp_path):
    from harness.pipeline.pool_file import load_pool
    from harness.providers.spec import Price

    path = tmp_path / "pool.yaml"
    path.write_text("- {name: a, provider: replay, price: 0}\n"
                    "- {name: b, provider: replay, price: {input: 0, output: 0}}\n"
                    "- {name: c, provider: replay, price: {input: 0.1, output: 0.4}}\n")
    assert [s.price for s in load_pool(path)] == [Price(0.0, 0.0), Price(0.0, 0.0), Price(0.1, 0.4)]
    for example in sorted((ROOT / "examples").glob("*.yaml")):
        assert load_pool(example), example  # every example states its prices


@pytest.mark.parametrize("case", ["unknown dataset", "unreachable endpoint", "changed model", "other dataset",
                                  "not a run dir"])
def test_bad_run_inputs_leave_the_run_intact(tmp_path, existing_run, case):
    run_dir = existing_run
    before = rows(run_dir)
    models, dataset = pool(tmp_path, REPLAY[0], name="ok.yaml"), "humaneval"
    target = run_dir
    if case == "unknown dataset":
        dataset, message = "humaneva", "unknown dataset 'humaneva'; available: apps"
    elif case == "unreachable endpoint":
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again: nothing listens there
        models = pool(tmp_path, REPLAY[0], {"name": "down", "provider": "openai", "model": "m", "price": 0,
                                            "base_url": f"http://127.0.0.1:{port}/v1"}, name="down.yaml")
        message = f"model 'down': cannot reach http://127.0.0.1:{port}/v1"
    elif case == "changed model":
        models = pool(tmp_path, dict(REPLAY[0], temperature=0.7), name="ok.yaml")
        message = "model 'Yi-Coder-1.5B-Chat' differs from the one this run started with"
    elif case == "other dataset":
        dataset, message = "mbpp", "holds a run of"
    else:
        target = tmp_path / "notes"
        target.mkdir()
        (target / "mine.txt").write_text("keep")
        message = "not empty and not a run directory"
    proc = harness("run", "--dataset", dataset, "--models", models, "--run-dir", str(target), "--sandbox", "local")
    assert proc.returncode == 2, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert rows(run_dir) == before


@pytest.mark.parametrize("raw,delay,message", [
    (b"not json{{{", 0, "returned an invalid response (JSONDecodeError"),
    (b'{"foo": 1}', 0, "returned an invalid response"),
    (b'{"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}', 0,
     "returned an invalid response (IndexError"),
    (None, 3, "did not answer within 1.0 s"),
])
def test_broken_endpoint_one_line(tmp_path, raw, delay, message):
    with FaultyOpenAIServer(answer_with_reference, raw=raw, delay=delay) as server:
        model = {"name": "m", "provider": "openai", "base_url": server.url, "model": "m", "timeout": 1,
                 "max_retries": 0, "price": 0}
        proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, model), "--limit", "1",
                       "--sandbox", "local", "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error:") and message in lines[-1], proc.stderr
    assert "Traceback" not in proc.stderr and sum(x.startswith("error:") for x in lines) == 1


@pytest.mark.parametrize("setup,message", [
    ("typo", "field 'model' (default: 'name'): no recordings of 'Yi-Coder-1.5B-chat'"),
    ("tokens", "row 1: 'tokens_out' must be an integer >= 0, got 'many'"),
    ("passed", "row 1: 'passed' must be true or false, got 'yes'"),
    ("empty", "is empty"),
    ("no dataset", "--dataset: no dataset given"),
])
def test_replay_and_option_mistakes(tmp_path, setup, message):
    model, dataset = {"name": "m", "provider": "replay", "path": "s.jsonl", "price": 0}, "humaneval"
    row = {"task_id": "HumanEval/0", "completion": "x"}
    if setup == "typo":
        model = {"name": "Yi-Coder-1.5B-chat", "provider": "replay", "price": 0.14}
    elif setup == "tokens":
        row["tokens_out"] = "many"
    elif setup == "passed":
        row["passed"] = "yes"
    elif setup == "no dataset":
        dataset = " , "
    (tmp_path / "s.jsonl").write_text("" if setup == "empty" else json.dumps(row) + "\n")
    proc = harness("run", "--dataset", dataset, "--models", pool(tmp_path, model), "--limit", "1", "--sandbox",
                   "local", "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("what", ["text file", "garbage db", "no samples table", "old version"])
def test_matrix_and_report_on_non_run_stores(tmp_path, what):
    target = tmp_path / "x"
    message = "not a run store"
    if what == "text file":
        target.write_text("hello")
    elif what == "old version":
        from harness.store.runstore import RunStore

        RunStore(target).set_meta("schema_version", 1)
        message = "run store version 1, this codeharness reads 2, 3, 4 and 5"
    else:
        target.mkdir()
        if what == "garbage db":
            (target / "run.sqlite").write_bytes(b"\x00" * 4096)
        else:
            sqlite3.connect(target / "run.sqlite").execute("CREATE TABLE t (x)").connection.commit()
    for args in (["matrix", str(target)], ["report", "agreement", str(target)]):
        proc = harness(*args)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_unwritable_outputs(existing_run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = harness("matrix", str(existing_run), "--out", str(blocker / "sub"))
    assert proc.returncode == 2 and "cannot create" in proc.stderr and "Traceback" not in proc.stderr
    proc = harness("report", "agreement", str(existing_run), "--out", str(blocker / "a.md"))
    assert proc.returncode == 2 and "cannot write" in proc.stderr and "Traceback" not in proc.stderr


def test_fresh_waits_for_the_models_and_failed_checks_lock_nothing(existing_run, tmp_path):
    before = rows(existing_run)
    dead = {"name": "Yi-Coder-1.5B-Chat", "provider": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1",
            "timeout": 2, "max_retries": 0, "price": 0.14}
    proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, dead, name="dead.yaml"), "--limit", "1",
                   "--sandbox", "local", "--run-dir", str(existing_run), "--fresh")
    assert proc.returncode == 2 and "cannot reach http://127.0.0.1:9/v1" in proc.stderr
    assert rows(existing_run) == before  # --fresh did not drop the run before the model answered
    new_dir = tmp_path / "new"
    harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, dead, name="dead.yaml"), "--limit", "1",
            "--sandbox", "local", "--run-dir", str(new_dir))
    fixed = dict(REPLAY[0], n=1)  # the user fixes the pool: accepted, nothing was locked
    proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, fixed, name="dead.yaml"), "--limit",
                   "1", "--sandbox", "local", "--run-dir", str(new_dir), "--no-calibrate")
    assert proc.returncode == 0, proc.stderr


def test_price_change_recomputes_costs(existing_run, tmp_path):
    dearer = dict(REPLAY[0], price={"input": 2.0, "output": 3.0})
    proc = harness("run", "--dataset", "humaneval", "--models", pool(tmp_path, dearer, name="ok.yaml"), "--limit",
                   "1", "--n", "1", "--sandbox", "local", "--run-dir", str(existing_run))
    assert proc.returncode == 0 and "price changed; its stored samples' costs recomputed" in proc.stderr
    ((tin, tout, cost),) = rows(existing_run, "tokens_in, tokens_out, cost")
    assert cost == pytest.approx((2 * tin + 3 * tout) / 1e6)


def test_base_url_without_v1_is_caught_before_generation(tmp_path):
    """A server whose API is under /v1 (vLLM, SGLang...), given its root URL: the
    endpoint check says so, with the URL meant, before any sample is requested."""
    with FaultyOpenAIServer(answer_with_reference) as server:
        root = server.url.removesuffix("/v1")
        model = {"name": "local", "provider": "openai", "base_url": root, "model": "fake", "price": 0}
        models = pool(tmp_path, model)
        proc = harness("run", "--dataset", "humaneval", "--models", models, "--limit", "2", "--sandbox", "local",
                       "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stderr
    errors = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert errors == [f"error: {models}: model 'local': field 'base_url': {root}/models answered HTTP 404, "
                      f"{root}/v1/models answers: did you mean {root}/v1?"]
    assert server.unknown_paths == ["GET /models"] and server.requests == []  # nothing was generated
    assert not (tmp_path / "run" / "run.sqlite").exists() or rows(tmp_path / "run") == []


def test_a_changed_model_names_what_changed(existing_run, tmp_path):
    models = pool(tmp_path, dict(REPLAY[0], temperature=0.7, stop=["\nclass"]), name="ok.yaml")
    proc = harness("run", "--dataset", "humaneval", "--models", models, "--run-dir", str(existing_run),
                   "--sandbox", "local")
    assert proc.returncode == 2, proc.stderr
    errors = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert errors == [f"error: {existing_run}: model 'Yi-Coder-1.5B-Chat' differs from the one this run started "
                      f"with ({models}: model 'Yi-Coder-1.5B-Chat'): stop [] -> ['\\nclass'], temperature 0.0 -> "
                      "0.7; use --fresh, another --run-dir or a new model name"]


def test_identity_changes_name_the_pool_fields_and_hide_secrets():
    from harness.store.identity import identity_changes

    old = {"provider": "openai", "params": {"temperature": 0.0, "stop": []}, "prompt_style": "default",
           "options": {"model": "m", "extra_body": {"api_key": "sk-old", "seed": 1}}}
    new = {"provider": "openai", "params": {"temperature": 0.2, "stop": []}, "prompt_style": "sandboxfusion",
           "options": {"model": "m2", "system": "x" * 80, "extra_body": {"api_key": "sk-new", "seed": 1}}}
    assert identity_changes(old, new) == (
        "prompt_style 'default' -> 'sandboxfusion', temperature 0.0 -> 0.2, extra_body.api_key (hidden) -> "
        f"(hidden), model 'm' -> 'm2', system (unset) -> '{'x' * 56}...")
    assert "sk-" not in identity_changes(old, new)
    # A count of tokens is shown; a token is not.
    assert identity_changes({"params": {"max_tokens": 512}, "options": {"access_token": "t1"}},
                            {"params": {"max_tokens": 1024}, "options": {"access_token": "t2"}}) == \
        "max_tokens 512 -> 1024, access_token (hidden) -> (hidden)"


def test_a_run_stored_with_prompt_style_default_resumes_where_the_prompt_is_unchanged(existing_run, tmp_path):
    """Before styles resolved by the model's kind, `default` meant the benchmark's prompt
    to continue: a replay model's stored run resumes; a chat model's default is now
    another prompt (instruct): a change, named."""
    import sqlite3

    with sqlite3.connect(existing_run / "run.sqlite") as con:
        con.execute("UPDATE models SET identity = json_set(identity, '$.prompt_style', 'default')")
    plain = pool(tmp_path, {k: v for k, v in REPLAY[0].items() if k != "prompt_style"}, name="plain.yaml")
    before = rows(existing_run)
    proc = harness("run", "--dataset", "humaneval", "--models", plain, "--run-dir", str(existing_run),
                   "--limit", "1", "--n", "1", "--sandbox", "local", "--no-calibrate")
    assert proc.returncode == 0, proc.stderr
    assert "0 samples to generate, 0 to execute" in proc.stderr and rows(existing_run) == before
    from harness.store.identity import identity_changes, normal, resolved

    stored = {"provider": "openai", "prompt_style": "default", "params": {}, "options": {"model": "m"}}
    chat = dict(stored, prompt_style="instruct")
    assert resolved(stored) != normal(chat)
    assert identity_changes(stored, chat) == "prompt_style 'default' -> 'instruct'"


def test_a_source_without_problems_is_said_so_not_blamed_on_the_models(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    proc = harness("run", "--dataset", "humaneval", "--source", str(tmp_path / "empty.jsonl"), "--models",
                   pool(tmp_path, REPLAY[0]), "--run-dir", str(tmp_path / "run"), "--sandbox", "local")
    assert proc.returncode == 2
    assert proc.stderr == f"error: humaneval: no problems with tests in {tmp_path / 'empty.jsonl'}\n"
