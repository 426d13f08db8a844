"""Tables of stack/settings.py that would push it past the module limit: the least memory each
part is documented to need, and the pins, host ports and memory of the monitoring parts
(Alertmanager, the blackbox exporter, node-exporter; issue 12), merged into its tables."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from stack import alert_receivers
from stack import settings_grammar as grammar
from stack.configs import elasticsearch_tls, logstash_api
from stack.exposure import PUBLISHED

# Upstream images of the monitoring parts, pinned (stand-ins: scripts/build_images.sh).
MONITORING_IMAGES: Mapping[str, str] = MappingProxyType(
    {
        "alertmanager": "prom/alertmanager:v0.28.1",
        "blackbox": "prom/blackbox-exporter:v0.27.0",
        "node_exporter": "prom/node-exporter:v1.9.1",
        "elasticsearch_exporter": "quay.io/prometheuscommunity/elasticsearch-exporter:v1.9.0",
    }
)
# Only Alertmanager publishes a port (its UI and API); the exporters are scraped on the network.
MONITORING_PORTS: Mapping[str, int] = MappingProxyType({"alertmanager": 9093})
# Alertmanager serves its UI and API under this path (Traefik forwards it unchanged).
ALERTMANAGER_SUB_PATH = "/alertmanager"
MONITORING_MEMORY_MB: Mapping[str, int] = MappingProxyType(
    {
        "alertmanager": 64,
        "blackbox": 64,
        "node_exporter": 64,
        "elasticsearch_exporter": 64,
        "logstash_exporter": 64,
    }
)

MINIMUM_MEMORY_MB: Mapping[str, int] = MappingProxyType(
    {
        "function": 64,
        "traefik": 64,
        "prometheus": 128,
        "grafana": 512,
        "elasticsearch": 1024,
        "logstash": 768,
        "kibana": 1024,
        "alertmanager": 32,
        "blackbox": 32,
        "node_exporter": 32,
        "elasticsearch_exporter": 32,
        "logstash_exporter": 32,
    }
)

# Switch -> the part it turns on; each needs `lab:metrics` (Prometheus feeds or scrapes it).
MONITORING_SWITCHES: Mapping[str, str] = MappingProxyType(
    {"alerting": "alertmanager", "probes": "blackbox", "host": "node_exporter"}
)

# The generated passwords, as Pulumi secrets (`lab:<key>`), and whose login each one is. The
# first `make up` generates every one that is missing (lab/automation.py) and keeps it after.
SECRETS: Mapping[str, str] = MappingProxyType(
    {
        "grafanaAdminPassword": "Grafana's admin user",
        "elasticPassword": "Elasticsearch's `elastic` superuser (used by the security setup only)",
        "kibanaSystemPassword": "Kibana's own connection to Elasticsearch (kibana_system)",
        "logstashWriterPassword": "Logstash's writer user (create and write the lab's indices)",
        "kibanaImporterPassword": "the saved-objects import user (Kibana objects only)",
        "labUserPassword": "the person's login to Kibana (user `lab`)",
        "monitorPassword": "the Elasticsearch exporter's read-only monitoring user",
        "traefikAdminPassword": "Traefik's dashboard and the monitoring routes (basic auth)",
        "alertWebhookPassword": "Alertmanager's login to Logstash's alerts input (HTTP)",
        "monitoringApiPassword": (
            "the lab's own clients of Prometheus and Alertmanager (their web config login)"
        ),
        logstash_api.SECRET: "Logstash's monitoring API (its exporter, probe and health check)",
        # Keys and a salt, not logins: no person signs in with them (lab/credentials.KEYS).
        "passwordHashSalt": "the salt of the lab's bcrypt password hashes (Traefik's users)",
        "grafanaSecretKey": "Grafana's secret_key, which encrypts its stored datasource secrets",
        "kibanaSecurityEncryptionKey": "Kibana's xpack.security.encryptionKey (its sessions)",
        "kibanaSavedObjectsEncryptionKey": (
            "Kibana's xpack.encryptedSavedObjects.encryptionKey (alerting rules, connectors)"
        ),
        "kibanaReportingEncryptionKey": "Kibana's xpack.reporting.encryptionKey (its reports)",
    }
)
# Random bytes of each generated secret (URL-safe base-64: 4 characters per 3 bytes), where
# the product wants more than the default: Kibana's encryption keys are at least 32 characters
# (kibana 8.19 x-pack/plugins/security/server/config.ts, encrypted_saved_objects config.ts,
# reporting server/config/schema.ts: `schema.string({ minLength: 32 })`).
SECRET_BYTES_DEFAULT = 18
SECRET_BYTES: Mapping[str, int] = MappingProxyType(
    {
        "kibanaSecurityEncryptionKey": 32,
        "kibanaSavedObjectsEncryptionKey": 32,
        "kibanaReportingEncryptionKey": 32,
        "grafanaSecretKey": 32,
    }
)

ENGINES = ("docker", "swarm")
# Ports the Swarm state node publishes (stack/swarm_state.py, swarm_monitoring.py, swarm.py).
STATE_NODE_PORTS = ("prometheus", "alertmanager", "grafana", "elasticsearch", "kibana", "gelf")

# The swarm's state node as every node reaches it (stack/swarm_state.py: the gelf address).
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_HOST_ALLOWED = "a host name or IPv4 address such as 10.0.0.5"

# key in the namespace -> (attribute, converter); converters raise grammar.Invalid(allowed).
SCALARS = {
    "replicas": ("replicas", lambda v: grammar.integer(v, 1, 20)),
    "metrics": ("metrics", grammar.boolean),
    "grafana": ("grafana", grammar.boolean),
    "logs": ("logs", grammar.boolean),
    "bindAddress": ("bind_address", grammar.address),
    # Port keys (lab:ports) the user accepts open without a login where others reach them.
    "allowOpenPorts": ("allow_open_ports", lambda v: grammar.names(v, tuple(PUBLISHED))),
    "lifecycle": ("lifecycle", grammar.boolean),
    "publishMonitoringPorts": ("publish_monitoring_ports", grammar.boolean),
    "prometheusRetention": ("prometheus_retention", grammar.duration),
    "prometheusRetentionSize": ("prometheus_retention_size", grammar.byte_size),
    "logRetention": ("log_retention", grammar.elastic_duration),
    "elasticsearchHeap": ("elasticsearch_heap", grammar.jvm_size),
    "logstashHeap": ("logstash_heap", grammar.jvm_size),
    "slowCallMs": ("slow_call_ms", lambda v: grammar.integer(v, 1, 60_000)),
    "engine": ("engine", lambda v: grammar.choice(v, ENGINES)),
    "swarmStateHost": ("swarm_state_host", lambda v: grammar.text(v, _HOST, _HOST_ALLOWED)),
    "swarmEncryption": ("swarm_encryption", grammar.boolean),
    **{key: (key, grammar.boolean) for key in MONITORING_SWITCHES},
    # A list, read by its own module (stack/alert_receivers.py); its secrets are SECRET_OBJECTS.
    alert_receivers.KEY: ("alert_receivers", alert_receivers.parse),
}
# The CA and the servers' certificates on Swarm (configs/elasticsearch_tls.py), which make up
# generates as secrets (lab/certificates.py), not as passwords.
TLS_SECRET_KEYS = tuple(elasticsearch_tls.TLS_SECRETS)
# Secret keys whose values stay out of the settings object: a user's, never generated, and the
# TLS material.
SECRET_OBJECTS = (alert_receivers.SECRETS_KEY, *TLS_SECRET_KEYS)


def memory_problem(settings) -> str | None:
    """What is wrong with the LabSettings' memory: a part below its documented minimum, or a
    JVM heap that leaves no room in its container; None when nothing is."""
    for part, minimum in MINIMUM_MEMORY_MB.items():
        value = settings.memory_mb[part]
        if value < minimum:
            return (
                f"lab:memoryMb.{part} = {value} is invalid: "
                f"expected at least {minimum} (the part's documented minimum)"
            )
    for part in ("elasticsearch", "logstash"):
        heap = getattr(settings, f"{part}_heap")
        if grammar.heap_mb(heap) >= settings.memory_mb[part]:
            return (
                f"lab:{part}Heap = {heap!r} is invalid: expected less than "
                f"lab:memoryMb.{part} ({settings.memory_mb[part]} MB), "
                "the JVM needs room above its heap"
            )
    return None
