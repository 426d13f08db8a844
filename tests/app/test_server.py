"""`python -m app` as a real process: settings, start-up line, and a graceful SIGTERM that
lets the request in flight finish."""

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.server import LIMIT_VARIABLES, Limits, parse_settings
from lab.support import REPO_ROOT, free_port, wait_until
from tests.support.ecs_fields import flatten


def get(url: str, timeout: float = 5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def in_flight(base: str) -> float:
    _, text = get(base + "/metrics")
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if sample.name == "lab_requests_in_flight":
                return sample.value
    raise AssertionError("no lab_requests_in_flight sample")


def refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@contextlib.contextmanager
def service_process(**env: str) -> Iterator[tuple[subprocess.Popen, int]]:
    """`python -m app` on a free port with these variables, once /health answers; killed on
    the way out if the test did not stop it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--port", str(port)],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: get(f"http://127.0.0.1:{port}/health")[0] == 200)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_sigterm_drains_then_lets_the_request_in_flight_finish_then_exits_0():
    # LAB_TEST_DELAY_MS (test only) holds each function call long enough to be in flight
    # past the drain window, so both phases of the shutdown are seen.
    env = {"LAB_FUNCTION": "fibonacci", "LAB_TEST_DELAY_MS": "3000", "LAB_DRAIN_SECONDS": "1.5"}
    with service_process(**env) as (process, port):
        base = f"http://127.0.0.1:{port}"
        answer = {}
        caller = threading.Thread(
            target=lambda: answer.update(result=get(base + "/fibonacci/10/", timeout=10))
        )
        caller.start()
        wait_until(lambda: in_flight(base) == 1)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        # The drain window: still listening, but /health asks load balancers to go away.
        probe = {}
        wait_until(lambda: probe.update(answer=get(base + "/health")) or probe["answer"][0] == 503)
        status, body = probe["answer"]
        assert (status, json.loads(body)["status"]) == (503, "draining")
        # Then it stops accepting: new connections are refused, not before the window ends...
        wait_until(lambda: refused(port), timeout=3)
        assert time.monotonic() - signalled >= 1.5
        caller.join(timeout=10)
        # ...while the call already in flight still gets its answer.
        status, body = answer["result"]
        assert status == 200
        assert json.loads(body)["result"] == "55"
        stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr.decode()
    lines = [flatten(json.loads(line)) for line in stdout.decode().splitlines()]
    assert [line.get("event.action") for line in lines if "event.action" in line] == [
        "service-start",
        "service-drain",
        "service-stop",
    ]
    start, *middle, stop = lines
    assert start["event.dataset"] == "lab.lifecycle"
    assert (start["server.address"], start["server.port"]) == ("127.0.0.1", port)
    [drain] = [line for line in middle if line.get("event.action") == "service-drain"]
    assert drain["lab.drain_seconds"] == 1.5
    assert stop["lab.function"] == "fibonacci"
    assert stop["lab.unfinished_requests"] == 0
    access = [line for line in middle if line.get("event.dataset") == "lab.access"]
    [call] = [line for line in access if line["url.path"] == "/fibonacci/10/"]
    assert call["http.response.status_code"] == 200
    assert call["event.duration"] >= 3_000_000_000
    # The load balancer's view of the drain is logged too: the 503 health probes.
    probes = [line for line in access if line["url.path"] == "/health"]
    assert ("info", 503) in {(p["log.level"], p["http.response.status_code"]) for p in probes}


@pytest.mark.parametrize("event_loop", ["uvloop", "asyncio"])
def test_sigint_skips_the_drain_window_on_the_chosen_event_loop(event_loop):
    env = {"LAB_FUNCTION": "factorial", "LAB_DRAIN_SECONDS": "5", "LAB_EVENT_LOOP": event_loop}
    with service_process(**env) as (process, _):
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr.decode()
    lines = [flatten(json.loads(line)) for line in stdout.splitlines()]
    actions = [line.get("event.action") for line in lines]
    assert [action for action in actions if action] == ["service-start", "service-stop"]
    assert lines[0]["lab.event_loop"] == event_loop


def test_an_unknown_event_loop_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_settings(["--function", "fibonacci"], {"LAB_EVENT_LOOP": "tokio"})
    assert exit_info.value.code == 2
    assert "LAB_EVENT_LOOP" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["-1", "5.5", "soon", "nan", ""])
def test_a_drain_window_outside_0_to_5_seconds_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_settings(["--function", "fibonacci"], {"LAB_DRAIN_SECONDS": value})
    assert exit_info.value.code == 2
    assert "LAB_DRAIN_SECONDS" in capsys.readouterr().err


def test_the_drain_window_defaults_to_3_5_seconds_and_may_be_0():
    assert parse_settings(["--function", "fibonacci"], {}).drain_seconds == 3.5
    settings = parse_settings(["--function", "fibonacci"], {"LAB_DRAIN_SECONDS": "0"})
    assert settings.drain_seconds == 0


def test_flags_win_over_the_environment():
    environ = {"LAB_FUNCTION": "factorial", "LAB_HOST": "0.0.0.0", "LAB_PORT": "9000"}
    assert parse_settings([], environ).function == "factorial"
    assert parse_settings([], environ).port == 9000
    settings = parse_settings(["--function", "ackermann", "--port", "8081"], environ)
    assert (settings.function, settings.host, settings.port) == ("ackermann", "0.0.0.0", 8081)
    defaults = parse_settings(["--function", "fibonacci"], {})
    assert (defaults.host, defaults.port, defaults.call_delay_seconds) == ("127.0.0.1", 8080, 0)


@pytest.mark.parametrize(
    ("argv", "environ"),
    [([], {}), (["--function", "sqrt"], {}), ([], {"LAB_FUNCTION": "sqrt"})],
)
def test_a_missing_or_unknown_function_is_a_usage_error(argv, environ, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_settings(argv, environ)
    assert exit_info.value.code == 2
    assert "function" in capsys.readouterr().err.lower()


def test_every_limit_has_its_variable_and_a_default():
    assert parse_settings(["--function", "fibonacci"], {}).limits == Limits()
    assert set(LIMIT_VARIABLES) == {field.name for field in dataclasses.fields(Limits)}
    environ = dict.fromkeys(LIMIT_VARIABLES.values(), "7")
    limits = parse_settings(["--function", "fibonacci"], environ).limits
    assert set(dataclasses.asdict(limits).values()) == {7}
    assert parse_settings(["--function", "fibonacci"], {"LAB_MAX_BODY_BYTES": "0"}).limits == (
        Limits(max_body_bytes=0)
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LAB_MAX_BODY_BYTES", "-1"),
        ("LAB_MAX_HEADER_BYTES", "lots"),
        ("LAB_MAX_HEADER_COUNT", "1.5"),
        ("LAB_MAX_CONNECTIONS", "0"),
        ("LAB_HEADER_TIMEOUT_SECONDS", "0"),
        ("LAB_BODY_TIMEOUT_SECONDS", "nan"),
        ("LAB_IDLE_TIMEOUT_SECONDS", "inf"),
    ],
)
def test_a_limit_out_of_range_is_a_usage_error_naming_it(variable, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_settings(["--function", "fibonacci"], {variable: value})
    assert exit_info.value.code == 2
    assert f"{variable} must be" in capsys.readouterr().err
