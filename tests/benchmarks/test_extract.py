"""Code extraction: real completions from the AdaptiveLLM generations, each class of
answer the syntactic recovery handles (docs/extraction.md), and hostile answers."""

import gzip
import json
import time

import pytest

from benchmarks import get_benchmark
from benchmarks.base import DATA
from benchmarks.extract import extract_code, program_for
from benchmarks.extract_tests import strip_tests

GEN = DATA / "adaptivellm" / "generations"


def first_response(model: str, bench: str, pid: str, sample: int = 0) -> str:
    with gzip.open(GEN / f"{model}-output-{bench}.jsonl.gz", "rt") as fh:
        for line in fh:
            row = json.loads(line)
            if row["id"] == pid:
                return row["responses"][sample]
    raise KeyError(pid)


def test_fenced_python_block_with_prose_around_it():
    text = first_response("deepseek-coder-v2-lite-instruct", "HumanEval", "HumanEval/0")
    assert text.lstrip().startswith("```python") and "This code sorts" in text
    code = extract_code(text, "has_close_elements")
    assert code.startswith("from typing import List\n") and "```" not in code and "This code" not in code
    compile(code, "x", "exec")


def test_unfenced_completion_is_taken_whole():
    text = first_response("Yi-Coder-1.5B-Chat", "CodeContests", "code_contests/0")
    assert "```" not in text
    assert extract_code(text) == text


def test_codellama_python_tags():
    with gzip.open(GEN / "CodeLlama-7b-Instruct-hf-output-HumanEval.jsonl.gz", "rt") as fh:
        tagged = next(r for line in fh for r in json.loads(line)["responses"] if "[PYTHON]" in r)
    code = extract_code(tagged)
    assert "[PYTHON]" not in code and "[/PYTHON]" not in code
    compile(code, "x", "exec")


def test_block_defining_the_entry_point_wins():
    text = ("Example usage:\n```python\nprint(add(1, 2))\n```\nSolution:\n```python\ndef add(a, b):\n"
            "    return a + b\n```\n")
    assert extract_code(text, "add") == "def add(a, b):\n    return a + b\n"
    assert extract_code(text, "Solution().add") == "def add(a, b):\n    return a + b\n"
    assert extract_code(text) == "print(add(1, 2))\n"  # without an entry point: the first block


def test_unterminated_fence_and_other_languages():
    assert extract_code("```python\ndef f():\n    return 1\n") == "def f():\n    return 1\n"
    assert extract_code("```bash\nls\n```\n```python\nx = 1\n```") == "x = 1\n"
    assert extract_code("```cpp\nint main(){}\n```") == "int main(){}\n"


# Each class of answer the fenced-block rule alone gets wrong or that must stay as it
# was: (answer, entry point, extracted code).
CASES = {
    "stray closing fence, then prose": (
        "def f(x):\n    return x\n```\nThis returns x.", "f", "def f(x):\n    return x"),
    "stray closing fence, then prose, no entry point (stdin/stdout)": (
        "n = int(input())\nprint(n * 2)\n```\nThis reads n and prints twice n.", "",
        "n = int(input())\nprint(n * 2)"),
    "stray closing fence at the end": ("def f(x):\n    return x\n```", "f", "def f(x):\n    return x"),
    "stray closing fence and a newline at the end": ("def f(x):\n    return x\n```\n", "", "def f(x):\n    return x"),
    "prose before and after unfenced code": (
        "Here is the function:\n\ndef add(a, b):\n    return a + b\n\nIt adds two numbers.", "add",
        "def add(a, b):\n    return a + b"),
    "a prose word before recovered code is no statement": (
        "Solution\nimport math\n\ndef root(x):\n    return math.sqrt(x)\n```\nDone.", "root",
        "import math\n\ndef root(x):\n    return math.sqrt(x)"),
    "doctest lines after unfenced code": (
        "def inc(x):\n    return x + 1\n\n>>> inc(1)\n2\n>>> inc(2)\n3", "inc", "def inc(x):\n    return x + 1"),
    "doctest lines inside the fenced block": (
        "```python\ndef inc(x):\n    return x + 1\n>>> inc(1)\n2\n```", "inc", "def inc(x):\n    return x + 1"),
    "doctest lines at column 0 inside a docstring stay": (
        'def f(x):\n    """Doc.\n>>> f(1)\n1\n"""\n    return x\n\nDone.', "f",
        'def f(x):\n    """Doc.\n>>> f(1)\n1\n"""\n    return x'),
    "prose indented under the function, after a blank line": (
        "```python\ndef double(x):\n    return x * 2\n\n    This doubles x.\n```", "double",
        "def double(x):\n    return x * 2"),
    "several blocks: the one defining the entry point": (
        "Usage:\n```python\nprint(add(1, 2))\n```\nCode:\n```python\ndef add(a, b):\n    return a + b\n```\n", "add",
        "def add(a, b):\n    return a + b\n"),
    "an unterminated fence": ("```python\ndef f():\n    return 1\n", "f", "def f():\n    return 1\n"),
    "think tags: the code outside them": (
        "<think>```python\ndef f():\n    return 0\n```</think>\n```python\ndef f():\n    return 1\n```", "f",
        "def f():\n    return 1\n"),
    "a think part never closed is all thinking": (
        "<think>maybe\n```python\ndef f():\n    return 0\n```", "f", ""),
    "CodeLlama [PYTHON] tags": (
        "[PYTHON]\ndef f(x):\n    return x\n[/PYTHON]\n[TESTS]\n# Test case 1:\nassert f(1) == 1\n[/TESTS]", "f",
        "def f(x):\n    return x\n"),
    "no code at all: the answer as it is": ("I cannot solve this.", "f", "I cannot solve this."),
    "entry point as a method": (
        "Here is my solution:\nclass Solution:\n    def foo(self, x):\n        return x\n\nThis works in O(1).",
        "Solution().foo", "class Solution:\n    def foo(self, x):\n        return x"),
    "a broken line inside a paragraph is not cut away": (
        "```python\ndef f(x):\n    y = (x\n    return y\n```\nDone.", "f", "def f(x):\n    y = (x\n    return y\n"),
    "the model's own tests go, set-up stays": (
        "```python\nimport sys\nsys.setrecursionlimit(10000)\n\ndef f(s):\n    return s[-1]\n\n"
        "def check():\n    assert f('ab') == 'b'\n\n# Tests\ncheck()\nassert f('') == ''\nprint(f('xy'))\n"
        "for s in ['a', 'b']:\n    print(f(s))\nif __name__ == '__main__':\n    import doctest\n"
        "    doctest.testmod()\n```", "f",
        "import sys\nsys.setrecursionlimit(10000)\n\ndef f(s):\n    return s[-1]\n\n"
        "def check():\n    assert f('ab') == 'b'\n"),
    "a stdin/stdout program keeps its prints": (
        "```python\nn = int(input())\nprint(n * 2)\n```", "", "n = int(input())\nprint(n * 2)\n"),
    "stdin: the block tagged Python, not the sample input before it": (
        "For the input:\n```\n5\n```\nthe program:\n```python\nn = int(input())\nprint(n * 2)\n```", "",
        "n = int(input())\nprint(n * 2)\n"),
    "stdin: an untagged block before another language's": ("```text\n5\n```\n```\nx = 1\n```", "", "x = 1\n"),
    "an untagged block defining the entry point beats a tagged one that does not": (
        "```python\nprint(f(1))\n```\n```\ndef f(x):\n    return x\n```", "f", "def f(x):\n    return x\n"),
    "a block indented under a markdown list item": (
        "1. The function:\n   ```python\n   def f(x):\n       return x\n   ```\n2. Done.", "f",
        "def f(x):\n    return x\n"),
    "empty answer": ("", "f", ""),
    "only fences": ("```\n```\n```", "f", ""),
}


