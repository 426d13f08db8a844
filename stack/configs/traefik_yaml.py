"""Traefik's static config (entrypoints, API, metrics) and dynamic config (routers, balancers).

Backends are plain URLs, so the same functions serve containers (`http://fibonacci-1:8080`)
and local processes (`http://127.0.0.1:18081`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import yaml

from app.contract import HEALTH_PATH, HISTOGRAM_BUCKETS
from stack.settings import TRAEFIK_API_PORT, TRAEFIK_WEB_PORT

STATIC_FILE = "/etc/traefik/traefik.yml"
DYNAMIC_FILE = "/etc/traefik/dynamic.yml"

# Retries re-send an idempotent GET to another replica when one refuses or drops the
# connection; the health check takes a dead replica out of the rotation within seconds.
RETRY_ATTEMPTS = 3
HEALTH_CHECK_INTERVAL = "2s"
HEALTH_CHECK_TIMEOUT = "1s"


def _yaml(document: Mapping) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False, default_flow_style=False)


def static(
    *,
    web_port: int = TRAEFIK_WEB_PORT,
    api_port: int = TRAEFIK_API_PORT,
    dynamic_file: str = DYNAMIC_FILE,
    host: str = "",
) -> str:
    """Entrypoints, API/dashboard, ping, Prometheus metrics and the file provider.

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
                    # The app's buckets, so the overhead panel subtracts like from like.
                    "buckets": list(HISTOGRAM_BUCKETS),
                }
            },
            "providers": {"file": {"filename": dynamic_file, "watch": True}},
            "log": {"level": "INFO"},
        }
    )


def dynamic(
    backends: Mapping[str, Sequence[str]],
    *,
    grafana_url: str | None = None,
    kibana_url: str | None = None,
) -> str:
    """Per function a PathPrefix router and a health-checked balancer; the UIs when given.

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
                    "path": HEALTH_PATH,
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
