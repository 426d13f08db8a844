"""Config files the lab's parts read, rendered from plain data.

Pure (no Pulumi import): the Pulumi program uploads these texts into containers, `make local`
writes them next to local processes, and the tests feed them to the real traefik and promtool.
The same functions serve both worlds: container backends such as `http://fibonacci-1:8080`
or local ones such as `http://127.0.0.1:18081`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import yaml

FUNCTIONS = ("fibonacci", "factorial", "ackermann")

# Shared by the app's histograms and Traefik's, so their quantiles are comparable bucket by bucket.
HISTOGRAM_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)

TRAEFIK_DYNAMIC_FILE = "/etc/traefik/dynamic.yml"
LOGSTASH_TEMPLATE_PATH = "/usr/share/logstash/config/lab-logs-template.json"
LOGS_INDEX_PATTERN = "lab-logs-*"
GELF_PORT = 12201

# Retries re-send an idempotent GET to another replica when one refuses or drops the
# connection; the health check takes a dead replica out of the rotation within seconds.
RETRY_ATTEMPTS = 3
HEALTH_CHECK_INTERVAL = "2s"
HEALTH_CHECK_TIMEOUT = "1s"

# Log fields (docs/contract.md "Log lines") and the Elasticsearch type each one gets.
LOG_FIELD_TYPES: Mapping[str, str] = {
    "@timestamp": "date",
    "log.level": "keyword",
    "log.logger": "keyword",
    "message": "text",
    "ecs.version": "keyword",
    "service.name": "keyword",
    "event.dataset": "keyword",
    "event.action": "keyword",
    "event.duration": "long",
    "http.request.method": "keyword",
    "http.response.status_code": "long",
    "url.path": "keyword",
    "lab.function": "keyword",
    "lab.arguments": "keyword",
    "lab.compute.duration": "long",
    "lab.event_loop": "keyword",
    "lab.drain_seconds": "float",
    "lab.unfinished_requests": "long",
    "error.message": "text",
    "error.stack_trace": "text",
    "server.address": "keyword",
    "server.port": "long",
    "container.name": "keyword",
    "container.id": "keyword",
    "container.image.name": "keyword",
    "host.name": "keyword",
}

# GELF metadata the Docker driver adds, moved to ECS names or dropped (docs/contract.md).
GELF_RENAMES: Mapping[str, str] = {
    "container_name": "[container][name]",
    "container_id": "[container][id]",
    "image_name": "[container][image][name]",
    "host": "[host][name]",
}
GELF_DROPPED = (
    "level",
    "facility",
    "version",
    "source_host",
    "created",
    "command",
    "tag",
    "image_id",
)


def _yaml(document: Mapping) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False, default_flow_style=False)


def traefik_static(
    *,
    web_port: int = 8000,
    api_port: int = 8080,
    dynamic_file: str = TRAEFIK_DYNAMIC_FILE,
    host: str = "",
) -> str:
    """Traefik's static config: entrypoints, API/dashboard, ping, metrics, file provider.

    `host` empty listens on every interface (right inside a container, where Docker's port
    binding decides exposure); local processes pass `127.0.0.1`.
    """
    return _yaml(
        {
            "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
            "entryPoints": {
                "web": {"address": f"{host}:{web_port}"},
                "traefik": {"address": f"{host}:{api_port}"},
            },
            # insecure: serves the API and dashboard on the `traefik` entrypoint, which is
            # published on the bind address only (127.0.0.1 by default).
            "api": {"dashboard": True, "insecure": True},
            "ping": {"entryPoint": "traefik"},
            "metrics": {
                "prometheus": {
                    "entryPoint": "traefik",
                    "addEntryPointsLabels": True,
                    "addRoutersLabels": True,
                    "addServicesLabels": True,
                    "buckets": list(HISTOGRAM_BUCKETS),
                }
            },
            "providers": {"file": {"filename": dynamic_file, "watch": True}},
            "log": {"level": "INFO"},
        }
    )


def traefik_dynamic(
    backends: Mapping[str, Sequence[str]],
    *,
    grafana_url: str | None = None,
    kibana_url: str | None = None,
) -> str:
    """Traefik's routing: per function a PathPrefix router and a health-checked balancer.

    Grafana and Kibana are configured to serve under their sub-paths themselves, so their
    routers forward the path unchanged.
    """
    routers: dict[str, dict] = {}
    services: dict[str, dict] = {}
    for function, urls in backends.items():
        if not urls:
            raise ValueError(f"function {function!r} has no replicas")
        routers[function] = {
            "rule": f"PathPrefix(`/{function}/`)",
            "entryPoints": ["web"],
            "service": function,
            "middlewares": ["retry"],
        }
        services[function] = {
            "loadBalancer": {
                "servers": [{"url": url} for url in urls],
                "healthCheck": {
                    "path": "/health",
                    "interval": HEALTH_CHECK_INTERVAL,
                    "timeout": HEALTH_CHECK_TIMEOUT,
                },
            }
        }
    for ui, url in (("grafana", grafana_url), ("kibana", kibana_url)):
        if url:
            routers[ui] = {
                "rule": f"PathPrefix(`/{ui}`)",
                "entryPoints": ["web"],
                "service": ui,
            }
            services[ui] = {"loadBalancer": {"servers": [{"url": url}]}}
    return _yaml(
        {
            "http": {
                "routers": routers,
                "services": services,
                "middlewares": {
                    "retry": {"retry": {"attempts": RETRY_ATTEMPTS, "initialInterval": "20ms"}}
                },
            }
        }
    )


def prometheus_config(
    *,
    function_targets: Mapping[str, Sequence[str]],
    traefik_target: str,
    self_target: str,
    rule_files: Sequence[str] = (),
    scrape_interval: str = "5s",
) -> str:
    """Prometheus scrape config: itself, Traefik, and one job per function (named after it)."""
    jobs = [
        {"job_name": "prometheus", "static_configs": [{"targets": [self_target]}]},
        {"job_name": "traefik", "static_configs": [{"targets": [traefik_target]}]},
    ]
    for function, targets in function_targets.items():
        jobs.append({"job_name": function, "static_configs": [{"targets": list(targets)}]})
    document: dict = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval}
    }
    if rule_files:
        document["rule_files"] = list(rule_files)
    document["scrape_configs"] = jobs
    return _yaml(document)


def logstash_pipeline(
    *, elasticsearch_url: str, template_path: str = LOGSTASH_TEMPLATE_PATH
) -> str:
    """Logstash pipeline: GELF from Docker in, ECS fields at the root, daily index out."""
    renames = "\n".join(f'      "{src}" => "{dst}"' for src, dst in GELF_RENAMES.items())
    dropped = ", ".join(f'"{field}"' for field in GELF_DROPPED)
    return f"""\