@pytest.mark.parametrize("case", CASES)
def test_extraction_of_each_case(case):
    answer, entry_point, code = CASES[case]
    assert extract_code(answer, entry_point) == code


def test_code_between_horizontal_rules_in_a_real_answer():
    text = first_response("CodeLlama-7b-Instruct-hf", "HumanEval", "HumanEval/30", 4)
    # A ``` later in the answer wraps a doctest, which the fenced-block rule took.
    assert "```\n>>> get_positive" in text
    assert extract_code(text, "get_positive") == text.split("---")[1].strip()


def test_a_completion_continues_the_prompt():
    bench = get_benchmark("humaneval")
    problem = bench.by_id()["HumanEval/53"]  # def add(x: int, y: int): docstring only
    body = "    return x + y\n"
    assert program_for(bench, problem, body) == (body, problem.prompt + body)
    # a completion-style body followed by a stray closing fence and prose
    assert program_for(bench, problem, body + "```\nThis adds x and y.") == (body, problem.prompt + body)
    # no body: the prompt continued by nothing but prose still fails as the model's answer
    assert program_for(bench, problem, "I cannot.") == ("I cannot.", problem.prompt + "I cannot.")
    # the model's own tests after a continued body go, as they do from fenced code
    tested = body + "\n\nassert add(2, 3) == 6\nprint(add(1, 1))\n"
    assert program_for(bench, problem, tested) == (body, problem.prompt + body)
    whole = "```python\ndef add(x, y):\n    return x + y\n```"
    assert program_for(bench, problem, whole) == ("def add(x, y):\n    return x + y\n",
                                                  "def add(x, y):\n    return x + y\n")


def test_a_prompt_continued_keeps_its_own_statements():
    code = "print(1)\ndef f():\n    pass\nprint(2)\nassert f() == 1\n"
    assert strip_tests(code, "f", after=1) == "print(1)\ndef f():\n    pass\n"
    assert strip_tests(code, "f", after=4) == "print(1)\ndef f():\n    pass\nprint(2)\n"


HOSTILE = {
    "prose with brackets": ("This is prose (with a bracket, it's fine.\n" * 25_000
                            + "def f(x):\n    return x\n", "def f(x):\n    return x"),
    "code, then a syntax error": ("def f(x):\n    return x\n" + "x = [1, 2, 3]\n" * 75_000 + "oops it's\n",
                                  "def f(x):\n    return x\n" + "x = [1, 2, 3]\n" * 74_999 + "x = [1, 2, 3]"),
    "unclosed brackets": ("x = (\n" * 170_000, "x = (\n" * 170_000),
    "backticks without a newline": ("```" * 330_000, "```" * 330_000),
    "fences": ("```\n" * 250_000, ""),
    "open docstrings": ('"""\n' * 250_000, '"""\n' * 250_000),
    "decorators": ("@d\n" * 300_000, "@d\n" * 300_000),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", HOSTILE)
def test_a_megabyte_answer_is_handled_in_linear_time(case):
    answer, code = HOSTILE[case]
    start = time.process_time()
    assert extract_code(answer, "f") == code
    # CPU seconds, so that other jobs on the machine do not count; quadratic would be minutes
    assert time.process_time() - start < 6
