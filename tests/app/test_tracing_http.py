"""A replica's trace ids over HTTP: the answer's `traceresponse`, the access line's ECS
tracing fields, the exemplar on the latency histogram, and a bad `traceparent` counted.

The header examples are W3C Trace Context Level 1's (3.2.3); the field names are ECS's
tracing fields (elastic/ecs schemas/tracing.yml: trace.id, span.id, transaction.id); the
Accept header is the one Prometheus 2.42 scrapes with (prometheus/prometheus
scrape/scrape.go, scrapeAcceptHeader), the exemplar read back with prometheus-client's
OpenMetrics parser.
"""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from tornado.httputil import HTTPHeaders

from app.contract import INVALID_TRACEPARENTS_TOTAL, REQUEST_DURATION
from app.metrics import ServiceMetrics
from tests.app.helpers import running_service

SPEC_SAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
SPEC_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def exemplar_trace_ids(case) -> list[str]:
    response = case.fetch("/metrics", headers={"Accept": PROMETHEUS_ACCEPT})
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    found = []
    for family in text_string_to_metric_families(response.body.decode()):
        for sample in family.samples:
            if sample.name == REQUEST_DURATION + "_bucket" and sample.exemplar is not None:
                found.append(sample.exemplar.labels["trace_id"])
    return found


def call(case, path: str, traceparent: str | None = None):
    headers = {} if traceparent is None else {"traceparent": traceparent}
    return case.fetch(path, headers=headers)


@pytest.mark.parametrize("path", ["/fibonacci/10/", "/fibonacci/401/", "/fibonacci/1/2/"])
def test_callers_trace_reaches_answer_log_line_and_exemplar(path):
    with running_service("fibonacci") as case:
        response = call(case, path, SPEC_SAMPLED)
        answer = response.headers["traceresponse"]
        version, trace_id, child_id, _flags = answer.split("-")
        assert (version, trace_id) == ("00", SPEC_TRACE_ID)
        assert child_id != "00f067aa0ba902b7", "child-id is the replica's span, not the caller's"
        [line] = case.log_lines()
        assert line["trace.id"] == SPEC_TRACE_ID
        assert line["span.id"] == child_id
        assert line["transaction.id"] == child_id
        assert exemplar_trace_ids(case) == [SPEC_TRACE_ID]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "ff" + SPEC_SAMPLED[2:],
        SPEC_SAMPLED.upper(),
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
        SPEC_SAMPLED + "-extra",
        "garbage",
    ],
)
def test_missing_or_bad_header_starts_a_new_trace(header):
    with running_service("fibonacci") as case:
        before = case.sample(INVALID_TRACEPARENTS_TOTAL, function="fibonacci")
        response = call(case, "/fibonacci/10/", header)
        assert response.code == 200, "a bad traceparent never fails the call"
        _version, trace_id, child_id, _flags = response.headers["traceresponse"].split("-")
        assert trace_id not in (SPEC_TRACE_ID, "0" * 32)
        [line] = case.log_lines()
        assert line["trace.id"] == trace_id
        assert line["span.id"] == child_id
        assert exemplar_trace_ids(case) == [trace_id]
        after = case.sample(INVALID_TRACEPARENTS_TOTAL, function="fibonacci")
        assert before == 0
        assert after == (0 if header is None else 1)


def test_probes_and_unknown_paths_carry_no_trace():
    with running_service("fibonacci") as case:
        for path in ("/health", "/nowhere"):
            response = call(case, path, SPEC_SAMPLED)
            assert "traceresponse" not in response.headers, path


def test_tracing_off_drops_ids_and_exemplars():
    with running_service("fibonacci", tracing=False) as case:
        response = call(case, "/fibonacci/10/", SPEC_SAMPLED)
        assert response.code == 200
        assert "traceresponse" not in response.headers
        [line] = case.log_lines()
        assert "trace.id" not in line
        assert exemplar_trace_ids(case) == []


def test_a_bucket_takes_at_most_one_exemplar_per_interval_and_a_new_bucket_at_once():
    """A busy bucket keeps its first exemplar of the interval (Prometheus reads one per scrape
    anyway); a bucket first hit later (a slower call: the spike) gets that call's at once. The
    bucket an observation lands in is prometheus-client's (metrics.py Histogram.observe: the
    first upper bound >= the value), read back from its OpenMetrics exposition."""
    registry = CollectorRegistry()
    metrics = ServiceMetrics("fibonacci", registry)
    metrics.count_response(200, 0.003, "a" * 32)
    metrics.count_response(200, 0.003, "b" * 32)
    metrics.count_response(200, 0.3, "c" * 32)
    exemplars = {
        sample.labels["le"]: sample.exemplar.labels["trace_id"]
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
        if sample.name == REQUEST_DURATION + "_bucket" and sample.exemplar is not None
    }
    assert exemplars == {"0.005": "a" * 32, "1.0": "c" * 32}


def test_two_traceparent_headers_are_one_invalid_value():
    """HTTP folds repeated fields into one comma-joined value (RFC 9110 5.3), which no longer
    fits the traceparent grammar (Trace Context 3.2.2): a new trace, counted."""
    with running_service("fibonacci") as case:
        headers = HTTPHeaders()
        headers.add("traceparent", SPEC_SAMPLED)
        headers.add("traceparent", SPEC_SAMPLED)
        response = case.fetch("/fibonacci/10/", headers=headers)
        assert response.code == 200
        assert response.headers["traceresponse"].split("-")[1] != SPEC_TRACE_ID
        assert case.sample(INVALID_TRACEPARENTS_TOTAL, function="fibonacci") == 1
