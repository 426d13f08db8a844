"""Every status path of the service over HTTP: status, then JSON body, then the metric
sample that moved and the ECS access line the request wrote."""

import dataclasses
import json

import pytest

from app import compute
from tests.app.helpers import CODES, counted, counts, running_service
from tests.support.reference import reference_result


@pytest.mark.parametrize(
    ("function", "path", "args"),
    [
        ("fibonacci", "/fibonacci/10/", (10,)),
        ("fibonacci", "/fibonacci/10", (10,)),  # the trailing slash is optional
        ("fibonacci", "/fibonacci/0/", (0,)),
        ("fibonacci", "/fibonacci/400/", (400,)),
        ("fibonacci", "/fibonacci/007/", (7,)),
        ("factorial", "/factorial/400/", (400,)),
        ("factorial", "/factorial/0/", (0,)),
        ("ackermann", "/ackermann/3/4/", (3, 4)),
        ("ackermann", "/ackermann/0/0", (0, 0)),
    ],
)
def test_a_valid_call_answers_the_exact_result_counts_and_logs(function, path, args):
    with running_service(function) as case:
        before = counts(case)
        response = case.request(path)
        assert response.code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        assert json.loads(response.body) == {
            "function": function,
            "args": list(args),
            "result": str(reference_result(function, args)),
        }
        after = counts(case)
        assert after["200"] == before["200"] + 1
        assert {c: after[c] for c in CODES if c != "200"} == {
            c: before[c] for c in CODES if c != "200"
        }
        labels = {"function": function}
        assert case.sample("lab_request_duration_seconds_count", **labels) == 1
        assert case.sample("lab_compute_duration_seconds_count", **labels) == 1
        assert case.sample("lab_requests_in_flight", **labels) == 0
        [line] = case.log_lines()
        assert line["log.level"] == "info"
        assert line["message"] == f"GET {path} 200"
        assert line["service.name"] == f"lab-{function}"
        assert line["event.dataset"] == "lab.access"
        assert line["http.request.method"] == "GET"
        assert line["http.response.status_code"] == 200
        assert line["url.path"] == path
        assert line["lab.function"] == function
        assert line["lab.arguments"] == path.split("/", 2)[2].rstrip("/")
        assert 0 < line["lab.compute.duration"] < line["event.duration"]
        assert "error.message" not in line
        assert line["ecs.version"]
        assert line["@timestamp"].endswith("Z")


@pytest.mark.parametrize(
    ("function", "path", "argument", "rule"),
    [
        ("fibonacci", "/fibonacci/-1/", "n", "negative"),
        ("fibonacci", "/fibonacci/401/", "n", "above the limit"),
        ("fibonacci", "/fibonacci/99999999999999999999/", "n", "above the limit"),
        ("fibonacci", "/fibonacci/%205/", "n", "not a plain ASCII decimal integer"),
        ("fibonacci", "/fibonacci/+5/", "n", "not a plain ASCII decimal integer"),
        ("fibonacci", "/fibonacci/5_0/", "n", "not a plain ASCII decimal integer"),
        ("fibonacci", "/fibonacci/%D9%A3/", "n", "not a plain ASCII decimal integer"),
        ("fibonacci", "/fibonacci/%FF/", "n", "not a plain ASCII decimal integer"),
        ("fibonacci", "/fibonacci/abc/", "n", "not a plain ASCII decimal integer"),
        ("factorial", "/factorial/1000/", "n", "above the limit"),
        ("ackermann", "/ackermann/4/0/", "m", "above the limit"),
        ("ackermann", "/ackermann/3/5/", "n", "above the limit"),
        ("ackermann", "/ackermann/-3/x/", "m", "negative"),
        ("ackermann", "/ackermann/3/x/", "n", "not a plain ASCII decimal integer"),
    ],
)
def test_an_invalid_argument_is_a_400_naming_argument_and_rule(function, path, argument, rule):
    with running_service(function) as case:
        before = counts(case)
        response = case.request(path)
        assert response.code == 400
        error = json.loads(response.body)["error"]
        assert error["status"] == 400
        assert (error["argument"], error["rule"]) == (argument, rule)
        assert argument in error["message"]
        after = counts(case)
        assert after["400"] == before["400"] + 1
        assert after["200"] == before["200"]
        assert case.sample("lab_compute_duration_seconds_count", function=function) == 0
        [line] = case.log_lines()
        assert line["log.level"] == "warning"
        assert line["http.response.status_code"] == 400
        assert line["error.message"] == error["message"]
        assert line["lab.arguments"] == path.split("/", 2)[2].rstrip("/")
        assert "lab.compute.duration" not in line


