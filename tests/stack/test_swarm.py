"""stack/swarm.py under mocks: `lab:engine: swarm` declares the same parts as Swarm services."""

from __future__ import annotations

import functools

import pytest
import yaml

from app.contract import FUNCTIONS
from stack import settings
from stack.configs import prometheus_yaml
from stack.settings import SettingsError
from tests.support.capture import OPEN_ON_SWARM, capture

SERVICE = "docker:index/service:Service"
CONFIG = "docker:index/serviceConfig:ServiceConfig"
CONTAINER = "docker:index/container:Container"
SWARM = {
    "lab:engine": "swarm",
    "lab:logs": False,
    "lab:grafana": False,
    "lab:allowOpenPorts": OPEN_ON_SWARM,
}
OPEN = {"allowOpenPorts": OPEN_ON_SWARM}


@functools.cache
def swarm_resources() -> tuple[dict, ...]:
    return tuple(capture(SWARM, stack="swarm")["resources"])


def services() -> dict[str, dict]:
    return {r["inputs"]["name"]: r["inputs"] for r in swarm_resources() if r["type"] == SERVICE}


def test_engine_is_docker_or_swarm():
    assert settings.parse({}).engine == "docker"
    assert (
        settings.parse({"engine": "swarm", "logs": False, "grafana": False, **OPEN}).engine
        == "swarm"
    )
    with pytest.raises(SettingsError, match="expected docker or swarm"):
        settings.parse({"engine": "k8s"})


def test_swarm_with_logs_needs_the_state_nodes_address():
    """The gelf driver runs in each node's daemon: 127.0.0.1 would be the sending node."""
    with pytest.raises(SettingsError, match="needs lab:swarmStateHost"):
        settings.parse({"engine": "swarm", **OPEN})
    assert settings.parse({"engine": "swarm", "swarmStateHost": "10.0.0.5", **OPEN}).logs
    assert settings.parse({"engine": "swarm", "logs": False, **OPEN}).grafana_on
    with pytest.raises(SettingsError, match="lab:swarmStateHost"):
        settings.parse({"engine": "swarm", "swarmStateHost": "udp://10.0.0.5:12201", **OPEN})


def test_the_swarm_stack_file_parses():
    from tests.support.capture import REPO_ROOT

    assert settings.from_stack_file(REPO_ROOT / "Pulumi.swarm.yaml").engine == "swarm"


def test_every_part_is_a_service_and_no_container_is_declared():
    types = {r["type"] for r in swarm_resources()}
    assert CONTAINER not in types
    assert set(services()) == {
        *(f"lab-swarm-{f}" for f in FUNCTIONS),
        "lab-swarm-traefik",
        "lab-swarm-prometheus",
        "lab-swarm-alertmanager",
        "lab-swarm-blackbox",
        "lab-swarm-node_exporter",
    }
    networks = [r for r in swarm_resources() if r["type"] == "docker:index/network:Network"]
    assert {n["inputs"]["name"] for n in networks} == {
        "lab-swarm-network",
        "lab-swarm-network-edge",
    }
    for network in networks:
        assert network["inputs"]["driver"] == "overlay"
        assert network["inputs"]["attachable"]
        # moby's overlay driver turns IPsec on for the key's presence (`--opt encrypted`).
        assert network["inputs"]["options"] == {"encrypted": ""}, network["urn"]


def test_the_overlays_are_plain_only_when_asked():
    resources = capture({**SWARM, "lab:swarmEncryption": False}, stack="swarm")["resources"]
    networks = [r for r in resources if r["type"] == "docker:index/network:Network"]
    assert len(networks) == 2
    assert all(not n["inputs"].get("options") for n in networks), networks


def test_services_join_the_overlays_by_need():
    """Issue 22, as on one host: function tasks on the edge overlay only; Traefik and
    Prometheus on both; the rest on the backend."""
    for name, inputs in services().items():
        joined = [n["name"] for n in inputs["taskSpec"]["networksAdvanceds"]]
        part = name.removeprefix("lab-swarm-")
        if part in FUNCTIONS:
            expected = ["lab-swarm-network-edge"]
        elif part in ("traefik", "prometheus"):
            expected = ["lab-swarm-network-edge", "lab-swarm-network"]
        else:
            expected = ["lab-swarm-network"]
        assert joined == expected, name


