"""The sample-then-escalate cascade on hand-made data: every expected choice, cost
and escalation below is worked out by hand from the programs and prices. Programs run
in a real sandbox, verdicts go through a real SQLite cache file."""

import itertools

import numpy as np
import pandas as pd
import pytest
from support import make_sandbox

from benchmarks.records import AssertTests, Problem
from harness.route.exec_cache import CachedSandbox, ExecCache
from routers.cascade import Cascade
from routers.cascade_exec import example_calls, example_inputs, observe
from routers.cascade_tune import Plan, play, tune
from routers.data import Execution, RouterData, Sample
from routers.scoring import train_and_evaluate
from sandboxes import Limits

GOOD = "def f(x):\n    return 2 * x\n"
FAKE = "def f(x):\n    return 2 if x == 1 else 0\n"  # right on the public example only
BAD = "def f(x):\n    return 0\n"
ODD = "def f(x):\n    return 2 * x + (x > 2)\n"  # agrees with GOOD on f(1), not on f(3)
PUBLIC = AssertTests("assert f(1) == 2\n")
HIDDEN = AssertTests("assert f(1) == 2 and f(5) == 10\n")
PRICES = {"a": 1.0, "b": 2.0}
# Sample s of model a costs (s + 1) micro-dollars, of model b 10 (s + 1).
COST = {"a": [1e-6, 2e-6, 3e-6], "b": [1e-5, 2e-5, 3e-5]}


class Bench:
    """Public tests by problem id (None: the statement shows none)."""

    def __init__(self, public: dict) -> None:
        self.public = public

    def public_tests(self, problem):
        return self.public.get(problem.id)


class Counting:
    """A real sandbox that counts the programs it is asked to run."""

    calls = 0

    def __init__(self) -> None:
        self.inner = make_sandbox("local")

    def start(self):
        self.inner.start()
        return self

    def close(self) -> None:
        self.inner.close()

    def map(self, requests):
        reqs = list(requests)
        Counting.calls += len(reqs)
        return self.inner.map(reqs)


def score(program: str) -> float:
    return float(program == GOOD)  # the hidden tests: only the right program passes them


def toy(programs: dict, public: dict, prompts: dict, cache_path) -> RouterData:
    """Problems p -> {model: [programs of samples 0, 1, 2]}."""
    ids = list(programs)
    problems = {p: (Bench(public), Problem("toy", p, prompts.get(p, ""), HIDDEN, entry_point="f")) for p in ids}
    samples = {(p, m): [Sample(prog, score(prog), COST[m][s]) for s, prog in enumerate(progs)]
               for p, by_model in programs.items() for m, progs in by_model.items()}
    scores = pd.DataFrame([[score(programs[p][m][0]) for m in PRICES] for p in ids], index=ids, columns=list(PRICES))
    costs = pd.DataFrame([[COST[m][0] for m in PRICES] for _ in ids], index=ids, columns=list(PRICES))

    def sandbox(name, workers):
        return CachedSandbox(Counting, "local-test", ExecCache(cache_path))

    return RouterData(scores, costs, PRICES, pd.Series("", index=ids), pd.Series("toy", index=ids),
                      execution=Execution(lambda: (problems, samples), sandbox))


PROGRAMS = {
    "p1": {"a": [BAD, FAKE, GOOD], "b": [GOOD, GOOD, GOOD]},  # a's sample 1 is falsely accepted
    "p2": {"a": [BAD, BAD, BAD], "b": [BAD, GOOD, GOOD]},  # escalates; b's sample 1 passes
    "p3": {"a": [GOOD, BAD, BAD], "b": [GOOD, GOOD, GOOD]},  # a's first sample passes
    "p4": {"a": [BAD, BAD, BAD], "b": [GOOD, GOOD, GOOD]},  # no public tests, no examples: the SBS
    "p5": {"a": [GOOD, ODD, GOOD], "b": [GOOD, GOOD, GOOD]},  # examples only: a's samples disagree on f(3)
}
PUBLIC_TESTS = {"p1": PUBLIC, "p2": PUBLIC, "p3": PUBLIC}
PROMPTS = {"p5": "Examples:\n    f(1) ➞ 2\n    f(3) ➞ 6\n"}


@pytest.fixture
def data(tmp_path):
    return toy(PROGRAMS, PUBLIC_TESTS, PROMPTS, tmp_path / "cache" / "exec.sqlite")


