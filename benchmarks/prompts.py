"""The chat (``instruct``) prompts of the field, and per-model prompt templates.

Texts are copied verbatim from their sources so that a score here means what it
means there (docs/prompts.md shows every prompt as sent):

* evalplus (``evalplus/codegen.py``, ``evalplus/provider/openai.py``): function
  problems (HumanEval, MBPP) for chat models;
* LiveCodeBench (``lcb_runner/prompts/code_generation.py``, the ``OpenAIChat``
  style): stdin/stdout problems and problems with starter code (APPS, CodeContests,
  LeetCode)."""

from __future__ import annotations

import string

# evalplus's instruction_prefix; its OpenAI decoder sends it as the only message.
EVALPLUS_INSTRUCTION = ("Please provide a self-contained Python script that solves the following problem in a "
                        "markdown code block:")
LCB_SYSTEM = ("You are an expert Python programmer. You will be given a question (problem specification) and will "
              "generate a correct Python program that matches the specification and passes all tests.")
LCB_FORMAT_STARTER = ("You will use the following starter code to write the solution to the problem and enclose "
                      "your code within delimiters.")
LCB_FORMAT_STDIN = ("Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test "
                    "on the sample inputs). Enclose your code within delimiters as follows. Ensure that when the "
                    "python program runs, it reads the inputs, runs the algorithm and writes output to STDOUT.")
# What a pool's prompt_template may name, and what each stands for (docs/prompts.md).
PLACEHOLDERS = {
    "prompt": "the problem's own text (HumanEval: signature + docstring; MBPP: the task; APPS, CodeContests, "
              "LeetCode: the statement; RunBugRun: the buggy program)",
    "problem_id": "the problem's id (HumanEval/0)",
    "dataset": "the benchmark's name (humaneval)",
    "entry_point": "the function the tests call (empty when they read stdin, and for MBPP)",
    "starter_code": "the code the answer starts from (HumanEval: the prompt; APPS call-based and LeetCode: "
                    "the given skeleton; else empty)",
    "examples": "MBPP: the test asserts its prompts show; else empty (statements carry their own examples)",
    "benchmark_prompt": "the prompt the model's prompt_style gives (what it is sent without a template)",
}


def evalplus_instruct(code: str) -> str:
    """evalplus's chat prompt for a function problem given as code."""
    return f"{EVALPLUS_INSTRUCTION}\n```python\n{code.strip()}\n```"


def lcb_question(question: str, starter_code: str = "") -> str:
    """LiveCodeBench's user message: the question, then the format to answer in (the
    starter code's, or read stdin / write stdout); its system message is ``LCB_SYSTEM``."""
    if starter_code:
        fmt = f"### Format: {LCB_FORMAT_STARTER}\n```python\n{starter_code}\n```\n\n"
    else:
        fmt = f"### Format: {LCB_FORMAT_STDIN}\n```python\n# YOUR CODE HERE\n```\n\n"
    return f"### Question:\n{question}\n\n{fmt}### Answer: (use the provided format with backticks)\n\n"


def template_error(template: str) -> str | None:
    """Why ``template`` cannot be a prompt template (None: it can): it is not
    ``str.format`` syntax, names something not in ``PLACEHOLDERS``, or names nothing."""
    hint = "placeholders: " + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    try:
        names = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as exc:
        return f"not a valid template ({exc}; write {{{{ and }}}} for literal braces)"
    unknown = [n for n in names if n not in PLACEHOLDERS]
    if unknown:
        literal = "" if unknown[0].isidentifier() else "; write {{ and }} for literal braces"
        return f"unknown placeholder {{{unknown[0]}}} ({hint}{literal})"
    if not names:
        return f"has no placeholder, so every problem would get the same prompt ({hint})"
    return None


def render(template: str, values: dict[str, str]) -> str:
    """The template with its placeholders filled (``template_error`` is None for it)."""
    return template.format_map(values)
