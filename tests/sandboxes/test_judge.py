"""Each output-comparison and runner rule, on real problems from the bundled data."""

import re

import pytest

from benchmarks import get_benchmark
from sandboxes.judge import call_result_equal, compare_stdout, normalize, tokens_equal


@pytest.fixture(scope="module")
def contests():
    return {p.id: p for p in get_benchmark("codecontests").load()}


def test_trailing_spaces_and_missing_final_newline(contests):
    # 1575_A's expected sample output ends with a space and a newline.
    stdin, expected = contests["1575_A"].tests.cases[0]
    assert expected == "5 2 1 3 4 \n"
    assert compare_stdout("5 2 1 3 4", expected) is None
    assert compare_stdout("5 2 1 3 4\n\n\n", expected) is None
    assert compare_stdout("5\n2\n1\n3\n4\n", expected) is None  # tokens, not lines
    assert compare_stdout("5 2 1 4 3", expected) == "token 4: expected '3', got '4'"
    assert compare_stdout("5 2 1 3", expected) == "expected 5 tokens, got 4"
    assert compare_stdout("5 2 1 3 4 6", expected) == "expected 5 tokens, got 6"


def test_floats_within_1e_6(contests):
    # 1086_B prints 10 decimals: 3.3333333333.
    expected = contests["1086_B"].tests.cases[2][1]
    assert expected.strip() == "3.3333333333"
    assert compare_stdout("3.333333", expected) is None  # |diff| 3.3e-7 <= 1e-6 * 3.33
    assert compare_stdout("3.3333", expected) is not None  # |diff| 3.3e-5 too far
    assert compare_stdout("3.3333333333e0", expected) is None
    assert tokens_equal("1e-7", "0.0000001")
    assert tokens_equal("0.0000001", "1e-7")
    assert tokens_equal("2.0", "2") and tokens_equal("2", "2.000000")
    assert tokens_equal("1000000.5", "1000001")  # relative: 0.5 <= 1e-6 * 1e6
    assert not tokens_equal("1000003", "1000001.5")  # 1.5 > 1e-6 * 1000001.5
    assert not tokens_equal("nan", "NaN") and not tokens_equal("inf", "1e309")


def test_strict_integers_for_judges_that_want_them():
    # RunBugRun p03035's buggy programs print B/2 as "50.0" where AtCoder wants "50".
    rbr = [p for p in get_benchmark("runbugrun").load()]
    assert rbr and all(p.tests.strict_integers for p in rbr)
    assert compare_stdout("50.0", "50\n", strict_integers=True) == "token 1: expected '50', got '50.0'"
    assert compare_stdout("50.0", "50\n") is None
    assert compare_stdout("50", "50.0\n", strict_integers=True) is None  # floats keep their tolerance


def test_huge_integers_compare_exactly(contests):
    # 1407_E test 5 expects a 20-digit integer; a float compare would call n and n+1 equal.
    expected = contests["1407_E"].tests.cases[5][1]
    big = next(t for t in expected.split() if re.fullmatch(r"\d{19,}", t))
    off_by_one = str(int(big) + 1)
    assert float(big) == float(off_by_one)  # why floats must not be used here
    assert compare_stdout(expected.replace(big, off_by_one), expected) is not None
    assert compare_stdout(expected, expected) is None
    assert tokens_equal("007", "7") and tokens_equal("-0", "0")
    huge = "1" + "0" * 5000  # past Python's 4300-digit int<->str limit
    assert tokens_equal(huge, "+" + huge) and tokens_equal("-" + huge, "-000" + huge)
    assert not tokens_equal(huge[:-1] + "1", huge) and not tokens_equal("-" + huge, huge)


def test_case_sensitive_by_default(contests):
    # 1016_D answers "YES" then a matrix.
    expected = contests["1016_D"].tests.cases[1][1]
    assert expected.startswith("YES")
    lower = "yes" + expected[3:]
    assert compare_stdout(lower, expected) == "token 1: expected 'YES', got 'yes'"
    assert compare_stdout(lower, expected, case_sensitive=False) is None


def test_call_results_normalized_as_apps_grader_does():
    # APPS 1629 (exchange_sort) expects [0]: the value wrapped in a one-element list.
    apps = {p.id: p for p in get_benchmark("apps").load()}
    args, want = apps["1629"].tests.cases[0]
    assert (args, want) == ("[[7, 7, 8, 8, 9, 9]]", "[0]")
    assert call_result_equal(0, [0]) and call_result_equal([0], [0])
    assert not call_result_equal(1, [0])
    assert call_result_equal((1, (2, 3)), [1, [2, 3]])  # tuples are lists
    assert normalize({"a": (1, 2)}) == {"a": [1, 2]}
    assert not call_result_equal([1, 2], [[1, 2, 3]])


def test_apps_call_arguments_are_one_per_line():
    apps = {p.id: p for p in get_benchmark("apps").load()}
    assert apps["1642"].tests.fn_name == "multiply"
    assert apps["1642"].tests.cases[0][0] == "[24, 2]"  # stored as "24\n2"
    # 4724 (drop_cap) stores its string argument unquoted: "apple of banana".
    assert apps["4724"].tests.fn_name == "drop_cap"
    assert apps["4724"].tests.cases[0] == ('["apple of banana"]', '["Apple of Banana"]')
