"""stack/traefik.py: every replica routed, the UIs only when they run, two published ports."""

from __future__ import annotations

import yaml

from app.contract import FUNCTIONS
from stack.configs import traefik_yaml
from stack.traefik import SELF_HEALING_HEALTHCHECK
from tests.stack.captured import PARTS, containers, replicas, upload


def test_traefik_routes_every_replica_and_the_enabled_uis(declared):
    traefik = containers(declared)["lab-dev-traefik"]
    assert traefik["inputs"]["command"] == ["--configFile=/etc/traefik/traefik.yml"]
    static = yaml.safe_load(upload(traefik, "/etc/traefik/traefik.yml"))
    assert static["providers"]["file"]["filename"] == traefik_yaml.DYNAMIC_FILE
    dynamic = yaml.safe_load(upload(traefik, traefik_yaml.DYNAMIC_FILE))["http"]
    for function in FUNCTIONS:
        servers = dynamic["services"][function]["loadBalancer"]["servers"]
        assert [s["url"] for s in servers] == [
            f"http://{function}-{i}:8080" for i in range(1, replicas(declared) + 1)
        ]
    parts = PARTS[declared["config_name"]]
    assert ("grafana" in dynamic["routers"]) == ("grafana" in parts)
    assert ("kibana" in dynamic["routers"]) == ("kibana" in parts)
    assert {(p["internal"], p["external"]) for p in traefik["inputs"]["ports"]} == {
        (8000, 8000),
        (8080, 8080),
    }
    assert traefik["inputs"]["healthcheck"]["tests"] == ["CMD", *SELF_HEALING_HEALTHCHECK]
