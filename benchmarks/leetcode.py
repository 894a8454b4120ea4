"""LeetCode: class methods checked by asserts.

Two row formats load:
* newfacade/LeetCodeDataset (bundled: the 228-problem v0.3.1 test split, and the 209
  problems that match AdaptiveLLM's ``LeetCode/N`` ids). A program is the dataset's
  ``prompt`` (imports, ListNode/TreeNode helpers) + the solution; the tests are
  ``check(Solution().method)``.
* SandboxFusion's AutoEval rows, the format of ``sine/LeetCodeSample`` (subset
  ``python``), whose tests AdaptiveLLM used: ``id``, ``content``, ``labels`` and
  ``test.code``. As SandboxFusion does, the candidate replaces ``#<INSERT>`` in the
  test code, or (without the token) has any ``if __name__ ==`` block cut and the test
  code appended. The part of the script after the candidate runs as our test code
  (so a failing assert is a failed test, and exits or monkeypatching cannot skip
  it). LeetCodeSample itself is not reachable offline, so no copy is bundled."""

from __future__ import annotations

import ast
import json
from functools import cache
from string import Template

from .base import DATA, Benchmark, require
from .examples import Example, keyword_examples, value_of
from .io import DataError
from .literal import parse_literal
from .prompts import LCB_FORMAT_STARTER, LCB_SYSTEM, lcb_question
from .records import AssertTests, Problem

FIELDS = ("task_id", "prompt", "completion", "entry_point", "test")
INSERT = "#<INSERT>"
WRAPPERS = ("tree_node", "list_node")  # LeetCodeDataset's builders for tree / linked-list arguments


class LeetCode(Benchmark):
    name = "leetcode"
    hf_id = "newfacade/LeetCodeDataset"
    hf_configs = {"sine/LeetCodeSample": "python"}
    test_kind = "assert (call-based)"
    bundled = {"v0.3.1-test": "leetcode/LeetCodeDataset-v0.3.1-test.jsonl.gz",
               "adaptivellm": "leetcode/adaptivellm_leetcode_subset.jsonl.gz"}
    default = ("v0.3.1-test", "adaptivellm")

    def problem(self, row: dict, where: str) -> Problem:
        if "content" in row and "labels" in row:
            return autoeval_problem(self.name, row, where)
        require(row, FIELDS, where)
        prompt = row.get("query") or row.get("problem_description", "")
        return Problem(
            benchmark=self.name,
            id=row["task_id"],
            prompt=prompt,
            entry_point=row["entry_point"],
            tests=AssertTests(f"{row['test']}\ncheck({row['entry_point']})\n"),
            references=(row["prompt"] + "\n" + row["completion"],),
            metadata={"preamble": row["prompt"], "difficulty": row.get("difficulty"),
                      "question_id": row.get("question_id"), **_question(row, prompt)},
        )

    def program(self, problem: Problem, completion: str | None = None, solution: str | None = None) -> str:
        code = solution if solution is not None else completion or ""
        if "autoeval_prefix" in problem.metadata:
            return autoeval_program(code, problem.metadata["autoeval_prefix"])
        # The dataset's preamble (imports, ListNode/TreeNode) + the model's class.
        return problem.metadata["preamble"] + "\n" + code

    def prompt(self, problem: Problem, style: str = "completion") -> str:
        """``completion``: the dataset's query; ``instruct``: LiveCodeBench's prompt
        with starter code (LeetCodeDataset's queries are mostly that prompt with the
        system message inside the text). SandboxFusion rows: their prompt, either style."""
        if style == "instruct" and "question" in problem.metadata:
            return lcb_question(problem.metadata["question"], problem.metadata["starter_code"])
        return problem.prompt

    def system(self, problem: Problem, style: str = "completion") -> str:
        return LCB_SYSTEM if style == "instruct" and "question" in problem.metadata else ""

    def public_tests(self, problem: Problem) -> AssertTests | None:
        """The statement's examples: the dataset's asserts whose call arguments are an
        example's ``Input``, or, when none is (two rows' tests lack their examples), the
        examples themselves as asserts. The statement is the prompt or, for rows whose
        query lost its examples, AdaptiveLLM's prompt of the same problem (the text its
        models saw). None for SandboxFusion rows (their tests are a script)."""
        if "autoeval_prefix" in problem.metadata:
            return None
        examples = keyword_examples(problem.prompt + "\n" + _adaptivellm_prompts().get(problem.id, ""))
        tree = ast.parse(problem.tests.code)
        check = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
        if not examples or check is None:
            return None
        inputs = [args for args, _ in examples]
        seen: set[str] = set()  # some rows repeat their asserts
        asserts = [s for s in check.body if isinstance(s, ast.Assert) and _assert_args(s) in inputs
                   and ast.unparse(s) not in seen and not seen.add(ast.unparse(s))]
        asserts = asserts or _asserts(examples)
        check.body = [s for s in check.body if not isinstance(s, ast.Assert)] + asserts
        return AssertTests(ast.unparse(tree) + "\n") if asserts else None

    def aliases(self, problems: list[Problem]) -> dict[str, str]:
        """AdaptiveLLM ``LeetCode/N`` -> our id: through the LeetCodeDataset id map, and
        for LeetCodeSample rows through LeetCode's question id, which both carry."""
        ours = {p.id for p in problems}
        rows = (json.loads(line) for line in (DATA / "leetcode/adaptivellm_leetcode_id_map.jsonl").open())
        out = {r["adaptivellm_id"]: r["task_id"] for r in rows if r["task_id"] in ours}
        by_question = {str(p.metadata["question_id"]): p.id for p in problems
                       if "autoeval_prefix" in p.metadata and p.metadata.get("question_id") is not None}
        if by_question:
            from .io import read_records

            for r in read_records(DATA / "adaptivellm/prompts/prompts.jsonl.gz"):
                if str(r.get("questionId")) in by_question:
                    out[r["id"]] = by_question[str(r["questionId"])]
        return out


