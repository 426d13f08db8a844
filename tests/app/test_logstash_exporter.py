"""app/logstash_exporter.py against a local server that answers as Logstash 8.19's node API."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.logstash_exporter import LogstashCollector
from lab.support import free_port, wait_until
from tests.support.logstash_standin import start_logstash

# The shape of GET /_node/stats/pipelines for one pipeline with the persisted queue and the DLQ
# (stats.rb PluginsStats.report; AbstractPipelineExt.collect_dlq_stats).
MAIN = {
    "events": {"in": 5000, "out": 4990, "filtered": 4995, "duration_in_millis": 812},
    "queue": {"type": "persisted", "events_count": 10, "queue_size_in_bytes": 4096},
    "dead_letter_queue": {
        "queue_size_in_bytes": 1,
        "dropped_events": 0,
        "expired_events": 0,
        "max_queue_size_in_bytes": 1073741824,
        "storage_policy": "drop_newer",
        "last_error": "no errors",
    },
}


def _scrape(url: str, login: tuple[str, str] | None = None) -> dict[tuple[str, tuple], float]:
    registry = CollectorRegistry()
    registry.register(LogstashCollector(url, timeout=2, login=login))
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_every_pipeline_counter_is_exported_with_its_pipeline():
    server = start_logstash()
    server.pipeline_stats = {"main": MAIN, ".monitoring-logstash": {"events": {"in": 3}}}
    try:
        samples = _scrape(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    main = (("pipeline", "main"),)
    assert samples[("logstash_up", ())] == 1
    assert samples[("logstash_events_in_total", main)] == 5000
    assert samples[("logstash_events_out_total", main)] == 4990
    assert samples[("logstash_queue_events", main)] == 10
    assert samples[("logstash_dlq_size_bytes", main)] == 1
    assert samples[("logstash_dlq_dropped_events_total", main)] == 0
    # A pipeline without a DLQ or queue section exports what it has, nothing invented.
    other = (("pipeline", ".monitoring-logstash"),)
    assert samples[("logstash_events_in_total", other)] == 3
    assert ("logstash_dlq_size_bytes", other) not in samples


def test_a_silent_logstash_is_down_not_an_error():
    server = start_logstash()
    port = server.server_port
    server.shutdown()
    server.server_close()
    samples = _scrape(f"http://127.0.0.1:{port}")
    assert samples == {("logstash_up", ()): 0}


def test_a_login_signs_every_read_in_and_a_refused_one_is_down():
    """Logstash's API with `api.auth.type: basic` (the stand-in, as webserver.rb wraps every
    path): the right login reads the counters, none or another password gets 401: down."""
    server = start_logstash(login=("lab_api", "Right-Password1"))
    server.pipeline_stats = {"main": MAIN}
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        signed_in = _scrape(url, login=("lab_api", "Right-Password1"))
        anonymous = _scrape(url)
        wrong = _scrape(url, login=("lab_api", "Wrong-Password1"))
    finally:
        server.shutdown()
    assert signed_in[("logstash_up", ())] == 1
    assert signed_in[("logstash_events_out_total", (("pipeline", "main"),))] == 4990
    assert anonymous == wrong == {("logstash_up", ()): 0}
    assert server.logins == ["lab_api", "lab_api"]  # the anonymous read sent no login


def _exporter(argv: list[str]):
    command = [sys.executable, "-m", "app.logstash_exporter", "--host", "127.0.0.1", *argv]
    return subprocess.Popen(command, stderr=subprocess.PIPE, text=True)


LOGIN = ("lab_api", "Right-Password1")


@contextlib.contextmanager
def _running_exporter(tmp_path, password: str) -> Iterator[dict]:
    """The exporter process, signing in as LOGIN's user with `password` from its file, against
    a stand-in asking LOGIN; yields {"url": its /metrics, and once SIGTERM stopped it, its
    "stderr" and "returncode"}."""
    server = start_logstash(login=LOGIN)
    server.pipeline_stats = {"main": MAIN}
    password_file = tmp_path / "password"
    password_file.write_text(password)
    port = free_port()
    process = _exporter(
        [
            f"--port={port}",
            f"--logstash-url=http://127.0.0.1:{server.server_port}",
            f"--username={LOGIN[0]}",
            f"--password-file={password_file}",
        ]
    )
    run = {"url": f"http://127.0.0.1:{port}/metrics", "stderr": None, "returncode": None}
    try:
        wait_until(lambda: urllib.request.urlopen(run["url"], timeout=1), timeout=15, what="up")
        yield run
    finally:
        process.terminate()  # SIGTERM, as `docker stop` sends
        run["stderr"] = process.communicate(timeout=10)[1]
        run["returncode"] = process.returncode
        server.shutdown()


def test_the_process_serves_the_text_format_on_its_port(tmp_path):
    # A trailing newline in the file is no part of the password.
    with _running_exporter(tmp_path, LOGIN[1] + "\n") as run:
        text = urllib.request.urlopen(run["url"], timeout=5).read().decode()
    assert 'logstash_events_out_total{pipeline="main"} 4990.0' in text
    assert "logstash_up 1.0" in text
    assert run["returncode"] == 0  # SIGTERM is a clean stop, not a death by signal (-15)


def test_a_refused_login_is_said_once_on_stderr(tmp_path):
    with _running_exporter(tmp_path, "Wrong-Password1") as run:
        texts = [urllib.request.urlopen(run["url"], timeout=5).read().decode() for _ in range(3)]
    assert all("logstash_up 0.0" in text for text in texts)
    refusals = [line for line in run["stderr"].splitlines() if "401" in line]
    assert len(refusals) == 1, run["stderr"]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--username=lab_api"], "--username and --password-file go together"),
        (["--username=lab_api", "--password-file=/nonexistent/pw"], "cannot read --password-file"),
    ],
)
def test_a_login_that_cannot_be_used_is_refused_at_start(argv, says):
    process = _exporter(["--port=0", *argv])
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 2
    assert says in stderr