@pytest.mark.parametrize("function", FUNCTIONS)
def test_functions_are_replicated_spread_dnsrr_and_start_first(function):
    service = services()[f"lab-swarm-{function}"]
    task = service["taskSpec"]
    assert service["mode"]["replicated"]["replicas"] == settings.LabSettings.replicas
    assert service["endpointSpec"]["mode"] == "dnsrr"
    assert service["updateConfig"]["order"] == "start-first"
    assert task["placement"]["prefs"] == ["spread=node.id"]
    assert task["restartPolicy"]["condition"] == "any"
    assert (
        task["resources"]["limits"]["memoryBytes"] > task["resources"]["reservation"]["memoryBytes"]
    )
    spec = task["containerSpec"]
    assert spec["healthcheck"]["tests"][0] == "CMD"
    assert spec["readOnly"]
    assert spec["capDrops"] == ["ALL"]
    assert spec["user"]


def test_traefik_on_a_manager_with_host_mode_ports_and_versioned_configs():
    service = services()["lab-swarm-traefik"]
    assert service["taskSpec"]["placement"]["constraints"] == ["node.role==manager"]
    assert {p["publishMode"] for p in service["endpointSpec"]["ports"]} == {"host"}
    configs = {
        r["inputs"]["name"]: r["inputs"]["dataRaw"]
        for r in swarm_resources()
        if r["type"] == CONFIG
    }
    dynamic = next(text for name, text in configs.items() if "traefik-dynamic-yml" in name)
    balancer = yaml.safe_load(dynamic)["http"]["services"]["fibonacci"]["loadBalancer"]
    # One dnsrr name for every task: Swarm's task health check keeps it to healthy tasks, and a
    # Traefik health check on it would take every task out at one failed probe.
    assert balancer == {"servers": [{"url": "http://lab-swarm-fibonacci:8080"}]}


def test_config_names_change_with_their_content():
    from stack.containers import Placement
    from stack.swarm_objects import config_name

    placement = Placement(project="lab", stack="swarm", network_name="n")
    one = config_name(placement, "traefik", "/etc/traefik/dynamic.yml", "a")
    assert one != config_name(placement, "traefik", "/etc/traefik/dynamic.yml", "b")
    assert one == config_name(placement, "traefik", "/etc/traefik/dynamic.yml", "a")


def test_prometheus_on_swarm_opens_no_lifecycle_endpoint():
    args = services()["lab-swarm-prometheus"]["taskSpec"]["containerSpec"]["args"]
    assert "--web.enable-lifecycle" not in args
    assert any(a.startswith("--storage.tsdb.retention.time=") for a in args)


def test_prometheus_finds_tasks_by_dns_under_the_single_host_job_names():
    service = services()["lab-swarm-prometheus"]
    assert service["taskSpec"]["placement"]["constraints"] == ["node.labels.lab.state==true"]
    config_text = next(
        r["inputs"]["dataRaw"]
        for r in swarm_resources()
        if r["type"] == CONFIG and "prometheus-prometheus-yml" in r["inputs"]["name"]
    )
    jobs = {job["job_name"]: job for job in yaml.safe_load(config_text)["scrape_configs"]}
    # The dashboards keep working: the same jobs as the single-host stack with these switches.
    single = capture({**SWARM, "lab:engine": "docker"}, stack="dev")["resources"]
    (uploads,) = [
        r["inputs"]["uploads"]
        for r in single
        if r["type"] == CONTAINER and r["inputs"]["name"] == "lab-dev-prometheus"
    ]
    (single_text,) = [u["content"] for u in uploads if u["file"] == prometheus_yaml.CONFIG_FILE]
    single_jobs = {job["job_name"] for job in yaml.safe_load(single_text)["scrape_configs"]}
    assert set(jobs) == single_jobs
    assert {"node", *FUNCTIONS} <= set(jobs)
    for function in FUNCTIONS:
        assert jobs[function]["dns_sd_configs"] == [
            {
                "names": [f"tasks.lab-swarm-{function}"],
                "type": "A",
                "port": 8080,
                "refresh_interval": prometheus_yaml.DNS_REFRESH,
            }
        ]