def plans(public: Plan, agree: Plan | None, none: str | None = None) -> dict:
    """Public-test problems by ``public``, example-input ones by ``agree`` (None: the
    SBS), the others by ``none``'s sample 0 (None: the SBS's)."""
    return {("public", "*"): public, **({("agree", "*"): agree} if agree else {}),
            **({("none", "*"): Plan((none,), (1,))} if none else {})}


def evidence(data):
    with data.execution.sandbox(None, None) as sandbox:
        return observe(data.execution, list(data.scores.index), list(data.datasets), list(PRICES), sandbox,
                       Limits(timeout=10))


def test_sample_then_escalate_by_hand(data):
    router = Cascade(chain="all", budget=2).fit(data)
    assert router.fallback == "b"  # sample 0: b solves p1, p3, p4, p5; a only p3 and p5
    row = train_and_evaluate(router, None, data)
    routing = router.route(data)
    assert routing.choices.to_dict() == {"p1": "a", "p2": "b", "p3": "a", "p4": "b", "p5": "b"}
    # p1: a0 fails, a1 passes the example (kept: wrong). p2: a0, a1, b0 fail, b1 passes. p3: a0 passes.
    # p4 and p5 (no public tests): the SBS's sample 0.
    assert routing.runs.to_dict() == {"p1": ("a", "a"), "p2": ("a", "a", "b", "b"), "p3": ("a",), "p4": ("b",),
                                      "p5": ("b",)}
    cost = {"p1": 1e-6 + 2e-6, "p2": 3e-6 + 3e-5, "p3": 1e-6, "p4": 1e-5, "p5": 1e-5}
    assert routing.outcomes["cost"].to_dict() == pytest.approx(cost)
    assert routing.outcomes["quality"].to_dict() == {"p1": 0.0, "p2": 1.0, "p3": 1.0, "p4": 1.0, "p5": 1.0}
    assert row["quality"] == pytest.approx(0.8)
    assert row["cost_per_problem"] == pytest.approx(np.mean(list(cost.values())))
    assert routing.executions == 2 + 4 + 1  # every sample tried on a problem with public tests
    assert row["escalation_rate"] == pytest.approx(1 / 5)  # p2
    assert row["usage"] == {"a": 2, "b": 3} and row["samples_generated"] == {"a": 5, "b": 4}
    # Public-test passes of a: p1's FAKE and GOOD, p3's GOOD (of 9 samples): one of three is wrong.
    assert row["false_accept"]["a"]["toy"] == {"accepted": 3, "rate": pytest.approx(1 / 3)}
    assert row["false_accept"]["b"]["toy"] == {"accepted": 8, "rate": 0.0}
    # A perfect filter over a then b with two samples each (a1 is never taken for right) on p1..p3: p1 pays
    # a0, a1, b0; p2 a0, a1, b0, b1; p3 a0; p4 and p5 keep the SBS's sample 0.
    assert row["perfect_filter_quality"] == 1.0
    assert row["perfect_filter_cost"] == pytest.approx((13e-6 + 33e-6 + 1e-6 + 10e-6 + 10e-6) / 5)
    # Every sample of every model, on every problem: p1 pays a0..a2; p2 a0..a2, b0, b1; p3 a0; p4 a0..a2, b0; p5 a0.
    assert row["perfect_filter_all_quality"] == 1.0
    assert row["perfect_filter_all_cost"] == pytest.approx((6e-6 + 36e-6 + 1e-6 + 16e-6 + 1e-6) / 5)


def test_agreement_on_example_inputs(data):
    ev = evidence(data)
    assert list(ev.kind) == ["public", "public", "public", "none", "agree"]
    # p5 by the examples only: a's samples 0 and 1 disagree on f(3) (6 vs 7) -> b, whose samples agree.
    played = play(ev, plans(Plan(("a", "b"), (1, 1)), Plan(("a", "b"), (2, 2))), "b")
    assert (played.model[4], played.sample[4], played.escalated[4]) == ("b", 0, True)
    assert played.cost[4] == pytest.approx(1e-6 + 2e-6 + 1e-5 + 2e-5)
    assert played.executions[4] == 4
    # One sample of a: nothing to disagree with, it runs on the examples without failing: trusted.
    played = play(ev, plans(Plan(("a", "b"), (1, 1)), Plan(("a", "b"), (1, 1))), "b")
    assert (played.model[4], played.sample[4], played.quality[4], played.executions[4]) == ("a", 0, 1.0, 1)
    # Three samples of a at the end of the chain: the largest group of equal outputs (samples 0 and 2) answers.
    played = play(ev, plans(Plan(("b",), (1,)), Plan(("a",), (3,))), "b")
    assert (played.model[4], played.sample[4]) == ("a", 0)


