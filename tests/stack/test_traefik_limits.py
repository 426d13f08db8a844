"""stack/traefik.py, issue 14: GOMEMLIMIT below the container's limit, and routers that answer
the configured client host besides the loopback names."""

from __future__ import annotations

import yaml

from stack.configs import traefik_yaml
from stack.settings import MEMORY_MB
from stack.traefik import go_memory_limit
from tests.stack.captured import containers, upload


def test_go_memory_limit_leaves_a_quarter_of_the_container_limit():
    assert go_memory_limit(256) == "192MiB"
    assert go_memory_limit(MEMORY_MB["traefik"]) == f"{MEMORY_MB['traefik'] * 3 // 4}MiB"
    # Measured peak under 2,000 keep-alive connections: 211 MB (README, reliability).
    assert MEMORY_MB["traefik"] > 211


def test_traefik_container_gets_gomemlimit_and_host_rules(declared):
    traefik = containers(declared)["lab-dev-traefik"]
    memory_mb = int(traefik["inputs"]["memory"])
    assert f"GOMEMLIMIT={go_memory_limit(memory_mb)}" in traefik["inputs"]["envs"]
    dynamic = yaml.safe_load(upload(traefik, traefik_yaml.DYNAMIC_FILE))["http"]
    for name, router in dynamic["routers"].items():
        assert router["rule"].startswith("(Host(`127.0.0.1`) || Host(`localhost`)"), name


def test_traefik_ships_its_access_log_like_the_app(declared):
    parts = containers(declared)
    traefik, replica = parts["lab-dev-traefik"], parts["lab-dev-fibonacci-1"]
    if replica["inputs"].get("logDriver") != "gelf":
        assert traefik["inputs"].get("logDriver") == "json-file"  # no Logstash in this stack
        return
    assert traefik["inputs"]["logDriver"] == "gelf"
    ours, theirs = traefik["inputs"]["logOpts"], replica["inputs"]["logOpts"]
    assert ours["tag"] == "{{.Name}}/traefik"
    assert {k: v for k, v in ours.items() if k != "tag"} == {
        k: v for k, v in theirs.items() if k != "tag"
    }
