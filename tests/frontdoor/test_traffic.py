"""The traffic generator: right answers pass, and every kind of wrong answer fails the run."""

import asyncio
import itertools
import math
import random

import pytest

from scripts import traffic
from tests.frontdoor.conftest import free_port


def test_reference_implementations_match_known_values():
    assert [traffic.fibonacci(n) for n in range(11)] == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55]
    assert len(str(traffic.fibonacci(400))) == 84  # DESIGN.md: fib(400) has 84 digits
    assert len(str(math.factorial(400))) == 869
    assert traffic.ackermann(2, 2) == 7
    assert traffic.ackermann(3, 4) == 125


def test_plan_mixes_valid_and_invalid_calls_reproducibly():
    def first(n, seed=7):
        return list(itertools.islice(traffic.call_plan(traffic.FUNCTIONS, 0.3, seed), n))

    assert [c.path for c in first(500)] == [c.path for c in first(500)]
    assert [c.path for c in first(500)] != [c.path for c in first(500, seed=8)]
    calls = first(2000)
    invalid = [c for c in calls if c.expected_result is None]
    assert 0.25 < len(invalid) / len(calls) < 0.35
    assert {c.function for c in calls} == {*traffic.FUNCTIONS, traffic.UNROUTED}


@pytest.mark.parametrize(
    ("call", "status", "body", "verdict"),
    [
        (traffic.Call("fibonacci", "/fibonacci/10/", frozenset({200})), 500, b"", "server error"),
        (
            traffic.Call("fibonacci", "/fibonacci/10/", frozenset({200}), "55"),
            200,
            b'{"result": "56"}',
            "wrong result",
        ),
        (
            traffic.Call("fibonacci", "/fibonacci/401/", frozenset({400, 404})),
            200,
            b'{"result": "1"}',
            "status 200",
        ),
        (
            traffic.Call("fibonacci", "/fibonacci/401/", frozenset({400, 404})),
            400,
            b"oops",
            "not JSON",
        ),
        (
            traffic.Call("fibonacci", "/fibonacci/401/", frozenset({400, 404})),
            400,
            b'{"error": {"status": 404}}',
            "differs",
        ),
    ],
)
def test_judge_names_what_is_wrong(call, status, body, verdict):
    assert verdict in traffic.judge(call, status, body)


def test_judge_accepts_right_answers():
    valid = traffic.valid_call("ackermann", random.Random(1))
    body = f'{{"result": "{valid.expected_result}"}}'.encode()
    assert traffic.judge(valid, 200, body) is None
    rejected = traffic.Call("factorial", "/factorial/401/", frozenset({400, 404}))
    assert traffic.judge(rejected, 400, b'{"error": {"status": 400, "message": "n"}}') is None


def test_healthy_api_passes_with_every_function_and_status(fake_api, capsys):
    code = traffic.main(
        ["--url", fake_api.url, "--count", "300", "--concurrency", "6", "--seed", "3"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    for function in traffic.FUNCTIONS:
        assert function in out
    assert "200: " in out
    assert "400: " in out
    assert "404: " in out
    assert "300 calls" in out
    assert "0 failed" in out


def test_count_and_concurrency_bound_the_run(fake_api):
    results = asyncio.run(
        traffic.run(fake_api.url, count=57, duration=None, concurrency=5, invalid_ratio=0.5)
    )
    assert len(results.outcomes) == 57
    assert not results.failures


def test_duration_bounds_the_run(fake_api):
    results = asyncio.run(
        traffic.run(fake_api.url, count=None, duration=0.5, concurrency=2, invalid_ratio=0.0)
    )
    assert 0.5 <= results.elapsed < 3
    assert results.outcomes
    assert all(o.status == 200 for o in results.outcomes)


def test_server_error_fails_the_run(fake_api, capsys):
    fake_api.behaviour["fail_function"] = "factorial"
    code = traffic.main(["--url", fake_api.url, "--count", "60", "--seed", "1"])
    out = capsys.readouterr().out
    assert code != 0
    assert "500: " in out
    assert "server error 500" in out


def test_wrong_result_fails_the_run(fake_api, capsys):
    fake_api.behaviour["wrong_function"] = "ackermann"
    code = traffic.main(["--url", fake_api.url, "--count", "60", "--invalid-ratio", "0"])
    assert code != 0
    assert "wrong result" in capsys.readouterr().out


def test_refused_connection_fails_the_run(capsys):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    code = traffic.main(["--url", url, "--count", "5", "--timeout", "2"])
    out = capsys.readouterr().out
    assert code != 0
    assert "error: 5" in out
    assert "connection error" in out


def test_duration_alone_is_not_cut_short_by_the_default_count():
    assert traffic.parse_args(["--duration", "5"]).count is None
    assert traffic.parse_args([]).count == traffic.DEFAULT_COUNT
    assert traffic.parse_args(["--count", "0", "--duration", "1"]).count is None


def test_invalid_arguments_are_refused():
    with pytest.raises(SystemExit):
        traffic.main(["--count", "0"])
    with pytest.raises(SystemExit):
        traffic.main(["--concurrency", "0"])
