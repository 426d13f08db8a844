"""stack/swarm_monitoring.py and stack/swarm_state.py under mocks: with `lab:engine: swarm` every
part of the single-host lab is a Swarm service, from the same Args and renderers. Each check
compares the swarm declaration with the single-host one of the same config, so a file, password
or volume the single-host part gains and its Swarm twin lacks fails here."""

from __future__ import annotations

import base64
import functools
import re

import pytest
import yaml

from stack import log_shipping, settings
from stack.configs import blackbox_yaml, kibana_yml, logstash_conf, prometheus_yaml, traefik_yaml
from stack.containers import Placement
from stack.node_exporter import HOST_MOUNTS
from stack.swarm_objects import NODE_HOSTNAME, STATE_CONSTRAINT, config_name
from tests.support.capture import capture
from tests.support.swarm_tls import STATE_HOST, swarm  # one capture, shared with the TLS tests

SERVICE = "docker:index/service:Service"
CONFIG = "docker:index/serviceConfig:ServiceConfig"
SECRET = "docker:index/secret:Secret"
CONTAINER = "docker:index/container:Container"
PREFIX = "lab-swarm-"
# The two files Swarm renders differently on purpose: Prometheus finds tasks by DNS, and
# Traefik leaves backend health to Swarm's task health check (stack/swarm.py).
# And the files of Elasticsearch's clients: on Swarm they name an https URL and the lab's CA
# (tests/stack/test_swarm_tls.py checks them).
SWARM_OWN_FILES = {
    prometheus_yaml.CONFIG_FILE,
    traefik_yaml.DYNAMIC_FILE,
    blackbox_yaml.CONFIG_FILE,
    kibana_yml.CONFIG_FILE,
    logstash_conf.PIPELINE_FILE,
    logstash_conf.ALERTS_PIPELINE_FILE,
}
STATEFUL = ("prometheus", "alertmanager", "grafana", "elasticsearch", "logstash", "kibana")


@functools.cache
def single() -> tuple[dict, ...]:
    return tuple(capture({}, stack="swarm")["resources"])


def of_type(resources, type_token: str) -> dict[str, dict]:
    return {r["inputs"]["name"]: r["inputs"] for r in resources if r["type"] == type_token}


def services() -> dict[str, dict]:
    return of_type(swarm(), SERVICE)


def containers() -> dict[str, dict]:
    """The single-host part containers (not the function replicas, one service each here)."""
    return {
        name: inputs
        for name, inputs in of_type(single(), CONTAINER).items()
        if not any(label["label"] == "lab.function" for label in inputs.get("labels", []))
    }


def spec(service: str) -> dict:
    return services()[service]["taskSpec"]["containerSpec"]


def secret_texts() -> dict[str, str]:
    return {
        name: base64.b64decode(inputs["data"]).decode()
        for name, inputs in of_type(swarm(), SECRET).items()
    }


def test_every_single_host_part_is_a_service_and_nothing_else_runs_a_container():
    assert CONTAINER not in {r["type"] for r in swarm()}
    singles = set(containers())
    assert singles, "the single-host capture declared no part container"
    assert singles <= set(services()), sorted(singles - set(services()))
    assert not {SERVICE, SECRET, CONFIG} & {r["type"] for r in single()}


