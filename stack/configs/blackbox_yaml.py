"""The blackbox exporter's probe modules, and the Prometheus jobs that run them: one call per
function through Traefik, as a user makes it, that must answer its exact result; and each
part's own health endpoint.

Every probe is a Prometheus target labelled with `part` (the part's or the function's name);
a function's call also carries the `function` label that Alertmanager groups and inhibits on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import yaml

from app.contract import FUNCTIONS, SAMPLE_CALLS, sample_path

CONFIG_FILE = "/etc/blackbox_exporter/config.yml"
PORT = 9115
PROBE_PATH = "/probe"

PART_LABEL = "part"
FUNCTION_LABEL = "function"
CALL_JOB = "probe-calls"
# A user's own service (lab:services): a 200 through Traefik, on its health path or its root.
SERVICE_MODULE = "service_up"
HEALTH_JOB = "probe-parts"
# The longest a probe may take; the exporter also stops it half a second before Prometheus'
# scrape timeout, whichever comes first.
TIMEOUT = "5s"


@dataclass(frozen=True)
class HealthCheck:
    """What healthy means for one part: a 200 on `path`, and every regexp found in the body."""

    path: str
    body_regexps: tuple[str, ...] = ()


# Each part's health endpoint, as its pinned version documents it. A status code alone is
# enough where the product answers non-200 when unhealthy; Grafana, Elasticsearch and Kibana
# can answer 200 while not healthy, so their body must say so.
PART_HEALTH: Mapping[str, HealthCheck] = MappingProxyType(
    {
        # Traefik's ping answers 200 "OK", and 503 while it shuts down.
        "traefik": HealthCheck("/ping"),
        # 503 until the TSDB is loaded.
        "prometheus": HealthCheck("/-/ready"),
        "grafana": HealthCheck("/api/health", (r'"database"\s*:\s*"ok"',)),
        # 200 even when red: only green or yellow (one node holds no replica) is healthy.
        "elasticsearch": HealthCheck("/_cluster/health", (r'"status"\s*:\s*"(green|yellow)"',)),
        # 200 when degraded as well: the overall level itself must be available. [^{}] keeps
        # the match inside `overall`, whatever the order of its keys.
        "kibana": HealthCheck(
            "/api/status", (r'"overall"\s*:\s*\{[^{}]*"level"\s*:\s*"available"',)
        ),
        # Logstash's node API: it answers while the process runs; pipelines are watched by
        # their own metrics.
        "logstash": HealthCheck("/"),
    }
)


@dataclass(frozen=True)
class BasicAuth:
    """Credentials a probe sends; the password stays in a file the exporter reads."""

    username: str
    password_file: str


def call_module(function: str) -> str:
    return f"call_{function}"


def health_module(part: str) -> str:
    return f"health_{part}"


def _json_string_field(name: str, value: str) -> str:
    # The closing quote makes the match exact: "55" does not accept "555".
    return rf'"{re.escape(name)}"\s*:\s*"{re.escape(value)}"'


def _http_module(
    *, regexps: Sequence[str] = (), auth: BasicAuth | None = None, ca_file: str | None = None
) -> dict[str, Any]:
    http: dict[str, Any] = {
        "method": "GET",
        "valid_status_codes": [200],
        # The lab network is IPv4; the exporter otherwise tries IPv6 first.
        "preferred_ip_protocol": "ip4",
    }
    if regexps:
        http["fail_if_body_not_matches_regexp"] = list(regexps)
    if auth is not None:
        http["basic_auth"] = {"username": auth.username, "password_file": auth.password_file}
    if ca_file is not None:
        # An https target must prove itself with a certificate from this CA (prometheus/common
        # config/http_config.go TLSConfig `ca_file`, inline in blackbox_exporter's HTTPProbe).
        http["tls_config"] = {"ca_file": ca_file}
    return {"prober": "http", "timeout": TIMEOUT, "http": http}


def _check_parts(parts: Iterable[str]) -> None:
    unknown = sorted(set(parts) - set(PART_HEALTH))
    if unknown:
        raise ValueError(f"no health check for {unknown}; known parts: {sorted(PART_HEALTH)}")


def modules(
    *,
    functions: Sequence[str] = FUNCTIONS,
    parts: Iterable[str] = tuple(PART_HEALTH),
    basic_auth: Mapping[str, BasicAuth] = MappingProxyType({}),
    own_services: bool = False,
    ca_files: Mapping[str, str] = MappingProxyType({}),
) -> dict[str, dict[str, Any]]:
    """The modules by name: `call_<function>` for each function's sample call (status 200,
    the function's name and its exact result in the JSON body) and `health_<part>` for each
    part the lab runs. `basic_auth` maps a part to the credentials its probe sends (for
    Elasticsearch with security on); `ca_files` maps a part to the CA file its https probe
    verifies with (Elasticsearch on Swarm)."""
    parts = list(parts)
    _check_parts([*parts, *basic_auth, *ca_files])
    found: dict[str, dict[str, Any]] = {}
    for function in functions:
        _, result = SAMPLE_CALLS[function]
        # The blackbox exporter matches its regexps per module, not per target, so each call
        # gets a module of its own.
        found[call_module(function)] = _http_module(
            regexps=(
                _json_string_field("function", function),
                _json_string_field("result", result),
            )
        )
    if own_services:
        found[SERVICE_MODULE] = _http_module()
    for part in parts:
        check = PART_HEALTH[part]
        found[health_module(part)] = _http_module(
            regexps=check.body_regexps, auth=basic_auth.get(part), ca_file=ca_files.get(part)
        )
    return found


def render(
    *,
    functions: Sequence[str] = FUNCTIONS,
    parts: Iterable[str] = tuple(PART_HEALTH),
    basic_auth: Mapping[str, BasicAuth] = MappingProxyType({}),
    own_services: bool = False,
    ca_files: Mapping[str, str] = MappingProxyType({}),
) -> str:
    """The exporter's whole `config.yml` (see `modules`; `own_services`: SERVICE_MODULE too)."""
    document = {
        "modules": modules(
            functions=functions,
            parts=parts,
            basic_auth=basic_auth,
            own_services=own_services,
            ca_files=ca_files,
        )
    }
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def _probe_job(job_name: str, exporter: str, targets: list[dict]) -> dict[str, Any]:
    return {
        "job_name": job_name,
        "metrics_path": PROBE_PATH,
        # Each target names its module in `__param_module`, which Prometheus sends as the
        # `module` URL parameter, so one job runs several modules.
        "static_configs": targets,
        "relabel_configs": [
            # The address Prometheus would scrape is the probe's target...
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            # ...which is also the instance the probe's series describe...
            {"source_labels": ["__param_target"], "target_label": "instance"},
            # ...while the scrape itself goes to the exporter.
            {"target_label": "__address__", "replacement": exporter},
        ],
    }


