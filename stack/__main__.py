"""The observability lab, declared for Pulumi (pulumi-docker) on the local Docker daemon.

Deploys, on one bridge network:
- the function services (fibonacci, factorial, ackermann), `lab:replicas` replicas each,
  built from app/;
- Traefik routing /{function}/ to them (and /grafana, /kibana to the UIs);
- with `lab:metrics`: Prometheus (and with `lab:grafana`: Grafana, provisioned from dashboards/);
- with `lab:logs`: Elasticsearch, Logstash (GELF from Docker's log driver), Kibana and its
  imported saved objects.

This module only reads config and wires components; each part lives in its own module.
"""

import sys
from pathlib import Path

# Pulumi runs this directory as the program with only stack/ on sys.path; the components
# import `stack.*` and `dashboards.*` from the repository root.
REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import pulumi  # noqa: E402

from app.contract import FUNCTIONS  # noqa: E402
from dashboards import grafana_overview, kibana_objects, prometheus_rules  # noqa: E402
from stack import defaults  # noqa: E402
from stack.app_image import AppImage, AppImageArgs  # noqa: E402
from stack.common import LabContext  # noqa: E402
from stack.elasticsearch import Elasticsearch, ElasticsearchArgs  # noqa: E402
from stack.functions import FunctionService, FunctionServiceArgs  # noqa: E402
from stack.grafana import Grafana, GrafanaArgs  # noqa: E402
from stack.kibana import Kibana, KibanaArgs  # noqa: E402
from stack.logstash import Logstash, LogstashArgs  # noqa: E402
from stack.network import LabNetwork, LabNetworkArgs  # noqa: E402
from stack.prometheus import Prometheus, PrometheusArgs  # noqa: E402
from stack.traefik import Traefik, TraefikArgs  # noqa: E402


def _flag(config: pulumi.Config, key: str, default: bool = True) -> bool:
    value = config.get_bool(key)
    return default if value is None else value


def _merged(config: pulumi.Config, key: str, base) -> dict:
    """An object-valued key: the pinned defaults, overridden key by key by the config."""
    return {**base, **(config.get_object(key) or {})}


config = pulumi.Config("lab")
replicas = config.get_int("replicas") or defaults.REPLICAS
metrics_on = _flag(config, "metrics")
grafana_on = metrics_on and _flag(config, "grafana")
logs_on = _flag(config, "logs")
images = _merged(config, "images", defaults.IMAGES)
ports = {key: int(value) for key, value in _merged(config, "ports", defaults.PORTS).items()}
memory = {key: int(v) for key, v in _merged(config, "memoryMb", defaults.MEMORY_MB).items()}

project, stack_name = pulumi.get_project(), pulumi.get_stack()
name = f"{project}-{stack_name}"

network = LabNetwork(
    name,
    LabNetworkArgs(
        docker_name=f"{name}-network",
        labels={"lab.project": project, "lab.stack": stack_name, "lab.part": "network"},
    ),
)
lab = LabContext(
    project=project,
    stack=stack_name,
    network_name=network.name,
    bind_address=config.get("bindAddress") or defaults.BIND_ADDRESS,
)

app_image = AppImage(
    f"{name}-app", AppImageArgs(repository=f"{name}-app", base_image=images["python"])
)

api_url = f"http://{lab.client_host}:{ports['api']}"  # Traefik's web entrypoint

# Logs first: the function replicas start once Logstash listens, so no start-up line is lost.
logstash = None
kibana_url = None
if logs_on:
    elasticsearch = Elasticsearch(
        f"{name}-elasticsearch",
        ElasticsearchArgs(
            lab=lab,
            image=images["elasticsearch"],
            heap=config.get("elasticsearchHeap") or defaults.ELASTICSEARCH_HEAP,
            port=ports["elasticsearch"],
            memory_mb=memory["elasticsearch"],
        ),
    )
    logstash = Logstash(
        f"{name}-logstash",
        LogstashArgs(
            lab=lab,
            image=images["logstash"],
            elasticsearch_url=elasticsearch.internal_url,
            heap=config.get("logstashHeap") or defaults.LOGSTASH_HEAP,
            gelf_port=ports["gelf"],
            memory_mb=memory["logstash"],
            depends_on=[elasticsearch.container],
        ),
    )
    kibana = Kibana(
        f"{name}-kibana",
        KibanaArgs(
            lab=lab,
            image=images["kibana"],
            elasticsearch_url=elasticsearch.internal_url,
            saved_objects=kibana_objects.render(
                slow_call_ms=config.get_int("slowCallMs") or defaults.SLOW_CALL_MS
            ),
            public_url=f"{api_url}/kibana",
            port=ports["kibana"],
            memory_mb=memory["kibana"],
            depends_on=[elasticsearch.container],
        ),
    )
    kibana_url = kibana.url

services = {
    function: FunctionService(
        f"{name}-{function}",
        FunctionServiceArgs(
            lab=lab,
            function=function,
            image=app_image.image_name,
            replicas=replicas,
            memory_mb=memory["function"],
            gelf_address=logstash.gelf_address if logstash else None,
            depends_on=[logstash.container] if logstash else [],
        ),
    )
    for function in FUNCTIONS
}

traefik = Traefik(
    f"{name}-traefik",
    TraefikArgs(
        lab=lab,
        image=images["traefik"],
        backends={function: service.backend_urls() for function, service in services.items()},
        api_port=ports["api"],
        dashboard_port=ports["traefik"],
        memory_mb=memory["traefik"],
        grafana_url=f"http://grafana:{defaults.GRAFANA_PORT}" if grafana_on else None,
        kibana_url=f"http://kibana:{defaults.KIBANA_PORT}" if logs_on else None,
    ),
)

prometheus_url = grafana_url = None
if metrics_on:
    prometheus = Prometheus(
        f"{name}-prometheus",
        PrometheusArgs(
            lab=lab,
            image=images["prometheus"],
            function_targets={f: service.scrape_targets() for f, service in services.items()},
            rules=prometheus_rules.render(FUNCTIONS),
            port=ports["prometheus"],
            retention=config.get("prometheusRetention") or defaults.PROMETHEUS_RETENTION,
            memory_mb=memory["prometheus"],
        ),
    )
    prometheus_url = prometheus.url
    if grafana_on:
        grafana = Grafana(
            f"{name}-grafana",
            GrafanaArgs(
                lab=lab,
                image=images["grafana"],
                admin_password=config.require_secret("grafanaAdminPassword"),
                dashboards={grafana_overview.UID: grafana_overview.build(FUNCTIONS)},
                public_url=f"{api_url}/grafana/",
                port=ports["grafana"],
                memory_mb=memory["grafana"],
                depends_on=[prometheus.container],
            ),
        )
        grafana_url = grafana.url

pulumi.export("api_url", api_url)
pulumi.export("traefik_url", traefik.dashboard_url)
pulumi.export("prometheus_url", prometheus_url)
pulumi.export("grafana_url", grafana_url)
pulumi.export("kibana_url", kibana_url)
