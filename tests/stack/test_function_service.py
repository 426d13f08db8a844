"""stack/function_service.py: hardened replicas of the app image, shipping logs only to Logstash."""

from __future__ import annotations

import ipaddress

import yaml

from app.contract import FUNCTIONS
from stack.configs import traefik_yaml
from tests.stack.captured import PARTS, by_type, containers, replicas, upload


def test_function_replicas_are_hardened_and_built_from_app(declared):
    (image,) = by_type(declared, "docker:index/image:Image")
    assert image["inputs"]["build"]["context"] == "app"
    assert image["inputs"]["build"]["args"] == {"BASE_IMAGE": "python:3.11-slim"}
    assert image["inputs"]["skipPush"] is True
    for function in FUNCTIONS:
        for i in range(1, replicas(declared) + 1):
            container = containers(declared)[f"lab-dev-{function}-{i}"]
            inputs, urn = container["inputs"], container["urn"]
            assert inputs["image"] == image["inputs"]["imageName"], urn
            assert image["urn"] in container["dependencies"], urn
            assert inputs["readOnly"] is True, urn
            assert inputs["user"] not in ("", "0", "root"), urn
            assert not inputs["user"].startswith("0:"), urn
            assert "/tmp" in inputs["tmpfs"], urn
            assert f"LAB_FUNCTION={function}" in inputs["envs"], urn
            assert "/health" in " ".join(inputs["healthcheck"]["tests"]), urn
            assert inputs["capabilities"]["drops"] == ["ALL"], urn
            assert "ports" not in inputs, f"{urn}: replicas are reached through Traefik only"


def test_gelf_only_with_logs_on(declared):
    logs_on = "logstash" in PARTS[declared["config_name"]]
    for name, container in containers(declared).items():
        driver = container["inputs"].get("logDriver")
        is_function = name.removeprefix("lab-dev-").rsplit("-", 1)[0] in FUNCTIONS
        # Traefik ships its JSON access log the same way (issue 14).
        if logs_on and (is_function or name == "lab-dev-traefik"):
            assert driver == "gelf", container["urn"]
            assert container["inputs"]["logOpts"]["gelf-address"] == "tcp://127.0.0.1:12201"
            assert container["inputs"]["logOpts"]["tag"], container["urn"]
        else:
            assert driver != "gelf", container["urn"]


def test_replicas_listen_where_traefik_and_prometheus_reach_them(declared):
    """Each container has its own network namespace (Docker's bridge networking): an app bound
    to a loopback address inside it is unreachable from Traefik and Prometheus, which call
    `<function>-<n>:<port>` over the lab network. The app binds LAB_HOST:LAB_PORT
    (app/server.py); the address must be the unspecified one (0.0.0.0 or ::), the port the
    one the other containers call."""
    for function in FUNCTIONS:
        for i in range(1, replicas(declared) + 1):
            container = containers(declared)[f"lab-dev-{function}-{i}"]
            envs = dict(env.split("=", 1) for env in container["inputs"]["envs"])
            host = ipaddress.ip_address(envs.get("LAB_HOST", "0.0.0.0"))
            assert host.is_unspecified, (container["urn"], host)
            if "lab-dev-traefik" in containers(declared):
                dynamic = yaml.safe_load(
                    upload(containers(declared)["lab-dev-traefik"], traefik_yaml.DYNAMIC_FILE)
                )
                servers = dynamic["http"]["services"][function]["loadBalancer"]["servers"]
                assert f"http://{function}-{i}:{envs['LAB_PORT']}" in [s["url"] for s in servers]
