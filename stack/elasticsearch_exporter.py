"""The Elasticsearch exporter: the log store's health, and documents per lab index, for Prometheus.

It signs in as the read-only monitoring user; the password reaches it as a 0400 file that a
shell reads into the process's own environment at start, so `docker inspect` never shows it
(the exporter takes credentials only from ES_USERNAME/ES_PASSWORD or the URI).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from stack import elasticsearch_tls as es_tls
from stack.containers import PartArgs, ScrapedPart, healthcheck, secret_upload

PORT = 9114
JOB = "elasticsearch"
PASSWORD_FILE = "/run/secrets/elasticsearch-monitor-password"
EXPORTER_UID = "65534"
BINARY = "/bin/elasticsearch_exporter"
HEALTH_COMMAND = ("wget", "-qO-", f"http://localhost:{PORT}/metrics")  # busybox's wget


@dataclass(kw_only=True)
class ElasticsearchExporterArgs(PartArgs):
    elasticsearch_url: str  # on the lab network, e.g. http://elasticsearch:9200
    username: str
    password: pulumi.Input[str]
    # The lab's CA (PEM) when Elasticsearch serves HTTPS (Swarm: stack/elasticsearch_tls.py).
    ca_certificate: pulumi.Input[str] | None = None


def start_command(args: ElasticsearchExporterArgs) -> list[str]:
    """`sh -c`: the password file into ES_PASSWORD of the exporter's process only."""
    flags = " ".join(
        [
            f"--es.uri={args.elasticsearch_url}",
            "--es.indices",  # documents per index: the lines indexed, beside the calls answered
            "--es.timeout=5s",
            f"--web.listen-address=:{PORT}",
            # Verify the node against the lab's CA only (elasticsearch_exporter v1.9.0
            # main.go: es.ca, "Path to PEM file that contains trusted Certificate Authorities").
            *([f"--es.ca={es_tls.CLIENT_CA_FILE}"] if args.ca_certificate else []),
        ]
    )
    return [
        "/bin/sh",
        "-c",
        f'ES_USERNAME={args.username} ES_PASSWORD="$(cat {PASSWORD_FILE})" exec {BINARY} {flags}',
    ]


class ElasticsearchExporter(ScrapedPart, port=PORT, job=JOB):
    PART = "elasticsearch_exporter"

    def container_arguments(self, args: ElasticsearchExporterArgs) -> dict:
        return dict(
            entrypoints=start_command(args),
            uploads=[
                secret_upload(PASSWORD_FILE, args.password, owner=EXPORTER_UID),
                *es_tls.ca_uploads(args.ca_certificate, owner=EXPORTER_UID),
            ],
            # No published port: Prometheus scrapes it on the lab network.
            health=healthcheck(HEALTH_COMMAND),
        )
