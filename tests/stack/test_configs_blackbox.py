"""stack/configs/blackbox_yaml.py: the exporter accepts the modules, a real probe passes only
on the exact result or a healthy part, and Prometheus runs the probe jobs as rendered."""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml

from app.contract import FUNCTIONS, SAMPLE_CALLS, sample_path
from lab.support import NotReady, free_port, wait_until
from stack.configs import blackbox_yaml
from tests.support.binaries import packaged_binary
from tests.support.processes import running

PROBE_USER, PROBE_PASSWORD = "lab_probe", "s3cret-from-a-file"


@pytest.fixture(scope="session")
def blackbox_exporter() -> str:
    return packaged_binary(
        "the blackbox exporter", "prometheus-blackbox-exporter", "blackbox_exporter"
    )


def function_body(function: str, result: str | None = None) -> str:
    """What the function API answers (app/handlers.py writes this shape); the right result
    unless another is given."""
    arguments, right = SAMPLE_CALLS[function]
    return json.dumps({"function": function, "args": list(arguments), "result": result or right})


class FakeParts(ThreadingHTTPServer):
    """One local HTTP server answering every probed path as the test sets it; a path may
    require the probe's basic-auth credentials, as Elasticsearch with security does."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Answer)
        self.answers: dict[str, tuple[int, str]] = {}
        self.protected: set[str] = set()
        self.url = f"http://127.0.0.1:{self.server_port}"


class Answer(BaseHTTPRequestHandler):
    server: FakeParts
    credentials = base64.b64encode(f"{PROBE_USER}:{PROBE_PASSWORD}".encode()).decode()

    def do_GET(self) -> None:
        status, body = self.server.answers.get(self.path, (404, '{"error": "not found"}'))
        if self.path in self.server.protected and (
            self.headers.get("Authorization") != f"Basic {self.credentials}"
        ):
            status, body = 401, '{"error": "unauthorized"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def parts() -> Iterator[FakeParts]:
    server = FakeParts()
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    yield server
    server.shutdown()
    server.server_close()


def rendered_config(tmp_path: Path) -> Path:
    password = tmp_path / "elasticsearch-password"
    password.write_text(PROBE_PASSWORD)
    config = tmp_path / "blackbox.yml"
    config.write_text(
        blackbox_yaml.render(
            basic_auth={"elasticsearch": blackbox_yaml.BasicAuth(PROBE_USER, str(password))}
        )
    )
    return config


@pytest.fixture(scope="module")
def exporter(blackbox_exporter, tmp_path_factory) -> Iterator[str]:
    """A real exporter on a free port, loaded with the rendered modules."""
    url = f"http://127.0.0.1:{free_port()}"
    workdir = tmp_path_factory.mktemp("blackbox")
    argv = [
        blackbox_exporter,
        f"--config.file={rendered_config(workdir)}",
        f"--web.listen-address={url.removeprefix('http://')}",
    ]
    with running(argv, f"{url}/-/healthy", workdir / "exporter.log"):
        yield url


def probe(exporter: str, module: str, target: str) -> float:
    """probe_success of one probe, as Prometheus would scrape it."""
    response = requests.get(
        f"{exporter}{blackbox_yaml.PROBE_PATH}",
        params={"module": module, "target": target},
        timeout=15,
    )
    assert response.status_code == 200, response.text
    for line in response.text.splitlines():
        if line.startswith("probe_success "):
            return float(line.split()[1])
    raise AssertionError(f"no probe_success in:\n{response.text}")


# The broken variant (a regexp that does not compile) proves the check can fail.
@pytest.mark.parametrize(("broken", "accepted"), [(False, True), (True, False)])
def test_exporter_checks_the_rendered_modules(blackbox_exporter, tmp_path, broken, accepted):
    config = rendered_config(tmp_path)
    if broken:
        config.write_text(config.read_text().replace(r'"result"\s*', r'"result"(\s*'))
    result = subprocess.run(
        [blackbox_exporter, "--config.check", f"--config.file={config}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode == 0) == accepted, result.stdout + result.stderr


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_call_probe_passes_on_the_exact_result(exporter, parts, function):
    parts.answers[sample_path(function)] = (200, function_body(function))
    target = parts.url + sample_path(function)
    assert probe(exporter, blackbox_yaml.call_module(function), target) == 1


@pytest.mark.parametrize(
    ("case", "answer"),
    [
        ("wrong result", (200, function_body("fibonacci", "56"))),
        ("right digits and more", (200, function_body("fibonacci", "550"))),
        ("right result, another function", (200, function_body("factorial", "55"))),
        ("right body, server error", (500, function_body("fibonacci", "55"))),
        ("result as a number", (200, '{"function": "fibonacci", "args": [10], "result": 55}')),
    ],
)
def test_a_call_probe_fails_on_anything_else(exporter, parts, case, answer):
    path = sample_path("fibonacci")
    parts.answers[path] = answer
    assert probe(exporter, blackbox_yaml.call_module("fibonacci"), parts.url + path) == 0, case


def test_a_call_probe_fails_when_nothing_answers(exporter):
    target = f"http://127.0.0.1:{free_port()}{sample_path('fibonacci')}"
    assert probe(exporter, blackbox_yaml.call_module("fibonacci"), target) == 0


def kibana_status(overall: str) -> str:
    """Kibana 8's /api/status: the overall level first, then every service's own level."""
    core = {"elasticsearch": {"level": "available"}, "savedObjects": {"level": "available"}}
    status = {"overall": {"level": overall, "summary": f"overall {overall}"}, "core": core}
    return json.dumps({"name": "kibana", "status": status})


# Healthy and unhealthy answers of each part's health endpoint, as the pinned versions give
# them (tests/infra/checks.py reads the same fields).
HEALTH_ANSWERS = {
    "traefik": ((200, "OK"), (503, "Service Unavailable")),
    "prometheus": ((200, "Prometheus Server is Ready.\n"), (503, "Service Unavailable")),
    "grafana": (
        (200, '{"commit": "abc", "database": "ok", "version": "11.0.0"}'),
        (503, '{"commit": "abc", "database": "failing", "version": "11.0.0"}'),
    ),
    "elasticsearch": (
        (200, '{"cluster_name": "lab", "status": "yellow", "number_of_nodes": 1}'),
        (200, '{"cluster_name": "lab", "status": "red", "number_of_nodes": 1}'),
    ),
    "kibana": ((200, kibana_status("available")), (200, kibana_status("degraded"))),
    "logstash": ((200, '{"host": "logstash", "status": "green"}'), (404, "not found")),
}


@pytest.mark.parametrize("part", sorted(blackbox_yaml.PART_HEALTH))
def test_a_health_probe_tells_a_healthy_part_from_an_unhealthy_one(exporter, parts, part):
    path = blackbox_yaml.PART_HEALTH[part].path
    if part == "elasticsearch":
        parts.protected.add(path)
    healthy, unhealthy = HEALTH_ANSWERS[part]
    module = blackbox_yaml.health_module(part)
    parts.answers[path] = healthy
    assert probe(exporter, module, parts.url + path) == 1
    parts.answers[path] = unhealthy
    assert probe(exporter, module, parts.url + path) == 0


def test_the_elasticsearch_probe_sends_the_password_from_its_file(exporter, parts):
    path = blackbox_yaml.PART_HEALTH["elasticsearch"].path
    parts.answers[path] = HEALTH_ANSWERS["elasticsearch"][0]
    parts.protected.add(path)
    module = blackbox_yaml.health_module("elasticsearch")
    assert probe(exporter, module, parts.url + path) == 1
    # The same healthy answer, but to a module without credentials: refused, so the success
    # above came from the password file.
    assert probe(exporter, blackbox_yaml.health_module("grafana"), parts.url + path) == 0


def test_kibana_with_anonymous_status_access_is_healthy_too(exporter, parts):
    """Kibana's redacted answer to an unauthenticated client carries the overall level only."""
    path = blackbox_yaml.PART_HEALTH["kibana"].path
    parts.answers[path] = (200, '{"status":{"overall":{"level":"available"}}}')
    assert probe(exporter, blackbox_yaml.health_module("kibana"), parts.url + path) == 1


