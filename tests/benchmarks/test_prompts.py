"""Prompts: the exact text of every benchmark's styles, the style a model gets when
pool.yaml names none, per-model prompt templates (their errors, and their text as part
of the model's identity), and docs/prompts.md showing what the code sends."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from openai_server import FaultyOpenAIServer
from support import HUMANEVAL, HUMANEVAL_CHAT, ROOT, answer_with_reference, harness, pool, rows

from benchmarks import CallTests, IOTests, Problem, get_benchmark
from benchmarks.prompts import LCB_SYSTEM, PLACEHOLDERS
from harness.pipeline.pool_file import load_pool
from harness.providers import model_identity

DOC = (ROOT / "docs" / "prompts.md").read_text()
LCB_STDIN = ("### Format: Read the inputs from stdin solve the problem and write the answer to stdout (do not directly "
             "test on the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python "
             "program runs, it reads the inputs, runs the algorithm and writes output to STDOUT.\n"
             "```python\n# YOUR CODE HERE\n```\n\n### Answer: (use the provided format with backticks)\n\n")
LCB_STARTER = ("### Format: You will use the following starter code to write the solution to the problem and enclose "
               "your code within delimiters.\n```python\n{starter}\n```\n\n"
               "### Answer: (use the provided format with backticks)\n\n")
EVALPLUS = "Please provide a self-contained Python script that solves the following problem in a markdown code block:"


def problem(dataset: str, pid: str) -> Problem:
    return next(p for p in get_benchmark(dataset).load() if p.id == pid)


def test_humaneval_styles():
    bench, p = get_benchmark("humaneval"), problem("humaneval", "HumanEval/23")
    raw = "\n\ndef strlen(string: str) -> int:\n    \"\"\" Return length of given string\n    >>> strlen('')\n" \
          "    0\n    >>> strlen('abc')\n    3\n    \"\"\"\n"
    assert p.prompt == raw
    assert bench.prompt_for(p, "completion") == (raw, "")
    assert bench.prompt_for(p, "instruct") == (f"{EVALPLUS}\n```python\n{raw.strip()}\n```", "")
    assert bench.prompt_for(p, "sandboxfusion") == (
        f"```python\n{raw}\n```\n\nPlease complete the above code according to the requirements in the docstring. "
        "Write the complete code and wrap it in markdown syntax. The code should not contain `Main` function.", "")


def test_mbpp_styles():
    bench, p = get_benchmark("mbpp"), problem("mbpp", "MBPP/257")
    task, tests = "Write a function to swap two numbers.", ["assert swap_numbers(10,20)==(20,10)",
                                                             "assert swap_numbers(15,17)==(17,15)",
                                                             "assert swap_numbers(100,200)==(200,100)"]
    assert (p.prompt, p.metadata["test_list"]) == (task, tests)
    assert bench.prompt_for(p, "completion") == (
        f"You are an expert Python programmer, and here is your task: {task} Your code should pass these tests:"
        f"\n\n{tests[0]}\n{tests[1]}\n{tests[2]}\n", "")
    # evalplus: MBPP+'s prompt is the task and its first test in a docstring
    assert bench.prompt_for(p, "instruct") == (f'{EVALPLUS}\n```python\n"""\n{task}\n{tests[0]}\n"""\n```', "")


def test_stdin_and_starter_code_styles_follow_livecodebench():
    apps, cc = get_benchmark("apps"), get_benchmark("codecontests")
    stdin = Problem("apps", "1", "Print the sum of two numbers.", IOTests((("1 2\n", "3\n"),)),
                    metadata={"starter_code": ""})
    call = Problem("apps", "2", "Return the sum.", CallTests("add", (("[1, 2]", "3"),)), entry_point="add",
                   metadata={"starter_code": "def add(a, b):\n\t"})
    assert apps.prompt_for(stdin, "instruct") == (f"### Question:\nPrint the sum of two numbers.\n\n{LCB_STDIN}",
                                                  LCB_SYSTEM)
    assert apps.prompt_for(call, "instruct") == (
        "### Question:\nReturn the sum.\n\n" + LCB_STARTER.format(starter="def add(a, b):\n\t"), LCB_SYSTEM)
    assert apps.prompt_for(stdin, "completion") == (
        "Print the sum of two numbers.\n\nWrite a complete Python 3 program that is runnable inline: it reads its "
        "input from standard input and writes the answer to standard output.", "")
    assert apps.prompt_for(call, "completion") == (
        "Return the sum.\n\nComplete the following code (return the result, do not print it):\ndef add(a, b):\n\t", "")
    contest = Problem("codecontests", "1_A", "Print 42.", IOTests((("", "42\n"),)), metadata={"title": "Answer"})
    assert cc.prompt_for(contest, "instruct") == (f"### Question:\nPrint 42.\n\n{LCB_STDIN}", LCB_SYSTEM)
    assert cc.prompt_for(contest, "completion") == (
        "# Answer\n\nPrint 42.\n\nPlease implement a complete Python script. Your program should read input from "
        "standard input and write output to standard output.", "")
    assert LCB_SYSTEM == ("You are an expert Python programmer. You will be given a question (problem specification) "
                          "and will generate a correct Python program that matches the specification and passes all "
                          "tests.")


def test_leetcode_styles_in_both_query_formats():
    """LeetCodeDataset's queries are LiveCodeBench's prompt with the system message in
    the text, or (rows of AdaptiveLLM's subset) "... Please complete the following
    python code precisely"; instruct is LiveCodeBench's chat prompt for either."""
    bench = get_benchmark("leetcode")
    lcb = problem("leetcode", "shortest-distance-after-road-addition-queries-i")
    assert lcb.prompt.startswith(LCB_SYSTEM + "\n\n### Question:\nYou are given an integer n and a 2D integer")
    text, system = bench.prompt_for(lcb, "instruct")
    assert system == LCB_SYSTEM and lcb.prompt == f"{LCB_SYSTEM}\n\n{text[:-1]}"  # the dataset ends with one \n
    other = problem("leetcode", "remove-trailing-zeros-from-a-string")
    question, _, starter = other.prompt.rpartition("\nPlease complete the following python code precisely:\n")
    assert starter == "```python\nclass Solution:\n    def removeTrailingZeros(self, num: str) -> str:\n```"
    assert bench.prompt_for(other, "instruct") == (
        f"### Question:\n{question}\n\n" + LCB_STARTER.format(starter=starter[10:-4]), LCB_SYSTEM)
    assert bench.prompt_for(other, "completion") == (other.prompt, "")


def test_runbugrun_is_an_instruction_in_every_style():
    bench, p = get_benchmark("runbugrun"), problem("runbugrun", "282719")
    expected = (f"Provide a fix for the buggy function.\n\nBuggy code:\n```python\n{p.wrong[0]}\n```\n"
                f"\nWhen run on a test it fails with:\n```\n{p.metadata['errors'][0]['exception'].strip()}\n```\n")
    assert bench.prompt_for(p, "completion") == bench.prompt_for(p, "instruct") == (expected, "")


def test_template_placeholders():
    bench, p = get_benchmark("humaneval"), problem("humaneval", "HumanEval/23")
    template = "[{dataset} {problem_id} {entry_point}]\n{starter_code}|{examples}|{prompt}|{benchmark_prompt}"
    text, system = bench.prompt_for(p, "instruct", template)
    assert text == f"[humaneval HumanEval/23 strlen]\n{p.prompt}||{p.prompt}|{bench.prompt(p, 'instruct')}"
    assert system == ""
    mbpp = problem("mbpp", "MBPP/257")
    assert get_benchmark("mbpp").prompt_for(mbpp, "completion", "{examples}")[0] == "\n".join(
        mbpp.metadata["test_list"])
    leet = problem("leetcode", "remove-trailing-zeros-from-a-string")
    assert get_benchmark("leetcode").prompt_for(leet, "instruct", "{starter_code}|{entry_point}") == (
        "class Solution:\n    def removeTrailingZeros(self, num: str) -> str:|Solution().removeTrailingZeros",
        LCB_SYSTEM)


@pytest.mark.parametrize("model,style", [
    ({"provider": "openai", "model": "m"}, "instruct"),
    ({"provider": "openai", "model": "m", "api": "completions"}, "completion"),
    ({"provider": "openai", "model": "m", "prompt_style": "default"}, "instruct"),
    ({"provider": "openai", "model": "m", "api": "completions", "prompt_style": "instruct"}, "instruct"),
    ({"provider": "openai", "model": "m", "prompt_style": "completion"}, "completion"),
    ({"provider": "vllm", "model": "m"}, "instruct"),
    ({"provider": "vllm", "model": "m", "chat": False}, "completion"),
    ({"provider": "transformers", "path": "m"}, "instruct"),
    ({"provider": "transformers", "path": "m", "chat": False}, "completion"),
    ({"provider": "replay"}, "completion"),
    ({"provider": "replay", "prompt_style": "sandboxfusion"}, "sandboxfusion"),
])
def test_default_style_by_model_kind(tmp_path, model, style):
    (spec,) = load_pool(pool(tmp_path, {"name": "Yi-Coder-1.5B-Chat", "price": 0, **model}))
    assert spec.prompt_style == style and model_identity(spec)["prompt_style"] == style
    # sandboxfusion where a benchmark has no such prompt: the benchmark's usual one
    assert spec.style(get_benchmark("mbpp").prompt_styles) == (style if style != "sandboxfusion" else "completion")


def test_template_from_a_file_is_its_text(tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "t.txt").write_text("Solve:\n{prompt}\n")
    (spec,) = load_pool(pool(tmp_path, {"name": "m", "provider": "replay", "price": 0,
                                        "prompt_template": {"file": "prompts/t.txt"}}))
    assert spec.prompt_template == "Solve:\n{prompt}\n"
    assert model_identity(spec)["prompt_template"] == "Solve:\n{prompt}\n"
    (plain,) = load_pool(pool(tmp_path, {"name": "m", "provider": "replay", "price": 0}, name="plain.yaml"))
    assert "prompt_template" not in model_identity(plain)  # runs stored before templates existed resume


@pytest.mark.parametrize("template,message", [
    ("Solve {task}", "field 'prompt_template': unknown placeholder {task} (placeholders: {prompt}, {problem_id}, "
                     "{dataset}, {entry_point}, {starter_code}, {examples}, {benchmark_prompt})"),
    ("Solve {prompt.upper}", "field 'prompt_template': unknown placeholder {prompt.upper}"),
    ("Solve {0}", "field 'prompt_template': unknown placeholder {0}"),
    ("Answer as {'a': 1} for {prompt}", "field 'prompt_template': unknown placeholder {'a'} (placeholders: {prompt}, "
     "{problem_id}, {dataset}, {entry_point}, {starter_code}, {examples}, {benchmark_prompt}; write {{ and }} for "
     "literal braces)"),
    ("Solve it in Python", "field 'prompt_template': has no placeholder, so every problem would get the same prompt"),
    ("Solve {prompt", "field 'prompt_template': not a valid template (expected '}' before end of string; write {{ "
                      "and }} for literal braces)"),
    ({"file": "nowhere.txt"}, "field 'prompt_template': no such file DIR/nowhere.txt"),
    ({"file": "empty.txt"}, "field 'prompt_template': has no placeholder"),
    ({"path": "t.txt"}, "field 'prompt_template': must be a template string or {file: PATH} (relative to the pool "
                        "file)"),
    (3, "field 'prompt_template': must be a template string or {file: PATH}"),
])
def test_template_errors_are_one_line(tmp_path, template, message):
    (tmp_path / "empty.txt").write_text("nothing to fill in\n")
    models = pool(tmp_path, {"name": "m", "provider": "replay", "price": 0, "prompt_template": template})
    proc = harness("run", "--dataset", "humaneval", "--models", models, "--limit", "1", "--sandbox", "local",
                   "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"error: {models}: model 'm': "), lines
    assert message.replace("DIR", str(tmp_path)) in lines[0], lines


def test_unknown_style_names_the_choices(tmp_path):
    models = pool(tmp_path, {"name": "m", "provider": "replay", "price": 0, "prompt_style": "chat"})
    proc = harness("run", "--dataset", "humaneval", "--models", models, "--sandbox", "local",
                   "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"error: {models}: model 'm': field 'prompt_style': unknown style 'chat'; "
                                   "choose from completion, default, instruct, sandboxfusion")


def test_chat_model_gets_the_instruct_prompt_and_its_template_is_its_identity(tmp_path):
    """Through a real HTTP server: a chat model with no prompt_style is sent evalplus's
    prompt (HumanEval) and LiveCodeBench's with its system message (CodeContests);
    with a prompt_template it is sent the template; the template's text is stored with
    the run, and a changed one is refused on resume, naming the field."""
    he = get_benchmark("humaneval")
    first = problem("humaneval", "HumanEval/0")
    chat = {"name": "chat", "provider": "openai", "model": "fake", "price": 0, "max_tokens": 300}
    def answer(prompt: str) -> str:
        known = prompt in HUMANEVAL or prompt in HUMANEVAL_CHAT
        return answer_with_reference(prompt) if known else "```python\nprint(0)\n```"

    with FaultyOpenAIServer(answer) as server:
        run_dir = tmp_path / "run"
        models = pool(tmp_path, dict(chat, base_url=server.url))
        proc = harness("run", "--dataset", "humaneval", "--models", models, "--limit", "1", "--sandbox", "local",
                       "--run-dir", str(run_dir))
        assert proc.returncode == 0, proc.stderr
        assert server.requests[0]["messages"] == [{"role": "user", "content": he.prompt(first, "instruct")}]
        assert rows(run_dir, "prompt, status") == [(he.prompt(first, "instruct"), "passed")]

        template = "Answer with code only.\n\n{prompt}"
        models = pool(tmp_path, dict(chat, base_url=server.url, prompt_template=template), name="t.yaml")
        templated = tmp_path / "templated"
        args = ["run", "--dataset", "humaneval", "--models", models, "--limit", "1", "--sandbox", "local",
                "--run-dir", str(templated)]
        assert harness(*args).returncode == 0
        sent = f"Answer with code only.\n\n{first.prompt}"
        assert server.requests[-1]["messages"] == [{"role": "user", "content": sent}]
        assert rows(templated, "prompt") == [(sent,)]
        with sqlite3.connect(templated / "run.sqlite") as con:
            (identity,) = con.execute("SELECT identity FROM models WHERE name = 'chat'").fetchone()
        assert json.loads(identity)["prompt_template"] == template

        pool(tmp_path, dict(chat, base_url=server.url, prompt_template=template.replace("only", "alone")),
             name="t.yaml")
        proc = harness(*args)
        assert proc.returncode == 2
        assert proc.stderr.strip().splitlines()[-1] == (
            f"error: {templated}: model 'chat' differs from the one this run started with ({models}: model 'chat'): "
            "prompt_template 'Answer with code only.\\n\\n{prompt}' -> 'Answer with code alone.\\n\\n{prompt}'; "
            "use --fresh, another --run-dir or a new model name")

        contests = tmp_path / "contests"
        cc = get_benchmark("codecontests")
        proc = harness("run", "--dataset", "codecontests", "--models", pool(tmp_path, dict(chat, base_url=server.url),
                                                                               name="c.yaml"),
                       "--limit", "1", "--sandbox", "local", "--run-dir", str(contests), "--no-calibrate")
        assert proc.returncode == 0, proc.stderr
        (stored,) = rows(contests, "problem, prompt")
        contest = next(p for p in cc.load() if p.id == stored[0])
        assert stored[1] == cc.prompt(contest, "instruct")
        assert server.requests[-1]["messages"] == [{"role": "system", "content": LCB_SYSTEM},
                                                   {"role": "user", "content": stored[1]}]


# docs/prompts.md: each "<!-- prompt: DATASET STYLE ID -->" marker is followed by the
# messages that problem gets in that style, each "<!-- template: ... -->" by a
# template and what it gives.
FENCE = "````"


def block(text: str) -> str:
    return f"{FENCE}text\n{text}\n{FENCE}\n"


def prompt_section(dataset: str, style: str, pid: str, template: str | None = None) -> str:
    user, system = get_benchmark(dataset).prompt_for(problem(dataset, pid), style, template)
    return (f"System message:\n\n{block(system)}\n" if system else "") + f"User message:\n\n{block(user)}"


def test_docs_show_the_exact_prompts():
    markers = re.findall(r"<!-- prompt: (\S+) (\S+) (\S+) -->\n", DOC)
    shown = {(d, s) for d, s, _ in markers}
    every = {(name, style) for name in ("humaneval", "mbpp", "apps", "codecontests", "leetcode", "runbugrun")
             for style in get_benchmark(name).prompt_styles}
    assert shown == every, every ^ shown
    for dataset, style, pid in markers:
        head = f"<!-- prompt: {dataset} {style} {pid} -->\n"
        assert head + prompt_section(dataset, style, pid) in DOC, head
    templates = re.findall(r"<!-- template: (\S+) (\S+) (\S+) -->\n\n" + FENCE + r"text\n(.*?)\n" + FENCE, DOC, re.S)
    assert templates
    for dataset, style, pid, template in templates:
        head = f"<!-- template: {dataset} {style} {pid} -->\n\n{block(template)}\nsends:\n\n"
        assert head + prompt_section(dataset, style, pid, template) in DOC, head


def test_docs_list_every_placeholder():
    rows_ = re.findall(r"^\| `\{(\w+)\}` \| (.*) \|$", DOC, re.M)
    assert dict(rows_) == PLACEHOLDERS


def test_readme_pool_table_names_the_fields():
    readme = (ROOT / "docs" / "pool-yaml.md").read_text()  # the README's pool table, moved
    assert "| `prompt_template` |" in readme and "docs/prompts.md" in readme
