"""The benchmark plug-in contract: every registered adapter is a ``Benchmark``, whose
abstract methods a new one must implement, and a problem carries its known-wrong
programs (``Problem.wrong``), which ``benchmarks validate`` runs and expects to fail."""

import pytest

from benchmarks import BENCHMARKS, Benchmark, get_benchmark
from harness.score.references import checks_for


def test_every_registered_benchmark_is_a_benchmark():
    assert BENCHMARKS and all(issubclass(cls, Benchmark) for cls in BENCHMARKS.values())
    assert all(get_benchmark(name).name == name for name in BENCHMARKS)


def test_a_benchmark_missing_an_abstract_method_cannot_be_made():
    class NoPrompt(Benchmark):
        def problem(self, row, where):
            return None

    class NoProblem(Benchmark):
        def prompt(self, problem, style="completion"):
            return problem.prompt

    with pytest.raises(TypeError, match="prompt"):
        NoPrompt()
    with pytest.raises(TypeError, match="problem"):
        NoProblem()


def test_runbugrun_problems_carry_their_buggy_program_as_wrong():
    problems = {p.id: p for p in get_benchmark("runbugrun").load()}
    assert problems["282719"].wrong == ("print(2 * r *3.14159265359 )",)
    assert all(p.wrong == (p.prompt,) for p in problems.values())  # the program to repair
    assert [(c.program, c.must_pass, c.what) for c in checks_for(problems["282719"])] == [
        ("print(2 * int(input()) *3.14159265359 )", True, "reference 0"),
        ("print(2 * r *3.14159265359 )", False, "wrong program 0")]


def test_apps_fixtures_carry_their_wrong_variants():
    problems = get_benchmark("apps").load()
    assert sum(len(p.wrong) for p in problems) == 32 and sum(bool(p.wrong) for p in problems) == 16