@cache
def _adaptivellm_prompts() -> dict[str, str]:
    """Our task id -> AdaptiveLLM's prompt for it."""
    from .io import read_records

    ids = {r["adaptivellm_id"]: r["task_id"] for r in
           map(json.loads, (DATA / "leetcode/adaptivellm_leetcode_id_map.jsonl").open())}
    return {ids[r["id"]]: r["prompt"] for r in read_records(DATA / "adaptivellm/prompts/prompts.jsonl.gz")
            if r["id"] in ids}


def _question(row: dict, query: str) -> dict[str, str]:
    """The statement and the starter code of a LeetCodeDataset row: its fields, or
    parsed from the query in either of its formats (LiveCodeBench's; "... Please
    complete the following python code precisely:" + the code)."""
    if "problem_description" in row and "starter_code" in row:
        return {"question": row["problem_description"], "starter_code": row["starter_code"]}
    lcb = f"\n\n### Format: {LCB_FORMAT_STARTER}\n```python\n"
    head, sep, tail = query.rpartition(lcb)
    if sep:
        return {"question": head.partition("### Question:\n")[2], "starter_code": tail.partition("\n```")[0]}
    head, sep, tail = query.rpartition("\nPlease complete the following python code precisely:\n```python\n")
    if sep:
        return {"question": head, "starter_code": tail.rpartition("\n```")[0]}
    return {}


def _asserts(examples: list[tuple[dict, str]]) -> list[ast.stmt]:
    """``assert candidate(a=1) == out`` for each example whose output is a literal."""
    out = []
    for args, shown in examples:
        try:
            call = f"candidate({', '.join(f'{k}={v!r}' for k, v in args.items())})"
            out.append(ast.parse(f"assert {Example(call, value_of(shown)).check}").body[0])
        except ValueError:
            continue
    return out


def _assert_args(node: ast.Assert) -> dict | None:
    """The keyword arguments of the ``candidate(...)`` call an assert checks."""
    call = next((n for n in ast.walk(node.test) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name) and n.func.id == "candidate"), None)
    if call is None or call.args:
        return None
    try:
        return {k.arg: ast.literal_eval(_unwrap(k.value)) for k in call.keywords}
    except (ValueError, TypeError, MemoryError, RecursionError):
        return None


def _unwrap(node: ast.expr) -> ast.expr:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in WRAPPERS \
            and len(node.args) == 1:
        return node.args[0]
    return node


def _json_field(row: dict, key: str, where: str) -> dict:
    value = row[key]
    if isinstance(value, str):
        try:
            value = parse_literal(value)
        except (ValueError, SyntaxError):
            raise DataError(f"{where}: field {key!r} is neither JSON nor a Python literal") from None
    if not isinstance(value, dict):
        raise DataError(f"{where}: field {key!r} must be an object, got {type(value).__name__}")
    return value


def autoeval_problem(benchmark: str, row: dict, where: str) -> Problem:
    require(row, ("id", "content", "labels", "test"), where)
    labels, test = _json_field(row, "labels", where), _json_field(row, "test", where)
    language = labels.get("execution_language") or labels.get("programming_language") or "python"
    if language != "python":
        raise DataError(f"{where}: only Python rows are supported (this one is {language!r})")
    if test.get("asset"):
        raise DataError(f"{where}: rows whose tests need asset files are not supported")
    if not isinstance(test.get("code"), str):
        raise DataError(f"{where}: field 'test' has no 'code' string")
    template = labels.get("prompt_template")
    prompt = (Template(template).safe_substitute(question=row["content"], fewshot="", context="", locale="en")
              if template else row["content"])
    prefix, check = split_test(test["code"], where)
    reference = row.get("canonical_solution")
    return Problem(
        benchmark=benchmark,
        id=str(row["id"]),
        prompt=prompt,
        tests=AssertTests(check),
        references=(autoeval_program(reference, prefix),) if reference else (),
        metadata={"autoeval_prefix": prefix, "difficulty": labels.get("difficulty"),
                  "question_id": labels.get("questionId", labels.get("question_id")), "source": "autoeval"},
    )


def split_test(test: str, where: str) -> tuple[str | None, str]:
    """SandboxFusion's test code as (what goes before the candidate, what runs after
    it); the prefix is None when the candidate is appended (no ``#<INSERT>``)."""
    if INSERT not in test:
        return None, test
    before, after = test.split(INSERT, 1)
    if before and not before.endswith("\n"):
        raise DataError(f"{where}: {INSERT} must start a line of the test code")
    return before, after


def autoeval_program(code: str, prefix: str | None) -> str:
    """SandboxFusion's ``append_test`` up to the candidate: the test code's prefix +
    the candidate, or, when the test is appended, the candidate without its
    ``if __name__ ==`` block."""
    if prefix is not None:
        return prefix + code
    if "if __name__ ==" in code:
        code = code[:code.index("if __name__ ==")]
    return code
