"""stack/traefik.py: every replica routed, the UIs only when they run, two published ports."""

from __future__ import annotations

import yaml

from app.contract import FUNCTIONS
from stack.configs import traefik_yaml
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
    check = traefik["inputs"]["healthcheck"]["tests"]
    assert check[0] == "CMD", check
    script = " ".join(check[1:])
    # `traefik healthcheck --ping` GETs /ping on the entrypoint the static file names for
    # ping (traefik/traefik cmd/healthcheck/healthcheck.go); ping must be on and that
    # entrypoint declared, or every probe fails.
    assert "traefik healthcheck --ping" in script, script
    assert static["ping"]["entryPoint"] in static["entryPoints"], static["ping"]
    # Without --configFile the subcommand looks for the static file where traefik's Finder
    # does (traefik/traefik pkg/cli/loader_file.go: /etc/traefik/traefik.{toml,yaml,yml},
    # then $XDG_CONFIG_HOME, $HOME/.config, ./): the server's file must be the one it finds.
    config_file = traefik["inputs"]["command"][0].removeprefix("--configFile=")
    finder_first = [f"/etc/traefik/traefik.{ext}" for ext in ("toml", "yaml", "yml")]
    assert "--configFile" in script or config_file in finder_first, (script, config_file)