PART_URLS = {
    "traefik": "http://traefik:8080",
    "grafana": "http://grafana:3000/grafana/",
    "elasticsearch": "http://elasticsearch:9200",
}


def test_scrape_jobs_send_each_probe_to_the_exporter_with_its_module_and_labels():
    jobs = {
        job["job_name"]: job
        for job in blackbox_yaml.scrape_jobs(
            exporter="blackbox-exporter:9115", api_url="http://traefik:8000/", part_urls=PART_URLS
        )
    }
    assert set(jobs) == {blackbox_yaml.CALL_JOB, blackbox_yaml.HEALTH_JOB}
    calls = {g["targets"][0]: g["labels"] for g in jobs[blackbox_yaml.CALL_JOB]["static_configs"]}
    labels = {f"http://traefik:8000{sample_path(f)}": (f, f, f"call_{f}") for f in FUNCTIONS}
    assert {url: tuple(v.values()) for url, v in calls.items()} == labels
    health = {
        g["labels"]["part"]: (g["targets"][0], g["labels"]["__param_module"])
        for g in jobs[blackbox_yaml.HEALTH_JOB]["static_configs"]
    }
    assert health == {
        "traefik": ("http://traefik:8080/ping", "health_traefik"),
        "grafana": ("http://grafana:3000/grafana/api/health", "health_grafana"),
        "elasticsearch": ("http://elasticsearch:9200/_cluster/health", "health_elasticsearch"),
    }
    for job in jobs.values():
        assert job["metrics_path"] == "/probe"
        assert {"target_label": "__address__", "replacement": "blackbox-exporter:9115"} in job[
            "relabel_configs"
        ]


