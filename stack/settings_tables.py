"""Tables of stack/settings.py that would push it past the module limit: the least memory each
part is documented to need, and the pins, host ports and memory of the monitoring parts
(Alertmanager, the blackbox exporter, node-exporter; issue 12), merged into its tables."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# Upstream images of the monitoring parts, pinned (stand-ins: scripts/build_images.sh).
MONITORING_IMAGES: Mapping[str, str] = MappingProxyType(
    {
        "alertmanager": "prom/alertmanager:v0.28.1",
        "blackbox": "prom/blackbox-exporter:v0.27.0",
        "node_exporter": "prom/node-exporter:v1.9.1",
    }
)
# Only Alertmanager publishes a port (its UI and API); the exporters are scraped on the network.
MONITORING_PORTS: Mapping[str, int] = MappingProxyType({"alertmanager": 9093})
# Alertmanager serves its UI and API under this path (Traefik forwards it unchanged).
ALERTMANAGER_SUB_PATH = "/alertmanager"
MONITORING_MEMORY_MB: Mapping[str, int] = MappingProxyType(
    {"alertmanager": 64, "blackbox": 64, "node_exporter": 64}
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
    }
)

# Switch -> the part it turns on; each needs `lab:metrics` (Prometheus feeds or scrapes it).
MONITORING_SWITCHES: Mapping[str, str] = MappingProxyType(
    {"alerting": "alertmanager", "probes": "blackbox", "host": "node_exporter"}
)
