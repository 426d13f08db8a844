"""stack/__main__.py under Pulumi's mocks: the resource graph, the security invariants, and
nothing at all for a config it refuses.

Every config runs in its own interpreter (tests/support/capture.py), so Pulumi's global
runtime state never leaks between them.
"""

from __future__ import annotations

import pytest
import yaml

from app.contract import FUNCTIONS
from stack.node_exporter import HOST_MOUNTS
from stack.settings import IMAGES
from tests.stack.captured import (
    CONTAINER,
    NETWORK,
    PARTS,
    VOLUME,
    by_type,
    containers,
    replicas,
)
from tests.stack.test_settings import INVALID
from tests.support.capture import ProgramFailed, capture


def test_every_part_and_replica_is_declared(declared):
    names = set(containers(declared))
    expected = {
        f"lab-dev-{function}-{i}"
        for function in FUNCTIONS
        for i in range(1, replicas(declared) + 1)
    }
    expected |= {f"lab-dev-{part}" for part in PARTS[declared["config_name"]]}
    assert names == expected


BACKEND, EDGE = "lab-dev-network", "lab-dev-network-edge"


def test_two_networks_joined_by_need_each_container_with_its_alias(declared):
    """Issue 22: the replicas on the edge network only (no store, UI, control API or exporter
    there); Traefik (routes to the replicas and the UIs) and Prometheus (scrapes the replicas
    and the exporters) on both; every other part on the backend only."""
    networks = {n["inputs"]["name"]: n for n in by_type(declared, NETWORK)}
    assert set(networks) == {BACKEND, EDGE}
    assert {n["inputs"]["driver"] for n in networks.values()} == {"bridge"}
    for name, container in containers(declared).items():
        attachments = container["inputs"]["networksAdvanced"]
        alias = name.removeprefix("lab-dev-")
        if alias.rsplit("-", 1)[0] in FUNCTIONS:
            expected = [EDGE]
        elif alias in ("traefik", "prometheus"):
            expected = [EDGE, BACKEND]
        else:
            expected = [BACKEND]
        assert [a["name"] for a in attachments] == expected, container["urn"]
        for attachment in attachments:
            assert attachment["aliases"] == [alias], container["urn"]
            assert networks[attachment["name"]]["urn"] in container["dependencies"], name


def test_names_and_labels_on_every_container_network_and_volume(declared):
    for resource in declared["resources"]:
        if resource["type"] not in (CONTAINER, NETWORK, VOLUME):
            continue
        inputs = resource["inputs"]
        assert inputs["name"].startswith("lab-dev-"), resource["urn"]
        labels = {item["label"]: item["value"] for item in inputs["labels"]}
        assert labels["lab.project"] == "lab", resource["urn"]
        assert labels["lab.stack"] == "dev", resource["urn"]


def test_security_invariants_on_every_container(declared):
    for container in containers(declared).values():
        inputs, urn = container["inputs"], container["urn"]
        assert not inputs.get("privileged"), urn
        assert "no-new-privileges:true" in inputs["securityOpts"], urn
        assert inputs.get("networkMode") in (None, "bridge"), urn
        for volume in inputs.get("volumes", []):
            # node-exporter alone reads the host, read-only (stack/node_exporter.py).
            if volume.get("hostPath") and inputs["name"] == "lab-dev-node_exporter":
                assert volume["readOnly"], urn
                assert volume["hostPath"] in HOST_MOUNTS, urn
                continue
            assert not volume.get("hostPath"), f"{urn}: bind mount {volume}"
        for mount in inputs.get("mounts", []):
            assert "docker.sock" not in str(mount.get("source")), urn
        for port in inputs.get("ports", []):
            assert port["ip"] == "127.0.0.1", f"{urn}: {port}"
        assert inputs["memory"] > 0, urn
        assert inputs["restart"] in ("unless-stopped", "always", "on-failure"), urn
        assert inputs["healthcheck"]["tests"][0] == "CMD", urn


def test_outputs(declared):
    outputs = declared["outputs"]
    assert set(outputs) == {
        "alertmanager_url",
        "api_url",
        "grafana_url",
        "kibana_url",
        "prometheus_url",
        "traefik_url",
    }
    assert outputs["api_url"] == "http://127.0.0.1:8000"
    assert outputs["traefik_url"].startswith("http://127.0.0.1:8080")


def test_bind_address_and_ports_come_from_config():
    result = capture({"lab:bindAddress": "127.0.0.2", "lab:ports": {"api": 18000}})
    traefik = containers(result)["lab-dev-traefik"]
    assert {(p["ip"], p["external"]) for p in traefik["inputs"]["ports"]} == {
        ("127.0.0.2", 18000),
        ("127.0.0.2", 8080),
    }
    assert result["outputs"]["api_url"] == "http://127.0.0.2:18000"


def test_image_references_come_from_config():
    result = capture({"lab:images": {"traefik": "mirror.local/traefik:v3.7.15"}})
    traefik = containers(result)["lab-dev-traefik"]
    assert traefik["inputs"]["image"] == "mirror.local/traefik:v3.7.15"
    prometheus = containers(result)["lab-dev-prometheus"]
    assert prometheus["inputs"]["image"] == IMAGES["prometheus"]


@pytest.mark.parametrize(("raw", "message"), INVALID.values(), ids=INVALID.keys())
def test_an_invalid_config_registers_no_resource(raw, message):
    """The program refuses the config before its first resource: `pulumi up` deploys nothing."""
    with pytest.raises(ProgramFailed) as refused:
        capture({f"lab:{key}": value for key, value in raw.items()})
    assert refused.value.resources == []
    assert refused.value.error == f"RunError: {message}"


def test_alert_for_durations_reach_the_rule_file_prometheus_loads():
    result = capture({"lab:alertFor": {"LabTargetDown": "5s", "LabTraefikDown": "5s"}})
    uploads = containers(result)["lab-dev-prometheus"]["inputs"]["uploads"]
    (rules,) = [u["content"] for u in uploads if u["file"].endswith("lab.rules.yml")]
    durations = {rule["alert"]: rule["for"] for rule in yaml.safe_load(rules)["groups"][0]["rules"]}
    assert durations["LabTargetDown"] == durations["LabTraefikDown"] == "5s"
    assert durations["LabSlowCalls"] == "10m"  # the ones not named keep the rules' own