@pytest.mark.slow
def test_prometheus_runs_every_probe_through_the_exporter(
    prometheus_binary, exporter, parts, tmp_path
):
    """The jobs as rendered, in a real Prometheus (which validates them as promtool does):
    every probe reaches the exporter with its module, and probe_success arrives labelled with
    its part (and function)."""
    for function in FUNCTIONS:
        parts.answers[sample_path(function)] = (200, function_body(function))
    part_urls = {}
    for part, check in blackbox_yaml.PART_HEALTH.items():
        parts.answers[check.path] = HEALTH_ANSWERS[part][0]
        part_urls[part] = parts.url
    parts.protected.add(blackbox_yaml.PART_HEALTH["elasticsearch"].path)
    # Every part lives on the one fake server; `/` is Logstash's path, so the function paths
    # and the health paths must not collide (they do not).
    jobs = blackbox_yaml.scrape_jobs(
        exporter=exporter.removeprefix("http://"), api_url=parts.url, part_urls=part_urls
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s"}, "scrape_configs": jobs}))
    prometheus = f"http://127.0.0.1:{free_port()}"
    argv = [
        prometheus_binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address={prometheus.removeprefix('http://')}",
    ]
    expected = {
        **{(f, f): 1.0 for f in FUNCTIONS},
        **{(part, None): 1.0 for part in blackbox_yaml.PART_HEALTH},
    }
    found = {}

    def every_probe_succeeded() -> bool:
        answer = requests.get(
            f"{prometheus}/api/v1/query", params={"query": "probe_success"}, timeout=5
        ).json()
        found.update(
            ((s["metric"]["part"], s["metric"].get("function")), float(s["value"][1]))
            for s in answer["data"]["result"]
        )
        return found == expected

    with running(argv, f"{prometheus}/-/ready", tmp_path / "prometheus.log"):
        with contextlib.suppress(NotReady):
            wait_until(every_probe_succeeded, timeout=30, interval=0.5)
        assert found == expected
        targets = requests.get(f"{prometheus}/api/v1/targets", timeout=5).json()
        urls = {t["labels"]["part"]: t["scrapeUrl"] for t in targets["data"]["activeTargets"]}
    assert "module=call_ackermann" in urls["ackermann"], urls
    assert urls["ackermann"].startswith(f"{exporter}/probe?"), urls
    assert "module=health_kibana" in urls["kibana"], urls
