"""The pure functions against their textbook definitions, and argument parsing rules."""

import sys

import pytest

from app.compute import (
    FUNCTIONS,
    RULE_ABOVE_LIMIT,
    RULE_NEGATIVE,
    RULE_NOT_DECIMAL,
    ArgumentError,
    Parameter,
    ackermann,
    factorial,
    fibonacci,
    parse_argument,
    parse_arguments,
)
from tests.support import reference


@pytest.fixture(autouse=True)
def deep_recursion():
    # The textbook definitions recurse; A(3, 10) needs about 8000 frames.
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    yield
    sys.setrecursionlimit(old)


def test_fibonacci_matches_the_textbook_for_every_valid_n():
    for n in range(FUNCTIONS["fibonacci"].parameters[0].maximum + 1):
        assert fibonacci(n) == reference.fibonacci(n), n


def test_factorial_matches_the_textbook_for_every_valid_n():
    for n in range(FUNCTIONS["factorial"].parameters[0].maximum + 1):
        assert factorial(n) == reference.factorial(n), n


def test_ackermann_matches_the_textbook_for_every_valid_pair_and_beyond_n():
    for m in range(4):
        for n in range(11):  # the limit is 4; the closed forms hold further
            assert ackermann(m, n) == reference.ackermann(m, n), (m, n)


def test_known_values_and_sizes():
    assert fibonacci(10) == 55
    assert len(str(fibonacci(400))) == 84
    assert len(str(factorial(400))) == 869
    assert ackermann(3, 4) == 125


@pytest.mark.parametrize(
    ("call", "args"),
    [(fibonacci, (-1,)), (factorial, (-1,)), (ackermann, (-1, 0)), (ackermann, (4, 0))],
)
def test_outside_the_domain_raises(call, args):
    with pytest.raises(ValueError, match=r"defined for|m <= 3"):
        call(*args)


N = Parameter("n", 400)


@pytest.mark.parametrize(
    ("raw", "value"), [("0", 0), ("5", 5), ("400", 400), ("007", 7), ("0000000400", 400)]
)
def test_plain_decimals_parse(raw, value):
    assert parse_argument(raw, N) == value


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (" 5", RULE_NOT_DECIMAL),
        ("5 ", RULE_NOT_DECIMAL),
        ("+5", RULE_NOT_DECIMAL),
        ("5_0", RULE_NOT_DECIMAL),
        ("٣", RULE_NOT_DECIMAL),  # Arabic-Indic three: int() accepts it
        ("²", RULE_NOT_DECIMAL),
        ("", RULE_NOT_DECIMAL),
        ("abc", RULE_NOT_DECIMAL),
        ("1e3", RULE_NOT_DECIMAL),
        ("0x10", RULE_NOT_DECIMAL),
        ("5.0", RULE_NOT_DECIMAL),
        ("-", RULE_NOT_DECIMAL),
        ("-0", RULE_NOT_DECIMAL),
        ("--1", RULE_NOT_DECIMAL),
        ("-1", RULE_NEGATIVE),
        ("-400", RULE_NEGATIVE),
        ("-99999999999999999999", RULE_NEGATIVE),
        ("401", RULE_ABOVE_LIMIT),
        ("999", RULE_ABOVE_LIMIT),
        ("1000", RULE_ABOVE_LIMIT),
        ("99999999999999999999", RULE_ABOVE_LIMIT),
    ],
)
def test_invalid_arguments_name_the_argument_and_rule(raw, rule):
    with pytest.raises(ArgumentError) as caught:
        parse_argument(raw, N)
    assert caught.value.argument == "n"
    assert caught.value.rule == rule
    assert "n" in caught.value.message


def test_oversized_input_is_refused_before_int():
    # Python refuses int() of strings over 4300 digits; the parser must not get there.
    huge = "9" * 100_000
    with pytest.raises(ArgumentError) as caught:
        parse_argument(huge, N)
    assert caught.value.rule == RULE_ABOVE_LIMIT


def test_ackermann_reports_the_first_bad_argument_by_name():
    spec = FUNCTIONS["ackermann"]
    assert parse_arguments(spec, ("3", "4")) == (3, 4)
    with pytest.raises(ArgumentError) as caught:
        parse_arguments(spec, ("4", "0"))
    assert (caught.value.argument, caught.value.rule) == ("m", RULE_ABOVE_LIMIT)
    with pytest.raises(ArgumentError) as caught:
        parse_arguments(spec, ("3", "x"))
    assert (caught.value.argument, caught.value.rule) == ("n", RULE_NOT_DECIMAL)
    with pytest.raises(TypeError):
        parse_arguments(spec, ("3",))


def test_usage_shows_every_parameter():
    assert FUNCTIONS["ackermann"].usage == "/ackermann/{m}/{n}/"
    assert FUNCTIONS["fibonacci"].usage == "/fibonacci/{n}/"
