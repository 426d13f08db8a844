"""app/logstash_exporter.py against a local server that answers as Logstash 8.19's node API."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.logstash_exporter import LogstashCollector
from tests.support.standins import start_logstash

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


def _scrape(url: str) -> dict[tuple[str, tuple], float]:
    registry = CollectorRegistry()
    registry.register(LogstashCollector(url, timeout=2))
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


def test_the_process_serves_the_text_format_on_its_port():
    import subprocess
    import sys
    import urllib.request

    from lab.support import free_port, wait_until

    server = start_logstash()
    server.pipeline_stats = {"main": MAIN}
    port = free_port()
    command = [sys.executable, "-m", "app.logstash_exporter", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--logstash-url", f"http://127.0.0.1:{server.server_port}"]
    process = subprocess.Popen(command)
    try:
        url = f"http://127.0.0.1:{port}/metrics"

        wait_until(lambda: urllib.request.urlopen(url, timeout=1), timeout=15, what=url)
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        assert 'logstash_events_out_total{pipeline="main"} 4990.0' in text
    finally:
        process.terminate()
        process.wait(timeout=10)
        server.shutdown()
