"""A reward function for verl's ``custom_reward_function``, scored by ``python -m harness
serve``: ONE ``POST /run_tests`` per response (the program sent once, every case judged
by codeharness's judge: whitespace-token comparison, float tolerance), where verl's
own ``sandbox_fusion`` reward sends one ``/run_code`` per test case.

Start the server (``python -m harness serve --sandbox docker --workers 8``), then in
verl's config (Hydra overrides)::

    reward.custom_reward_function.path=/path/to/codeharness/examples/verl_reward.py
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.run_timeout=5     # optional
    +reward.custom_reward_function.reward_kwargs.all_cases=false   # optional

and ``CODEHARNESS_SERVE_URL=http://HOST:PORT`` in the workers' environment (default
http://127.0.0.1:8080; ``CODEHARNESS_API_KEY`` for a server started with
``--api-key-env``).

``ground_truth`` (a dict or its JSON text) in verl's formats: ``{"inputs": [...],
"outputs": [...]}`` (stdin -> expected stdout), the same plus ``"fn_name"`` (each input
is the function's arguments, one JSON value per line; the result printed as verl's
wrapper prints it), or ``{"assert_case": ["assert f(1) == 2", ...]}``.

Standard library and ``requests`` only: the trainer's workers need nothing of
codeharness.
"""

from __future__ import annotations

import json
import os
import re
import time

import requests

DEFAULT_URL = "http://127.0.0.1:8080"
RETRIES = 10  # 504 answers (the server's queue is full) followed, each after its Retry-After
WALL_FACTOR = 3  # a case stops after run_timeout CPU seconds, or a few times that in wall seconds

# JSON's brackets and separators spaced out, so that the judge compares the numbers in
# a returned list as numbers ("[0.1, 2]" -> "[ 0.1 , 2 ]"), on both sides.
PUNCTUATION = r"([\[\]{},:])"

# Reads the arguments verl's fn_name wrapper reads, calls the function, prints the
# result as that wrapper does: the cases then stay stdin/expected, judged by the judge.
FN_DRIVER = """

def _codeharness_call():
    import json as _json
    import re as _re
    import sys as _sys
    _raw = _sys.stdin.read()
    _args = [_json.loads(line) for line in _raw.strip().split("\\n")] if _raw.strip() else []
    _fn = globals().get({name!r}) or getattr(globals()["Solution"](), {name!r})
    _result = _fn(*_args)
    if isinstance(_result, (dict, list, tuple, bool)) or _result is None:
        _result = _json.dumps(_result)
    print(_re.sub({punctuation!r}, r" \\1 ", str(_result)))


_codeharness_call()
"""


def extract_code(solution_str: str) -> str | None:
    """The last ```python block, else the first ``` block (as verl's sandbox_fusion
    reward reads a response); None: no code block."""
    if "```python" in solution_str:
        return solution_str.split("```python")[-1].split("```")[0]
    parts = solution_str.split("```")
    if len(parts) < 2:
        return None
    first, _, rest = parts[1].partition("\n")
    return rest if first.strip().isalpha() else parts[1]


def _list(truth: dict, key: str) -> list:
    """``truth[key]`` as a list (verl's parquet rows hold numpy arrays), [] when absent."""
    value = truth.get(key)
    return [] if value is None else list(value)


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _arguments(value) -> str:
    """One JSON value per line, as verl's wrapper reads them (a list: the arguments)."""
    return value if isinstance(value, str) else "\n".join(json.dumps(v) for v in value)


def build_request(code: str, ground_truth, run_timeout: float, memory_limit_mb: int, all_cases: bool) -> dict:
    """The ``/run_tests`` body for verl's ``ground_truth``."""
    truth = json.loads(ground_truth) if isinstance(ground_truth, (str, bytes)) else dict(ground_truth)
    inputs, outputs = _list(truth, "inputs"), _list(truth, "outputs")
    if len(inputs) != len(outputs) and not truth.get("assert_case"):
        raise ValueError(f"ground_truth: {len(inputs)} inputs but {len(outputs)} outputs")
    pairs = zip(inputs, outputs, strict=True)
    if asserts := _list(truth, "assert_case"):
        cases = [{"assert_code": a} for a in asserts]
    elif truth.get("fn_name"):
        code += FN_DRIVER.format(name=truth["fn_name"], punctuation=PUNCTUATION)
        cases = [{"stdin": _arguments(i), "expected": re.sub(PUNCTUATION, r" \1 ", _text(o))} for i, o in pairs]
    else:
        cases = [{"stdin": _text(i), "expected": _text(o)} for i, o in pairs]
    return {"code": code, "language": "python", "cases": cases, "run_timeout": run_timeout,
            "memory_limit_MB": memory_limit_mb, "all_cases": all_cases}


def run_tests(body: dict, url: str | None = None) -> dict:
    """POST ``body`` to ``/run_tests``; a 504 (server overloaded) is retried after its
    Retry-After. Raises on any other failure: a reward the sandbox could not compute is
    no reward, and should stop training rather than teach it."""
    url = (url or os.environ.get("CODEHARNESS_SERVE_URL") or DEFAULT_URL).rstrip("/")
    headers = {}
    if key := os.environ.get("CODEHARNESS_API_KEY"):
        headers["Authorization"] = f"Bearer {key}"
    timeout = 30 + WALL_FACTOR * body["run_timeout"] * len(body["cases"])
    for _ in range(RETRIES):
        resp = requests.post(f"{url}/run_tests", json=body, headers=headers, timeout=timeout)
        if resp.status_code != 504:
            break
        time.sleep(float(resp.headers.get("Retry-After", 1)))
    resp.raise_for_status()
    result = resp.json()
    if result["status"] == "SandboxError":
        raise RuntimeError(f"codeharness serve at {url}: {result['message']}")
    return result


def compute_score(data_source, solution_str, ground_truth, extra_info=None, *, url: str | None = None,
                  run_timeout: float = 10.0, memory_limit_mb: int = 1024, all_cases: bool = True,
                  **_verl_kwargs) -> float:
    """The fraction of ``ground_truth``'s cases the response's code passes (0.0 without
    a code block). ``all_cases=False`` stops at the first failing case: cheaper, and the
    reward is then the passing prefix's share."""
    code = extract_code(solution_str)
    if code is None:
        return 0.0
    body = build_request(code, ground_truth, run_timeout, memory_limit_mb, all_cases)
    if not body["cases"]:  # nothing to pass: verl's own reward is 0.0 here too
        return 0.0
    return float(run_tests(body, url)["reward"])
