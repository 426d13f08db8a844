"""Traefik's static config (entrypoints, API, metrics) and dynamic config (routers, balancers).

Backends are plain URLs, so the same functions serve containers (`http://fibonacci-1:8080`)
and local processes (`http://127.0.0.1:18081`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import yaml

from app.contract import HEALTH_PATH, HISTOGRAM_BUCKETS, TRACEPARENT_HEADER, TRACERESPONSE_HEADER
from stack import exposure
from stack.configs import htpasswd
from stack.settings import TRAEFIK_API_PORT, TRAEFIK_WEB_PORT
from stack.user_services import UserService

STATIC_FILE = "/etc/traefik/traefik.yml"
DYNAMIC_FILE = "/etc/traefik/dynamic.yml"
# The basic-auth users file (basic_auth_users()), uploaded 0400 for Traefik's user (uid 65534).
USERS_FILE = "/run/secrets/traefik-users"
ADMIN_USER = "admin"
AUTH_MIDDLEWARE = "admin-auth"
PROMETHEUS_PREFIX = "prometheus-prefix"
# Traefik's own API and dashboard (api@internal), on the `traefik` entrypoint.
DASHBOARD_ROUTER = "dashboard"
# The UIs without a login of their own, on the api entrypoint behind basic auth, path kept:
# each serves under its sub-path itself. exposure.py's refusal points users at them.
MONITORING_ROUTES = exposure.GUARDED_ROUTES

# Retries re-send an idempotent GET to another replica when one refuses or drops the
# connection; the health check takes a dead replica out of the rotation within seconds.
RETRY_ATTEMPTS = 3
HEALTH_CHECK_INTERVAL = "2s"
HEALTH_CHECK_TIMEOUT = "1s"

# A client may hold a connection this long for its request head, its response or between
# requests; past that Traefik closes it, so idle or slow clients cannot pile up (issue 14).
READ_TIMEOUT = "10s"
WRITE_TIMEOUT = "30s"
IDLE_TIMEOUT = "15s"
# Traefik closes a pooled connection to a replica after this idle time, which must stay below
# the replica's keep-alive timeout (app/server.py, 120 s): otherwise the replica may close a
# connection just as Traefik reuses it, and the request fails.
BACKEND_IDLE_CONN_TIMEOUT_SECONDS = 90
BACKEND_RESPONSE_HEADER_TIMEOUT = "30s"
# Request line and headers a client may send; Go allows 4 KiB beyond it. Below the replica's own
# head limit (app/server.py, 32 KiB), which can only cut a larger head off (Traefik then answers
# 502), so a client sending a huge header gets Traefik's 431 instead (issue 14).
MAX_HEADER_BYTES = 16 * 1024
# The API takes no body: Traefik answers 413 past this before a replica sees a byte, and keeps
# what it buffers in memory (never a temp file).
MAX_REQUEST_BODY_BYTES = 4096
# Requests in flight through one function router: per client address, and for everyone.
IN_FLIGHT_PER_CLIENT = 64
IN_FLIGHT_PER_SERVICE = 256
# Routers answer only these Host headers, so a DNS-rebinding page (Host: its own name) gets 404.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
# Kept in the access line: the caller's `traceparent` (Traefik writes `request_Traceparent`)
# and the replica's `traceresponse` (`origin_Traceresponse`, `downstream_Traceresponse`).
TRACE_HEADERS = (TRACEPARENT_HEADER, TRACERESPONSE_HEADER)


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
                "web": {
                    "address": f"{host}:{web_port}",
                    "transport": _transport(),
                    "http": {"maxHeaderBytes": MAX_HEADER_BYTES},
                },
                "traefik": {"address": f"{host}:{api_port}", "transport": _transport()},
            },
            "serversTransport": {
                "forwardingTimeouts": {
                    "idleConnTimeout": f"{BACKEND_IDLE_CONN_TIMEOUT_SECONDS}s",
                    "responseHeaderTimeout": BACKEND_RESPONSE_HEADER_TIMEOUT,
                }
            },
            # Not `insecure`: the API and dashboard get their router from the dynamic config
            # (DASHBOARD_ROUTER), behind basic auth when a users file is given. /ping and
            # /metrics stay open on the `traefik` entrypoint: health checks and Prometheus.
            "api": {"dashboard": True},
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
            # One JSON line per request on stdout, so Docker's log driver ships it with the
            # app's lines; header values are dropped (they may carry credentials), except the
            # W3C trace headers, so the line carries the call's trace id (docs/tracing.md).
            "accessLog": {
                "format": "json",
                "fields": {
                    "headers": {
                        "defaultMode": "drop",
                        "names": {name: "keep" for name in TRACE_HEADERS},
                    }
                },
            },
        }
    )


def _transport() -> dict:
    return {
        "respondingTimeouts": {
            "readTimeout": READ_TIMEOUT,
            "writeTimeout": WRITE_TIMEOUT,
            "idleTimeout": IDLE_TIMEOUT,
        }
    }


def host_rule(hosts: Sequence[str]) -> str:
    """`Host(a) || Host(b)`, brackets of an IPv6 literal removed (Traefik matches without)."""
    names = dict.fromkeys(h.strip("[]") for h in hosts if h)
    return " || ".join(f"Host(`{name}`)" for name in names)


def dynamic(
    backends: Mapping[str, Sequence[str]],
    *,
    grafana_url: str | None = None,
    kibana_url: str | None = None,
    prometheus_url: str | None = None,
    alertmanager_url: str | None = None,
    users_file: str | None = None,
    health_check: bool = True,
    hosts: Sequence[str] = (),
    own_services: Sequence[tuple[UserService, Sequence[str]]] = (),
    kibana_ca_file: str | None = None,
) -> str:
    """Per function a Host + PathPrefix router and a health-checked balancer; the UIs when given.

    Every router matches the loopback names plus `hosts` (the configured client host, names
    the lab's own parts call Traefik by). Function routers buffer at most
    MAX_REQUEST_BODY_BYTES and cap requests in flight per client and per service.
    `health_check=False` where a backend URL is a name that resolves to every task (Swarm's
    dnsrr): one failed check would take all of them out, and Swarm's own task health check
    already takes an unhealthy or stopping task out of the name.
    Grafana and Kibana are configured to serve under their sub-paths themselves, so their
    routers forward the path unchanged; so do Prometheus (`/prometheus`) and Alertmanager
    (`/alertmanager`), which check the person's login themselves (their web config): their
    routes exist only in a lab with logins (`users_file` given). The dashboard and API router
    takes Traefik's basic auth when `users_file` is given, and none without (local processes
    on loopback). `own_services` (a user's entries of lab:services and their backend URLs) are
    routed under their path, which is stripped: the service sees `/shop/x` as `/x`.
    """
    monitoring = {"prometheus": prometheus_url, "alertmanager": alertmanager_url}
    unguarded = [ui for ui, url in monitoring.items() if url and not users_file]
    if unguarded:
        raise ValueError(f"routes without a login of their own need users_file: {unguarded}")
    hosts_match = host_rule((*LOOPBACK_HOSTS, *hosts))
    routers: dict[str, dict] = {}
    services: dict[str, dict] = {}
    middlewares: dict[str, dict] = {
        "retry": {"retry": {"attempts": RETRY_ATTEMPTS, "initialInterval": "20ms"}},
        "body-limit": {
            "buffering": {
                "maxRequestBodyBytes": MAX_REQUEST_BODY_BYTES,
                "memRequestBodyBytes": MAX_REQUEST_BODY_BYTES,
            }
        },
        # depth 0: the connection's remote address, never a header a client can forge.
        "in-flight-per-client": {
            "inFlightReq": {
                "amount": IN_FLIGHT_PER_CLIENT,
                "sourceCriterion": {"ipStrategy": {"depth": 0}},
            }
        },
    }
    for function, urls in backends.items():
        if not urls:
            raise ValueError(f"function {function!r} has no replicas")
        # One middleware per service, counting by request host: one counter per service for
        # each name clients use (127.0.0.1 and localhost count apart).
        middlewares[f"{function}-in-flight"] = {
            "inFlightReq": {
                "amount": IN_FLIGHT_PER_SERVICE,
                "sourceCriterion": {"requestHost": True},
            }
        }
        routers[function] = {
            "rule": f"({hosts_match}) && PathPrefix(`/{function}/`)",
            "entryPoints": ["web"],
            "service": function,
            "middlewares": [
                "in-flight-per-client",
                f"{function}-in-flight",
                "body-limit",
                "retry",
            ],
        }
        balancer: dict = {"servers": [{"url": url} for url in urls]}
        if health_check:
            balancer["healthCheck"] = {
                "path": HEALTH_PATH,
                "interval": HEALTH_CHECK_INTERVAL,
                "timeout": HEALTH_CHECK_TIMEOUT,
            }
        services[function] = {"loadBalancer": balancer}
    for entry, urls in own_services:
        _own_service(entry, urls, hosts_match, health_check, routers, services, middlewares)
    guard = {"middlewares": [AUTH_MIDDLEWARE]} if users_file else {}
    if users_file:
        # removeHeader: the person's Authorization header stops at Traefik, so no backend
        # (Traefik's own API aside) ever sees the admin password.
        middlewares[AUTH_MIDDLEWARE] = {
            "basicAuth": {"usersFile": users_file, "removeHeader": True}
        }
    uis = {"grafana": (grafana_url, {}), "kibana": (kibana_url, {})}
    # Prometheus and Alertmanager check the person's own basic auth themselves (their web
    # config, web_config.py): Traefik passes the Authorization header through, so one login is
    # checked once, where the API is, with bcrypt results cached there (exporter-toolkit);
    # Traefik's own check (no cache) and a service password in this file are not needed.
    uis.update({ui: (url, {}) for ui, url in monitoring.items()})
    for ui, (url, auth) in uis.items():
        if url:
            routers[ui] = {
                "rule": f"({hosts_match}) && PathPrefix(`/{ui}`)",
                "entryPoints": ["web"],
                "service": ui,
                **auth,
            }
            services[ui] = {"loadBalancer": {"servers": [{"url": url}]}}
    transports = {}
    if kibana_url and kibana_ca_file:
        # Kibana over HTTPS (Swarm): verified with the lab's CA alone, by the URL's host name
        # (Traefik v3 servers transport `rootCAs`; the service names it as `serversTransport`).
        transports["kibana"] = {"rootCAs": [kibana_ca_file]}
        services["kibana"]["loadBalancer"]["serversTransport"] = "kibana"
    if prometheus_url:
        # Prometheus serves at / on the lab network (Grafana, the probes and the front door
        # use that), and under /prometheus/ only as browsers see it (--web.external-url).
        middlewares[PROMETHEUS_PREFIX] = {"stripPrefix": {"prefixes": ["/prometheus"]}}
        routers["prometheus"]["middlewares"] = [PROMETHEUS_PREFIX]
    routers[DASHBOARD_ROUTER] = {
        "rule": f"({hosts_match}) && (PathPrefix(`/api`) || PathPrefix(`/dashboard`))",
        "entryPoints": ["traefik"],
        "service": "api@internal",
        **guard,
    }
    return _yaml(
        {
            "http": {
                "routers": routers,
                "services": services,
                "middlewares": middlewares,
                **({"serversTransports": transports} if transports else {}),
            }
        }
    )


def _own_service(
    entry: UserService,
    urls: Sequence[str],
    hosts_match: str,
    health_check: bool,
    routers: dict,
    services: dict,
    middlewares: dict,
) -> None:
    """One user service: the path itself and everything below it (never `/shopping` for
    `/shop`), prefix stripped; no body limit (its API may take bodies), the per-client cap."""
    strip = f"{entry.name}-strip"
    middlewares[strip] = {"stripPrefix": {"prefixes": [entry.path]}}
    routers[entry.name] = {
        "rule": f"({hosts_match}) && (Path(`{entry.path}`) || PathPrefix(`{entry.path}/`))",
        "entryPoints": ["web"],
        "service": entry.name,
        "middlewares": ["in-flight-per-client", strip],
    }
    balancer: dict = {"servers": [{"url": url} for url in urls]}
    if health_check and entry.health:
        balancer["healthCheck"] = {
            "path": entry.health,
            "interval": HEALTH_CHECK_INTERVAL,
            "timeout": HEALTH_CHECK_TIMEOUT,
        }
    services[entry.name] = {"loadBalancer": balancer}


def basic_auth_users(password: str, lab_salt: str) -> str:
    """The users file of the basic-auth middleware: ADMIN_USER with lab:traefikAdminPassword,
    bcrypt with the lab's salt secret, the same text for the same password (htpasswd.py)."""
    return htpasswd.line(ADMIN_USER, password, lab_salt)
