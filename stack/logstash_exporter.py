"""The Logstash exporter: Logstash's pipeline counters (events in and out, persisted queue,
dead-letter queue) for Prometheus, from the lab's own image (app/logstash_exporter.py)."""

from __future__ import annotations

from dataclasses import dataclass

from stack.containers import PartArgs, ScrapedPart, healthcheck
from stack.settings import LOGSTASH_API_PORT

PORT = 9198
JOB = "logstash"
# The process, its flags and its health check: the container's and the Swarm service's.
ENTRYPOINT = ("python", "-m", "app.logstash_exporter")
ARGUMENTS = (f"--port={PORT}", f"--logstash-url=http://logstash:{LOGSTASH_API_PORT}")
HEALTH_COMMAND = (
    "python",
    "-c",
    f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/metrics', timeout=2)",
)


@dataclass(kw_only=True)
class LogstashExporterArgs(PartArgs):
    image: str  # the app image (stack/app_image.py), not a pulled one


class LogstashExporter(ScrapedPart, port=PORT, job=JOB):
    PART = "logstash_exporter"

    def container_arguments(self, args: LogstashExporterArgs) -> dict:
        return dict(
            image=args.image,
            entrypoints=list(ENTRYPOINT),
            command=list(ARGUMENTS),
            # No published port: Prometheus scrapes it on the lab network.
            health=healthcheck(HEALTH_COMMAND),
        )
