"""Pinned defaults of the lab: image tags, ports, memory limits (one visible place).

Pure data, read by the Pulumi entry point (config overrides it), by scripts/lab.py's
pre-flight (memory needed per part) and by the tests.
"""

from types import MappingProxyType

# Upstream images (docs/contract.md "Pinned upstream images"). `python` is the app's base.
IMAGES = MappingProxyType(
    {
        "python": "python:3.11-slim",
        "traefik": "traefik:v3.7.15",
        "prometheus": "prom/prometheus:v3.5.0",
        "grafana": "grafana/grafana:11.6.5",
        "elasticsearch": "docker.elastic.co/elasticsearch/elasticsearch:8.19.4",
        "logstash": "docker.elastic.co/logstash/logstash:8.19.4",
        "kibana": "docker.elastic.co/kibana/kibana:8.19.4",
    }
)

# Host ports, published on `lab:bindAddress`.
PORTS = MappingProxyType(
    {
        "api": 8000,
        "traefik": 8080,
        "prometheus": 9090,
        "grafana": 3000,
        "elasticsearch": 9200,
        "kibana": 5601,
        "gelf": 12201,
    }
)

# Container memory limits in MB; `function` is per replica. Elasticsearch and Logstash
# leave room above their JVM heap for off-heap memory.
MEMORY_MB = MappingProxyType(
    {
        "function": 128,
        "traefik": 128,
        "prometheus": 512,
        "grafana": 256,
        "elasticsearch": 2048,
        "logstash": 1024,
        "kibana": 1024,
    }
)

REPLICAS = 2
BIND_ADDRESS = "127.0.0.1"
PROMETHEUS_RETENTION = "7d"
ELASTICSEARCH_HEAP = "1g"
LOGSTASH_HEAP = "512m"
SLOW_CALL_MS = 5

# Container ports (docs/contract.md "Shared identifiers").
APP_PORT = 8080
TRAEFIK_WEB_PORT = 8000
TRAEFIK_API_PORT = 8080
PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000
ELASTICSEARCH_PORT = 9200
LOGSTASH_API_PORT = 9600
KIBANA_PORT = 5601

# The app image runs as this unprivileged uid/gid whatever users the image defines.
APP_USER = "10001:10001"
