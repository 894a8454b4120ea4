"""What the cascade learns by executing (``Evidence``): for every sample of every
model on a set of problems, whether its program passes the problem's public tests
(the statement's examples), or, on a problem without public tests, what it outputs
on the statement's example inputs (for the agreement check: samples that agree are
trusted, MoT-cascade / MBR-exec style).

Example inputs, where there are no public tests: for a call-style problem the calls
of its entry point written in the prompt whose arguments are literals (``f(3, [1])``
in any example form: ``>>>`` lines, ``f(x) ➞ y``, prose), each one's return value
compared by ``repr``; for a stdin problem the ``Input`` blocks after the statement's
``Example(s)`` heading, each one's stdout compared token by token (its last 4 KiB:
the sandbox keeps that much). A sample that fails on an example input agrees with
no one."""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass, replace

import numpy as np

from benchmarks.records import IOTests
from benchmarks.requests import exec_request
from sandboxes import ExecRequest

# Runs after the program, in its namespace: the examples' return values, hashed, on a
# line of their own (the program may print too; the last such line is ours).
PROBE_RUNNER = '''
import hashlib as _codeharness_hashlib
_codeharness_values = [repr(eval(_codeharness_call)) for _codeharness_call in {calls!r}]
print("\\n{marker}" + _codeharness_hashlib.sha256("\\x00".join(_codeharness_values).encode()).hexdigest())
'''
MARKER = "codeharness-probe:"
STDIN_EXAMPLE = re.compile(r"(?:^|\n)Input[ \t]*\n(.*?)\n[ \t]*Output[ \t]*\n", re.S)


def example_calls(prompt: str, entry_point: str) -> list[str]:
    """Calls of ``entry_point`` in the prompt with literal arguments, in order, once each."""
    if not entry_point.isidentifier():
        return []
    calls = []
    for start in (m.start() for m in re.finditer(rf"(?<![\w.]){re.escape(entry_point)}\(", prompt)):
        depth = 0
        for end in range(start + len(entry_point), len(prompt)):
            depth += {"(": 1, ")": -1}.get(prompt[end], 0)
            if depth == 0:
                break
        text = prompt[start:end + 1]
        try:
            node = ast.parse(text, mode="eval").body
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                ast.literal_eval(arg)
        except (SyntaxError, ValueError, TypeError, AttributeError, RecursionError):
            continue  # a signature (``def f(x: int)``), prose, an unbalanced quote...
        if ast.unparse(node) not in calls:
            calls.append(ast.unparse(node))
    return calls


def example_inputs(prompt: str) -> list[str]:
    """The stdin of each example after the statement's ``Example`` heading."""
    head = re.search(r"\nExamples?[ \t]*\n", prompt)
    if head is None:
        return []
    return [block.strip("\n") + "\n" for block in STDIN_EXAMPLE.findall(prompt[head.end() - 1:])
            if block.strip()]


def probes(bench, problem) -> tuple[str, list[str]] | None:
    """("stdin", inputs) or ("call", calls) for the agreement check; None: nothing to run."""
    if isinstance(problem.tests, IOTests):
        inputs = example_inputs(problem.prompt)
        return ("stdin", inputs) if inputs else None
    calls = example_calls(problem.prompt, problem.entry_point)
    return ("call", calls) if calls else None


@dataclass
class Evidence:
    """Per problem (``ids``, of ``datasets``) x model (``models``, cheapest first) x sample:
    ``avail`` the sample exists and has a verdict, ``score`` that verdict, ``cost`` its
    $, ``passed`` it passes the public tests (problems of kind ``public``), ``agree``
    its output signature on the example inputs (kind ``agree``: equal ids = equal
    outputs; -1: failed, or no program), ``runs`` the sandbox runs checking it takes.
    ``kind`` per problem: ``public``, ``agree`` or ``none`` (nothing to execute: it
    goes to the fallback)."""

    ids: list[str]
    datasets: np.ndarray
    models: list[str]
    kind: np.ndarray
    avail: np.ndarray
    score: np.ndarray
    cost: np.ndarray
    passed: np.ndarray
    agree: np.ndarray
    runs: np.ndarray


def observe(execution, ids: list[str], datasets: list[str], models: list[str], sandbox, limits) -> Evidence:
    """Execute every sample's program of these problems and models (public tests, or
    the example inputs) through ``sandbox.map``; samples without a verdict are left
    out (``avail`` False)."""
    n = max((len(execution.samples.get((p, m), ())) for p in ids for m in models), default=0)
    shape = (len(ids), len(models), n)
    avail, passed = np.zeros(shape, bool), np.zeros(shape, bool)
    score, cost, agree, runs = np.zeros(shape), np.zeros(shape), np.full(shape, -1), np.zeros(shape, int)
    kind = np.full(len(ids), "none", dtype=object)
    requests, where = [], []  # where: (problem, model, sample, probe) of each request
    for i, pid in enumerate(ids):
        bench, problem = execution.problems.get(pid, (None, None))
        tests = bench.public_tests(problem) if problem is not None else None
        probe = probes(bench, problem) if problem is not None and tests is None else None
        kind[i] = "public" if tests is not None else "agree" if probe else "none"
        for j, model in enumerate(models):
            for s, sample in enumerate(execution.samples.get((pid, model), ())):
                if np.isnan(sample.score):
                    continue
                avail[i, j, s], score[i, j, s], cost[i, j, s] = True, sample.score, sample.cost
                if sample.program is None or kind[i] == "none":
                    continue
                if tests is not None:
                    requests.append(exec_request(replace(problem, tests=tests), sample.program, limits))
                    where.append((i, j, s, None))
                elif probe[0] == "call":
                    requests.append(ExecRequest(sample.program, PROBE_RUNNER.format(calls=probe[1], marker=MARKER),
                                                limits=limits))
                    where.append((i, j, s, "call"))
                else:
                    requests += [ExecRequest(sample.program, stdin=stdin, limits=limits) for stdin in probe[1]]
                    where += [(i, j, s, "stdin")] * len(probe[1])
    verdicts = sandbox.map(requests) if requests else []
    outputs: dict[tuple[int, int, int], list] = {}
    for (i, j, s, how), v in zip(where, verdicts, strict=True):
        runs[i, j, s] += 1
        if how is None:
            passed[i, j, s] = v.passed
        else:
            outputs.setdefault((i, j, s), []).append(_output(v, how))
    signatures: dict[tuple, int] = {}
    for (i, j, s), outs in outputs.items():
        if all(o is not None for o in outs):
            agree[i, j, s] = signatures.setdefault((i, tuple(outs)), len(signatures))
    return Evidence(ids, np.asarray(datasets, dtype=object), models, kind, avail, score, cost, passed, agree, runs)


def _output(verdict, how: str) -> str | None:
    """The run's output signature; None when it failed (agrees with nothing)."""
    if not verdict.passed:
        return None
    if how == "call":
        lines = [line for line in verdict.stdout_tail.splitlines() if line.startswith(MARKER)]
        return lines[-1] if lines else None
    return hashlib.sha256(" ".join(verdict.stdout_tail.split()).encode()).hexdigest()
