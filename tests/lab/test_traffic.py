"""The traffic generator: right answers pass, and every kind of wrong answer fails the run."""

import argparse
import asyncio
import itertools
import json
import random
import re

import pytest

from app.contract import FUNCTION_ARGUMENTS, FUNCTIONS, SAMPLE_CALLS
from lab import calls, traffic
from lab.support import free_port
from tests.lab.test_makefile import dry_run
from tests.support.reference import reference_result

SAMPLE = calls.valid_call("fibonacci", random.Random(0), sample=True)
INVALID = calls.Call("fibonacci", "/fibonacci/401/", frozenset({400, 404}))


def answer(function, args, result) -> bytes:
    return json.dumps({"function": function, "args": list(args), "result": result}).encode()


def test_the_contract_sample_results_are_the_reference_results():
    # traffic checks the services against these; the stand-in API answers with the reference.
    for function, (args, result) in SAMPLE_CALLS.items():
        assert str(reference_result(function, args)) == result, function


def test_plan_mixes_valid_and_invalid_calls_reproducibly():
    def first(n, seed=7):
        return list(itertools.islice(calls.call_plan(FUNCTIONS, 0.3, seed), n))

    assert [c.path for c in first(500)] == [c.path for c in first(500)]
    assert [c.path for c in first(500)] != [c.path for c in first(500, seed=8)]
    plan = first(2000)
    invalid = [c for c in plan if 200 not in c.expected_status]
    assert 0.25 < len(invalid) / len(plan) < 0.35
    assert {c.function for c in plan} == {*FUNCTIONS, calls.UNROUTED}
    valid = [c for c in plan if c.arguments is not None]
    for function in FUNCTIONS:
        mine = [c for c in valid if c.function == function]
        # The first valid call of each function is its sample, so short runs check one too.
        assert mine[0].expected_result == SAMPLE_CALLS[function][1]
        checked = sum(c.expected_result is not None for c in mine) / len(mine)
        assert 0.15 < checked < 0.4, (function, checked)
        for call in mine:
            assert all(
                0 <= arg <= high
                for arg, (_name, high) in zip(
                    call.arguments, FUNCTION_ARGUMENTS[function], strict=True
                )
            ), call


@pytest.mark.parametrize("function", FUNCTIONS)
def test_invalid_paths_break_each_limit_of_the_contract(function):
    paths = calls.invalid_paths(function)
    limits = FUNCTION_ARGUMENTS[function]
    for i, (_name, high) in enumerate(limits):
        assert any(path.strip("/").split("/")[1 + i] == str(high + 1) for path in paths)
    assert f"/{function}/-1/" in {path[: len(function) + 5] for path in paths}
    assert len(set(paths)) == len(paths)


@pytest.mark.parametrize(
    ("call", "status", "body", "verdict"),
    [
        (SAMPLE, 500, b"", "server error"),
        (SAMPLE, 200, answer("fibonacci", [10], "56"), "wrong result"),
        (SAMPLE, 200, answer("factorial", [10], "55"), "answer is for factorial[10]"),
        (SAMPLE, 200, answer("fibonacci", [11], "89"), "asked fibonacci[10]"),
        (SAMPLE, 200, answer("fibonacci", [10], "5.5e1"), "not a decimal integer"),
        (SAMPLE, 200, b'["55"]', "not a JSON object"),
        (INVALID, 200, answer("fibonacci", [401], "1"), "status 200"),
        (INVALID, 400, b"oops", "not JSON"),
        (INVALID, 400, b'{"error": {"status": 404}}', "differs"),
        (INVALID, 400, b'{"message": "no"}', "no error object"),
    ],
)
def test_judge_names_what_is_wrong(call, status, body, verdict):
    assert verdict in calls.judge(call, status, body)


