"""The Logstash exporter: Logstash's pipeline counters (events in and out, persisted queue,
dead-letter queue) for Prometheus, from the lab's own image (app/logstash_exporter.py). It signs
in to Logstash's API as logstash_api.USER, its password a 0400 file for the app user."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from stack.configs import logstash_api
from stack.containers import PartArgs, ScrapedPart, healthcheck, secret_upload
from stack.hardening import HARDENING
from stack.settings import LOGSTASH_API_PORT

PORT = 9198
JOB = "logstash"
EXPORTER_UID = HARDENING["logstash_exporter"].user.split(":")[0]  # the app image's user
# The process, its flags and its health check: the container's and the Swarm service's.
ENTRYPOINT = ("python", "-m", "app.logstash_exporter")
ARGUMENTS = (
    f"--port={PORT}",
    f"--logstash-url=http://logstash:{LOGSTASH_API_PORT}",
    f"--username={logstash_api.USER}",
    f"--password-file={logstash_api.EXPORTER_PASSWORD_FILE}",
)
HEALTH_COMMAND = (
    "python",
    "-c",
    f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/metrics', timeout=2)",
)


@dataclass(kw_only=True)
class LogstashExporterArgs(PartArgs):
    image: str  # the app image (stack/app_image.py), not a pulled one
    api_password: pulumi.Input[str]  # logstash_api.USER's (lab:logstashApiPassword)


def password_files(args: LogstashExporterArgs) -> dict[str, pulumi.Input[str]]:
    """The file the exporter reads its password from (`--password-file`), by path."""
    return {logstash_api.EXPORTER_PASSWORD_FILE: args.api_password}


class LogstashExporter(ScrapedPart, port=PORT, job=JOB):
    PART = "logstash_exporter"

    def container_arguments(self, args: LogstashExporterArgs) -> dict:
        return dict(
            image=args.image,
            entrypoints=list(ENTRYPOINT),
            command=list(ARGUMENTS),
            uploads=[
                secret_upload(path, text, owner=EXPORTER_UID)
                for path, text in password_files(args).items()
            ],
            # No published port: Prometheus scrapes it on the lab network.
            health=healthcheck(HEALTH_COMMAND),
        )