input {{
  gelf {{
    port => {GELF_PORT}
    use_udp => true
    use_tcp => false
  }}
}}

filter {{
  # The app's stdout line is ECS JSON; merge it at the root (its `message` replaces GELF's).
  json {{
    source => "message"
    skip_on_invalid_json => true
  }}
  mutate {{
    rename => {{
{renames}
    }}
  }}
  mutate {{
    remove_field => [{dropped}]
  }}
}}

output {{
  elasticsearch {{
    hosts => ["{elasticsearch_url}"]
    index => "lab-logs-%{{+YYYY.MM.dd}}"
    data_stream => "false"
    ilm_enabled => "false"
    manage_template => true
    template_api => "composable"
    template_name => "lab-logs"
    template => "{template_path}"
    template_overwrite => true
  }}
}}
"""


def _nested_properties(field_types: Mapping[str, str]) -> dict:
    """Turn dotted ECS names into Elasticsearch's nested `properties` objects."""
    root: dict = {}
    for dotted, field_type in field_types.items():
        node = root
        *parents, leaf = dotted.split(".") if dotted != "@timestamp" else [dotted]
        for parent in parents:
            node = node.setdefault(parent, {"properties": {}})["properties"]
        node[leaf] = {"type": field_type}
    return root


def elasticsearch_index_template() -> dict:
    """Composable index template `lab-logs` for `lab-logs-*` (what Logstash installs)."""
    return {
        "index_patterns": [LOGS_INDEX_PATTERN],
        "priority": 200,
        "template": {
            # One node: a replica could never be assigned and would keep the index yellow.
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {"properties": _nested_properties(LOG_FIELD_TYPES)},
        },
        "_meta": {"description": "Function service access logs (docs/contract.md)"},
    }


def elasticsearch_index_template_json() -> str:
    """The template as the file Logstash's `template` option reads."""
    return json.dumps(elasticsearch_index_template(), indent=2, sort_keys=True) + "\n"