def test_judge_accepts_right_answers():
    valid = calls.valid_call("ackermann", random.Random(1))
    body = answer("ackermann", valid.arguments, str(reference_result("ackermann", valid.arguments)))
    assert calls.judge(valid, 200, body) is None
    assert calls.judge(SAMPLE, 200, answer("fibonacci", [10], "55")) is None
    rejected = calls.Call("factorial", "/factorial/401/", frozenset({400, 404}))
    assert calls.judge(rejected, 400, b'{"error": {"status": 400, "message": "n"}}') is None


def test_healthy_api_passes_with_every_function_and_status(fake_api, capsys):
    code = traffic.main(
        ["--url", fake_api.url, "--count", "300", "--concurrency", "6", "--seed", "3"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    for function in FUNCTIONS:
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


def test_an_answer_from_the_wrong_function_fails_the_run(fake_api, capsys):
    fake_api.behaviour["misrouted_function"] = "factorial"
    code = traffic.main(["--url", fake_api.url, "--count", "60", "--invalid-ratio", "0"])
    assert code != 0
    assert "answer is for" in capsys.readouterr().out


def test_an_invalid_stack_config_is_reported_unless_a_url_is_given(tmp_path, monkeypatch, capsys):
    from lab import automation

    bad = tmp_path / "Pulumi.dev.yaml"
    bad.write_text("config:\n  lab:replicas: 0\n")
    monkeypatch.setattr(automation, "STACK_FILE", bad)
    monkeypatch.delenv("LAB_API_URL", raising=False)
    assert traffic.main(["--count", "1"]) == 1
    assert capsys.readouterr().err.strip() == (
        "lab: Pulumi.dev.yaml: lab:replicas = 0 is invalid: expected an integer from 1 to 20"
        " (or give --url)"
    )


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


def test_a_steady_rate_keeps_its_schedule_and_ends_with_the_checked_summary(fake_api, capsys):
    """`make traffic DURATION=2s RATE=20`: the n-th call starts n/20 s after the first, for the
    whole duration, whatever the answers' speed; the same checked summary follows."""
    recipe = dry_run("traffic", "DURATION=2s", "RATE=20").split()
    assert recipe[-4:] == ["--duration", "2s", "--rate", "20"]
    assert traffic.main(["--url", fake_api.url, *recipe[-4:], "--seed", "5"]) == 0
    out = capsys.readouterr().out
    calls = int(re.search(r"(\d+) calls in ([0-9.]+) s", out).group(1))
    assert 38 <= calls <= 40, out  # 2 s x 20/s: the 40 calls due before the deadline
    assert "0 failed" in out
    kept = float(re.search(r"([0-9.]+) calls/s kept", out).group(1))
    assert 18.0 <= kept <= 21.0, out


def test_a_rate_spaces_the_calls_evenly(fake_api):
    results = asyncio.run(
        traffic.run(
            fake_api.url, count=30, duration=None, concurrency=4, invalid_ratio=0.0, rate=50.0
        )
    )
    assert len(results.outcomes) == 30
    # 30 calls at 50/s: the last is due 29/50 = 0.58 s after the first.
    assert 0.55 <= results.elapsed < 1.5, results.elapsed


def test_durations_read_as_make_gives_them():
    assert [traffic.seconds(t) for t in ("90", "30s", "10m", "1h", "0.5")] == [
        90,
        30,
        600,
        3600,
        0.5,
    ]
    for bad in ("", "ten", "-5", "0", "5x"):
        with pytest.raises(argparse.ArgumentTypeError):
            traffic.seconds(bad)


def test_the_progress_line_says_the_rate_kept_and_asked_and_the_time_left():
    results = traffic.Results()
    results.started -= 2.0  # as if started two seconds ago
    results.outcomes.extend(traffic.Outcome(None, 200, 0.01, None) for _ in range(40))
    line = traffic.progress_line(results, 0.5, rate=20, duration=4)
    assert re.search(r"40 calls  (19|20)\.\d of 20 req/s  0 failed  2 s left", line), line
