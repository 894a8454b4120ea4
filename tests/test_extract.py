"""Code extraction on real completions from the AdaptiveLLM generations."""

import gzip
import json

from benchmarks.base import DATA
from benchmarks.extract import extract_code

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