def test_every_uploaded_file_is_a_config_or_a_secret_with_the_same_content():
    configs, secrets = of_type(swarm(), CONFIG), secret_texts()
    checked = 0
    for name, container in containers().items():
        mounted = spec(name)
        by_config = {c["fileName"]: c for c in mounted.get("configs", [])}
        by_secret = {s["fileName"]: s for s in mounted.get("secrets", [])}
        for upload in container.get("uploads", []):
            path = upload["file"]
            if upload["permissions"] == "0400":
                secret = by_secret.get(path)
                assert secret, f"{name}: {path} is a 0400 upload on one host, no secret here"
                assert secret["fileMode"] == 0o400, (name, path)
                assert secret["fileUid"] == upload["owner"], (name, path)
                if path not in SWARM_OWN_FILES:
                    assert secrets[secret["secretName"]] == upload["content"], (name, path)
                assert path not in by_config, f"{name}: {path} is also a (readable) config"
            else:
                config = by_config.get(path)
                assert config, f"{name}: {path} is uploaded on one host, no config here"
                assert config["fileMode"] == 0o444, (name, path)
                if path not in SWARM_OWN_FILES:
                    text = configs[config["configName"]]["dataRaw"]
                    assert text == upload["content"], (name, path)
            checked += 1
    assert checked >= 15, checked


def test_config_and_secret_names_are_ones_swarm_accepts():
    """swarmkit manager/controlapi/common.go validateConfigOrSecretAnnotations: at most 64
    characters of [a-zA-Z0-9-_.], starting and ending with a letter or digit."""
    allowed = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-_.]*[a-zA-Z0-9])?")
    names = [*of_type(swarm(), CONFIG), *of_type(swarm(), SECRET)]
    assert len(names) >= 15, names
    for name in names:
        assert len(name) <= 64, name
        assert allowed.fullmatch(name), name
    long = config_name(
        Placement("lab", "a-long-stack-name", "n"), "elasticsearch_exporter", "/x/" + "y" * 80, "z"
    )
    assert len(long) == 64
    assert long != config_name(
        Placement("lab", "a-long-stack-name", "n"), "elasticsearch_exporter", "/x/" + "y" * 80, "w"
    )


def test_no_password_in_any_services_environment_or_command_line():
    passwords = [text for text in secret_texts().values() if "\n" not in text.strip()]
    assert len(passwords) >= 3, passwords
    for name, service in services().items():
        container = service["taskSpec"]["containerSpec"]
        visible = [
            *container.get("env", {}).values(),
            *container.get("args", []),
            *container.get("commands", []),
        ]
        for password in passwords:
            assert not any(password.strip() in str(v) for v in visible), name
    assert spec(f"{PREFIX}grafana")["env"]["GF_SECURITY_ADMIN_PASSWORD__FILE"].startswith("/run/")


@pytest.mark.parametrize("part", STATEFUL)
def test_stateful_parts_are_pinned_to_the_state_node_with_the_same_volumes(part):
    name = f"{PREFIX}{part}"
    service = services()[name]
    assert service["taskSpec"]["placement"]["constraints"] == [STATE_CONSTRAINT]
    volumes = {
        m["source"]: m["target"] for m in spec(name).get("mounts", []) if m["type"] == "volume"
    }
    expected = {
        v["volumeName"]: v["containerPath"]
        for v in containers()[name].get("volumes", [])
        if v.get("volumeName")
    }
    assert volumes == expected, name
    published = {p["publishMode"] for p in service["endpointSpec"].get("ports", [])}
    assert published <= {"host"}, name


def test_node_exporter_runs_on_every_node_reading_the_hosts_files_read_only():
    name = f"{PREFIX}node_exporter"
    assert services()[name]["mode"] == {"global": True}
    container = spec(name)
    binds = {m["source"]: m for m in container["mounts"] if m["type"] == "bind"}
    assert {s: m["target"] for s, m in binds.items()} == HOST_MOUNTS
    assert all(m["readOnly"] for m in binds.values())
    assert container["hostname"] == NODE_HOSTNAME
    assert container["readOnly"]
    assert container["capDrops"] == ["ALL"]


