"""The Logstash exporter: Logstash's pipeline counters (events in and out, persisted queue,
dead-letter queue) for Prometheus, from the lab's own image (app/logstash_exporter.py)."""

from __future__ import annotations

from dataclasses import dataclass

from stack.containers import PartArgs, ScrapedPart, healthcheck
from stack.settings import LOGSTASH_API_PORT

PORT = 9198
JOB = "logstash"


@dataclass(kw_only=True)
class LogstashExporterArgs(PartArgs):
    image: str  # the app image (stack/app_image.py), not a pulled one


class LogstashExporter(ScrapedPart):
    PART = "logstash_exporter"
    PORT = PORT
    JOB = JOB

    def container_arguments(self, args: LogstashExporterArgs) -> dict:
        return dict(
            image=args.image,
            entrypoints=["python", "-m", "app.logstash_exporter"],
            command=[
                f"--port={PORT}",
                f"--logstash-url=http://logstash:{LOGSTASH_API_PORT}",
            ],
            # No published port: Prometheus scrapes it on the lab network.
            health=healthcheck(
                [
                    "python",
                    "-c",
                    "import urllib.request; "
                    f"urllib.request.urlopen('http://127.0.0.1:{PORT}/metrics', timeout=2)",
                ]
            ),
        )