@pytest.mark.parametrize(
    ("path", "is_call", "message_part"),
    [
        ("/fibonacci/1/2/", True, "/fibonacci/{n}/"),  # wrong number of arguments
        ("/fibonacci/", True, "/fibonacci/{n}/"),
        ("/fibonacci", True, "/fibonacci/{n}/"),
        ("/fibonacci//", True, "/fibonacci/{n}/"),
        ("/factorial/3/", False, "no such path"),  # another service's function
        ("/", False, "no such path"),
        ("/health/x", False, "no such path"),
        ("/fibonaccix/1/", False, "no such path"),
    ],
)
def test_an_unknown_path_is_a_json_404(path, is_call, message_part):
    with running_service("fibonacci") as case:
        before = counts(case)
        response = case.request(path)
        assert response.code == 404
        error = json.loads(response.body)["error"]
        assert error["status"] == 404
        assert message_part in error["message"]
        assert "argument" not in error
        # Only calls of the service's own function are counted; the log has them all.
        assert counts(case)["404"] == before["404"] + (1 if is_call else 0)
        [line] = case.log_lines()
        assert line["log.level"] == "warning"
        assert line["http.response.status_code"] == 404
        assert line["url.path"] == path
        assert ("lab.arguments" in line) is is_call


@pytest.mark.parametrize(
    ("method", "path", "is_call"),
    [
        ("POST", "/fibonacci/10/", True),
        ("DELETE", "/fibonacci/10/", True),
        ("HEAD", "/fibonacci/10/", True),
        ("PUT", "/health", False),
        ("POST", "/metrics", False),
    ],
)
def test_another_method_is_a_json_405(method, path, is_call):
    with running_service("fibonacci") as case:
        before = counts(case)
        response = case.request(path, method=method)
        assert response.code == 405
        if method != "HEAD":
            assert json.loads(response.body)["error"]["status"] == 405
        assert counts(case)["405"] == before["405"] + (1 if is_call else 0)
        [line] = case.log_lines()
        assert line["log.level"] == "warning"
        assert line["http.request.method"] == method
        assert line["http.response.status_code"] == 405


def test_a_bug_is_a_json_500_with_an_error_line(monkeypatch):
    def broken(n: int) -> int:
        raise RuntimeError("secret detail")

    spec = dataclasses.replace(compute.FUNCTIONS["fibonacci"], compute=broken)
    monkeypatch.setitem(compute.FUNCTIONS, "fibonacci", spec)
    with running_service("fibonacci") as case:
        response = case.request("/fibonacci/10/")
        assert response.code == 500
        assert json.loads(response.body) == {
            "error": {"status": 500, "message": "internal server error"}
        }
        assert "secret" not in response.body.decode()
        assert counted(case, "500") == 1
        traceback_line, access_line = case.log_lines()
        assert traceback_line["log.level"] == "error"
        assert "RuntimeError" in traceback_line["error.stack_trace"]
        assert access_line["log.level"] == "error"
        assert access_line["http.response.status_code"] == 500


def test_health_answers_without_a_log_line_or_a_count():
    with running_service("ackermann") as case:
        response = case.request("/health")
        assert response.code == 200
        assert json.loads(response.body) == {"status": "ok", "function": "ackermann"}
        assert case.log_lines() == []
        assert counts(case) == dict.fromkeys(CODES, 0.0)