def test_example_inputs_of_both_kinds():
    assert example_calls("def f(x: int):\n    >>> f(1)\n    f([2, 3]) == 5\n    g(f(4)) f(y) f(1)", "f") == \
        ["f(1)", "f([2, 3])", "f(4)"]
    statement = "Input\n\nThe first line...\n\nExamples\n\nInput\n\n\n3\n1 2 3\n\n\nOutput\n\n\n6\n\n\n" \
                "Input\n\n\n1\n5\n\n\nOutput\n\n\n5\n"
    assert example_inputs(statement) == ["3\n1 2 3\n", "1\n5\n"]


def test_tuning_respects_the_cost_cap(data):
    ev = evidence(data)
    every = [Plan(tuple(c), b) for size in (1, 2) for c in itertools.combinations("ab", size)
             for b in itertools.product((1, 2, 3), repeat=size)]
    # Every choice (public-test plan, example-input plan or the SBS, a model for p4) played: the brute
    # force over tune's space.
    points = [(g.cost.mean(), g.quality.mean()) for g in (play(ev, plans(p, a, m), "b")
                                                          for p in every for a in [None, *every] for m in "ab")]
    cheapest = min(c for c, _ in points)
    assert cheapest == pytest.approx(1e-6)  # a's first sample everywhere
    for cap in (5e-7, 1e-6, 3e-6, 5e-6, 1e-5, 1.2e-5, 1e-4):
        got = play(ev, tune(ev, cap, max_len=2), "b")
        feasible = [q for c, q in points if c <= cap + 1e-15]
        if feasible:
            assert got.cost.mean() <= cap + 1e-15 and got.quality.mean() == pytest.approx(max(feasible)), cap
        else:  # nothing is that cheap: the cheapest choice
            assert got.cost.mean() == pytest.approx(cheapest)
    # At the SBS's cost (1e-5 per problem, quality 0.8) it does as well for less, and better for more.
    assert play(ev, tune(ev, 1e-5, max_len=2), "b").quality.mean() >= 0.8
    assert play(ev, tune(ev, 1e-4, max_len=2), "b").quality.mean() == 1.0


def test_cached_verdicts_are_not_executed_again(tmp_path, data):
    router = Cascade(chain="all", budget=2).fit(data)
    Counting.calls = 0
    router.route(data)
    assert Counting.calls == 0  # fit executed every sample of these problems already
    changed = {**PROGRAMS, "p3": {**PROGRAMS["p3"], "a": [GOOD.replace("2 * x", "x * 2"), BAD, BAD]}}
    other = toy(changed, PUBLIC_TESTS, PROMPTS, tmp_path / "cache" / "exec.sqlite")
    router.route(other)
    assert Counting.calls == 1  # the changed program only
    fresh = toy(PROGRAMS, PUBLIC_TESTS, PROMPTS, tmp_path / "elsewhere.sqlite")
    Counting.calls = 0
    router.route(fresh)
    # A new cache file: everything runs again, each distinct request once (the key is the content: the
    # samples' programs BAD, FAKE, GOOD on the public test; GOOD and ODD on p5's examples).
    assert Counting.calls == 3 + 2


def test_a_saved_tuned_cascade_routes_the_same(tmp_path, data):
    from routers import load_router

    router = Cascade(chain="tuned", max_len=2).fit(data)
    loaded = load_router(router.save(tmp_path / "saved"))
    assert loaded.tuned == router.tuned and loaded.models == ["a", "b"]
    again, routing = loaded.route(data), router.route(data)
    assert again.choices.equals(routing.choices)
    assert again.outcomes.equals(routing.outcomes)


def test_tuning_per_dataset(data):
    ev = evidence(data)
    ev.datasets[:] = ["x", "x", "y", "y", "y"]
    tuned = tune(ev, 1e-3, max_len=2, by_dataset=True)
    assert set(tuned) == {("public", "x"), ("public", "y"), ("none", "y"), ("agree", "y")}
    assert play(ev, tuned, "b").quality.mean() == 1.0
    # x's problems need b (p1: a's accepted sample is wrong; p2: a has none right); y's p3 is a's first sample.
    assert tuned[("public", "x")].chain[-1] == "b" and tuned[("public", "y")] == Plan(("a",), (1,))