def test_prometheus_scrapes_every_nodes_exporter_and_sends_to_alertmanager():
    (config,) = [
        r["inputs"]["dataRaw"]
        for r in swarm()
        if r["type"] == CONFIG and "prometheus-prometheus-yml" in r["inputs"]["name"]
    ]
    document = yaml.safe_load(config)
    jobs = {job["job_name"]: job for job in document["scrape_configs"]}
    (node,) = jobs["node"]["dns_sd_configs"]
    assert node["names"] == [f"tasks.{PREFIX}node_exporter"]
    assert node["refresh_interval"] == prometheus_yaml.DNS_REFRESH
    (alertmanager,) = document["alerting"]["alertmanagers"]
    assert alertmanager["static_configs"] == [{"targets": ["alertmanager:9093"]}]


def test_every_tasks_log_goes_to_logstash_on_the_state_nodes_address():
    port = settings.PORTS["gelf"]
    address = log_shipping.gelf_address(STATE_HOST, port)
    assert "127.0.0.1" not in address
    for name, service in services().items():
        driver = service["taskSpec"].get("logDriver")
        if name.removeprefix(PREFIX) in ("traefik", "fibonacci", "factorial", "ackermann"):
            assert driver["name"] == "gelf", name
            assert driver["options"]["gelf-address"] == address, name
    logstash = services()[f"{PREFIX}logstash"]
    (published,) = logstash["endpointSpec"]["ports"]
    assert (published["publishedPort"], published["publishMode"]) == (port, "host")
    assert published["protocol"] == log_shipping.GELF_SCHEME


# Writable on one host only because Docker cannot copy an upload into a read-only root
# (tests/live/test_read_only_root.py); on Swarm their files are config and secret mounts, and
# each writes nothing outside them and its data volume:
# - traefik, blackbox: run read-only on Swarm here (tests/swarm/test_lab_on_swarm.py);
# - prometheus, alertmanager: the same, and their storage flag names the data volume (below);
# - elasticsearch_exporter: prometheus-community/helm-charts
#   charts/prometheus-elasticsearch-exporter/values.yaml runs it `readOnlyRootFilesystem: true`;
# - logstash_exporter: the app image, whose replicas run read-only on both engines.
READ_ONLY_ON_SWARM_ONLY = {
    "traefik",
    "prometheus",
    "alertmanager",
    "blackbox",
    "elasticsearch_exporter",
    "logstash_exporter",
}
STORAGE_FLAGS = {"prometheus": "--storage.tsdb.path=", "alertmanager": "--storage.path="}


def test_the_hardening_of_each_part_is_the_single_host_ones_or_stricter():
    """The same user and dropped capabilities; a read-only root wherever one host has one,
    and on Swarm also for the parts that are writable on one host only for their uploads."""
    gained = set()
    for name, container in containers().items():
        swarm_spec = spec(name)
        assert swarm_spec["capDrops"] == ["ALL"], name
        assert swarm_spec.get("user") == container.get("user"), name
        if container.get("readOnly"):
            assert swarm_spec.get("readOnly"), name
        elif swarm_spec.get("readOnly"):
            gained.add(name.removeprefix(PREFIX))
    assert gained == READ_ONLY_ON_SWARM_ONLY


@pytest.mark.parametrize("part", sorted(STORAGE_FLAGS))
def test_a_read_only_store_writes_into_its_data_volume(part):
    container_spec = spec(f"{PREFIX}{part}")
    (flag,) = [a for a in container_spec["args"] if a.startswith(STORAGE_FLAGS[part])]
    volumes = [m["target"] for m in container_spec["mounts"] if m["type"] == "volume"]
    assert volumes == [flag.split("=", 1)[1]], (flag, volumes)


def test_the_elasticsearch_exporter_service_starts_after_the_security_step():
    """As on one host (tests/stack/test_elasticsearch_exporter.py): the exporter's login
    exists only once the security step ran."""
    (step,) = [r for r in swarm() if r["name"].endswith("-elasticsearch-security")]
    (exporter,) = [
        r
        for r in swarm()
        if r["type"] == SERVICE and r["inputs"]["name"] == f"{PREFIX}elasticsearch_exporter"
    ]
    assert step["urn"] in exporter["options"]["depends_on"]
