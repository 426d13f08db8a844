"""`python -m app.logstash_exporter`: Logstash's pipeline counters for Prometheus.

Logstash 8 has no Prometheus endpoint; its node API (`GET /_node/stats/pipelines`, port 9600)
has what the lab must count: events in and out of each pipeline, the persisted queue's backlog
and the dead-letter queue's size and drops. This process reads that API on every scrape (no
cache, no thread) and answers in Prometheus' text format. It ships in the lab's own image (it
needs nothing but the standard library and prometheus-client) and runs as its own container.

Logstash's API asks a login in the lab (`api.auth.type: basic`, logstash-core/lib/logstash/
webserver.rb: Rack::Auth::Basic over every path): `--username` and `--password-file`, the
password read once at start from a file, so it is in no command line or environment. A refused
login shows as `logstash_up` 0 and one line on stderr each time the reason changes.

Key names: logstash-core/lib/logstash/api/commands/stats.rb (PluginsStats.report: `events`,
`queue`, `dead_letter_queue`) and .../execution/AbstractPipelineExt.java (collect_dlq_stats:
`queue_size_in_bytes`, `dropped_events`, `expired_events`) at v8.19.4.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

DEFAULT_PORT = 9198
DEFAULT_LOGSTASH_URL = "http://logstash:9600"
STATS_PATH = "/_node/stats/pipelines"

# (metric, help, where in a pipeline's stats); counters end in _total.
COUNTERS = (
    ("logstash_events_in_total", "Events the pipeline's inputs accepted", ("events", "in")),
    ("logstash_events_out_total", "Events the pipeline's outputs sent on", ("events", "out")),
    ("logstash_events_filtered_total", "Events through the filters", ("events", "filtered")),
    (
        "logstash_dlq_dropped_events_total",
        "Events the dead-letter queue dropped because it was full",
        ("dead_letter_queue", "dropped_events"),
    ),
    (
        "logstash_dlq_expired_events_total",
        "Events the dead-letter queue removed by age",
        ("dead_letter_queue", "expired_events"),
    ),
)
GAUGES = (
    (
        "logstash_queue_events",
        "Events waiting in the pipeline's persisted queue",
        ("queue", "events_count"),
    ),
    (
        "logstash_dlq_size_bytes",
        "Bytes the dead-letter queue holds: documents Elasticsearch refused",
        ("dead_letter_queue", "queue_size_in_bytes"),
    ),
)


def _dig(stats: Mapping, path: Sequence[str]) -> float | None:
    value: object = stats
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, (int, float)) else None


class LogstashCollector(Collector):
    """One read of the node API per scrape; `logstash_up` says whether it answered. With
    `login` (user, password), every read signs in with HTTP basic auth."""

    def __init__(
        self, logstash_url: str, timeout: float = 3.0, login: tuple[str, str] | None = None
    ) -> None:
        self.url = logstash_url.rstrip("/") + STATS_PATH
        self.timeout = timeout
        self.headers = {}
        if login is not None:
            token = base64.b64encode(":".join(login).encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"
        self.last_error: str | None = None

    def _pipelines(self) -> Mapping[str, Mapping] | None:
        request = urllib.request.Request(self.url, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                document = json.load(response)
        except urllib.error.HTTPError as error:
            return self._failed(f"Logstash's API answered {error.code} {error.reason}")
        except (OSError, ValueError) as error:
            return self._failed(f"Logstash's API did not answer: {type(error).__name__}")
        self.last_error = None
        pipelines = document.get("pipelines") if isinstance(document, dict) else None
        return pipelines if isinstance(pipelines, dict) else None

    def _failed(self, reason: str) -> None:
        """Say why once, not on every scrape (its stderr is shipped like any log line)."""
        if reason != self.last_error:
            print(f"{reason} ({self.url})", file=sys.stderr, flush=True)
        self.last_error = reason
        return None

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        pipelines = self._pipelines()
        up = GaugeMetricFamily("logstash_up", "1 when Logstash's node API answered this scrape")
        up.add_metric([], 0.0 if pipelines is None else 1.0)
        yield up
        families = [
            (CounterMetricFamily(name.removesuffix("_total"), text, labels=["pipeline"]), path)
            for name, text, path in COUNTERS
        ] + [
            (GaugeMetricFamily(name, text, labels=["pipeline"]), path)
            for name, text, path in GAUGES
        ]
        for pipeline, stats in sorted((pipelines or {}).items()):
            if not isinstance(stats, Mapping):
                continue
            for family, path in families:
                value = _dig(stats, path)
                if value is not None:
                    family.add_metric([pipeline], value)
        for family, _ in families:
            yield family


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # one line per scrape would flood the log pipeline
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.logstash_exporter", description=__doc__)
    parser.add_argument(
        "--logstash-url", default=os.environ.get("LAB_LOGSTASH_URL", DEFAULT_LOGSTASH_URL)
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--username", help="the API's user (logstash.yml api.auth.basic)")
    parser.add_argument("--password-file", help="a file holding that user's password")
    args = parser.parse_args(argv)
    if (args.username is None) != (args.password_file is None):
        parser.error("--username and --password-file go together")
    login = None
    if args.password_file is not None:
        try:
            with open(args.password_file, encoding="utf-8") as file:
                password = file.read().rstrip("\n")
        except OSError as error:
            parser.error(f"cannot read --password-file: {error.strerror}: {args.password_file}")
        login = (args.username, password)
    registry = CollectorRegistry()
    registry.register(LogstashCollector(args.logstash_url, login=login))
    server = make_server(args.host, args.port, make_wsgi_app(registry), handler_class=_QuietHandler)
    # A container's PID 1 gets no default action for SIGTERM: without a handler `docker stop`
    # would wait out the whole grace period and kill it. The handler asks serve_forever to end
    # (from a thread: shutdown() waits for the loop, which runs in this one) after the scrape
    # it may be answering.
    signal.signal(
        signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start()
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