def scrape_jobs(
    *,
    exporter: str,
    api_url: str,
    part_urls: Mapping[str, str],
    functions: Sequence[str] = FUNCTIONS,
    service_paths: Mapping[str, str] = MappingProxyType({}),
) -> list[dict[str, Any]]:
    """Prometheus scrape jobs for every probe, to add to `scrape_configs`.

    `exporter` is the exporter's host:port as Prometheus reaches it; `api_url` is Traefik's
    entrypoint as the exporter reaches it (each function's sample call is appended);
    `part_urls` maps each part to probe to its base URL, sub-path included (e.g.
    `http://grafana:3000/grafana`), and the part's health path is appended. Render the
    modules with the same functions and parts. `service_paths` maps each user service
    (lab:services) to the path its probe calls through Traefik, in the parts' job.
    """
    _check_parts(part_urls)
    base = api_url.rstrip("/")
    calls = [
        {
            "targets": [base + sample_path(function)],
            "labels": {
                PART_LABEL: function,
                FUNCTION_LABEL: function,
                "__param_module": call_module(function),
            },
        }
        for function in functions
    ]
    health = [
        {
            "targets": [url.rstrip("/") + PART_HEALTH[part].path],
            "labels": {PART_LABEL: part, "__param_module": health_module(part)},
        }
        for part, url in part_urls.items()
    ]
    health += [
        {
            "targets": [base + path],
            "labels": {PART_LABEL: service, "__param_module": SERVICE_MODULE},
        }
        for service, path in service_paths.items()
    ]
    jobs = [_probe_job(CALL_JOB, exporter, calls)] if calls else []
    if health:
        jobs.append(_probe_job(HEALTH_JOB, exporter, health))
    return jobs
