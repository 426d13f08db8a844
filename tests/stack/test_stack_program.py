"""The Pulumi program under Pulumi's mocks: the resource graph and the security invariants.

Every config runs in its own interpreter (stack.capture), so Pulumi's global runtime state
never leaks between them.
"""

from __future__ import annotations

import json

import pytest
import yaml

from app.contract import FUNCTIONS
from stack.capture import TEST_GRAFANA_PASSWORD, capture
from stack.configs import elasticsearch_template, logstash_conf, traefik_yaml
from stack.settings import IMAGES, LabSettings

CONTAINER = "docker:index/container:Container"
CONFIGS = {
    "default": {},
    "metrics-off": {"lab:metrics": False},
    "logs-off": {"lab:logs": False},
    "grafana-off": {"lab:grafana": False},
    "three-replicas": {"lab:replicas": 3},
}
# Which parts each config runs (besides the function replicas, which always run).
PARTS = {
    "default": {"traefik", "prometheus", "grafana", "elasticsearch", "logstash", "kibana"},
    "metrics-off": {"traefik", "elasticsearch", "logstash", "kibana"},
    "logs-off": {"traefik", "prometheus", "grafana"},
    "grafana-off": {"traefik", "prometheus", "elasticsearch", "logstash", "kibana"},
    "three-replicas": {"traefik", "prometheus", "grafana", "elasticsearch", "logstash", "kibana"},
}
IMPLEMENTED = {"traefik", "prometheus", "grafana", "elasticsearch", "logstash", "kibana"}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def declared(request):
    result = capture(CONFIGS[request.param])
    result["config_name"] = request.param
    return result


def containers(result) -> dict[str, dict]:
    """Declared containers by Docker name."""
    return {r["inputs"]["name"]: r for r in result["resources"] if r["type"] == CONTAINER}


def by_type(result, type_token: str) -> list[dict]:
    return [r for r in result["resources"] if r["type"] == type_token]


def replicas(result) -> int:
    return {"three-replicas": 3}.get(result["config_name"], LabSettings().replicas)


def upload(container: dict, path: str) -> str:
    files = {u["file"]: u["content"] for u in container["inputs"].get("uploads", [])}
    assert path in files, f"{container['urn']}: no upload at {path} (has {sorted(files)})"
    return files[path]


def test_every_part_and_replica_is_declared(declared):
    names = set(containers(declared))
    expected = {
        f"lab-dev-{function}-{i}"
        for function in FUNCTIONS
        for i in range(1, replicas(declared) + 1)
    }
    expected |= {f"lab-dev-{part}" for part in PARTS[declared["config_name"]] & IMPLEMENTED}
    assert names == expected


def test_one_network_and_every_container_on_it_with_its_alias(declared):
    (network,) = by_type(declared, "docker:index/network:Network")
    assert network["inputs"]["name"] == "lab-dev-network"
    assert network["inputs"]["driver"] == "bridge"
    for name, container in containers(declared).items():
        attachments = container["inputs"]["networksAdvanced"]
        assert [a["name"] for a in attachments] == ["lab-dev-network"], container["urn"]
        alias = name.removeprefix("lab-dev-")
        assert attachments[0]["aliases"] == [alias], container["urn"]
        assert network["urn"] in container["dependencies"], container["urn"]


def test_names_and_labels_on_every_container_network_and_volume(declared):
    for resource in declared["resources"]:
        if resource["type"] not in (
            CONTAINER,
            "docker:index/network:Network",
            "docker:index/volume:Volume",
        ):
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
            assert not volume.get("hostPath"), f"{urn}: bind mount {volume}"
        for mount in inputs.get("mounts", []):
            assert "docker.sock" not in str(mount.get("source")), urn
        for port in inputs.get("ports", []):
            assert port["ip"] == "127.0.0.1", f"{urn}: {port}"
        assert inputs["memory"] > 0, urn
        assert inputs["restart"] in ("unless-stopped", "always", "on-failure"), urn
        assert inputs["healthcheck"]["tests"][0] == "CMD", urn


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
        if logs_on and is_function:
            assert driver == "gelf", container["urn"]
            assert container["inputs"]["logOpts"]["gelf-address"] == "udp://127.0.0.1:12201"
            assert container["inputs"]["logOpts"]["tag"], container["urn"]
        else:
            assert driver != "gelf", container["urn"]


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
    assert traefik["inputs"]["healthcheck"]["tests"] == ["CMD", "traefik", "healthcheck", "--ping"]


def test_prometheus_scrapes_every_replica_with_rules_and_a_volume(declared):
    if "prometheus" not in PARTS[declared["config_name"]]:
        assert "lab-dev-prometheus" not in containers(declared)
        assert declared["outputs"]["prometheus_url"] is None
        return
    prometheus = containers(declared)["lab-dev-prometheus"]
    config = yaml.safe_load(upload(prometheus, "/etc/prometheus/prometheus.yml"))
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    for function in FUNCTIONS:
        assert jobs[function] == [f"{function}-{i}:8080" for i in range(1, replicas(declared) + 1)]
    assert jobs["traefik"] == ["traefik:8080"]
    rules = yaml.safe_load(upload(prometheus, "/etc/prometheus/rules/lab.rules.yml"))
    assert rules["groups"][0]["rules"], prometheus["urn"]
    assert "--storage.tsdb.retention.time=7d" in prometheus["inputs"]["command"]
    (volume,) = [
        v for v in by_type(declared, "docker:index/volume:Volume") if "prometheus" in v["name"]
    ]
    assert prometheus["inputs"]["volumes"] == [
        {"containerPath": "/prometheus", "volumeName": volume["inputs"]["name"]}
    ]
    assert volume["urn"] in prometheus["dependencies"]
    assert declared["outputs"]["prometheus_url"] == "http://127.0.0.1:9090"


def test_outputs(declared):
    outputs = declared["outputs"]
    assert set(outputs) == {"api_url", "grafana_url", "kibana_url", "prometheus_url", "traefik_url"}
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


def test_grafana_is_provisioned_stateless_and_after_prometheus(declared):
    if "grafana" not in PARTS[declared["config_name"]]:
        assert "lab-dev-grafana" not in containers(declared)
        assert declared["outputs"]["grafana_url"] is None
        assert not any(
            "grafana" in v["name"] for v in by_type(declared, "docker:index/volume:Volume")
        )
        return
    grafana = containers(declared)["lab-dev-grafana"]
    urn, inputs = grafana["urn"], grafana["inputs"]
    envs = dict(env.split("=", 1) for env in inputs["envs"])
    assert envs["GF_SECURITY_ADMIN_PASSWORD"] == TEST_GRAFANA_PASSWORD, urn
    assert envs["GF_AUTH_ANONYMOUS_ENABLED"] == "false", urn
    assert envs["GF_USERS_ALLOW_SIGN_UP"] == "false", urn
    assert envs["GF_SERVER_SERVE_FROM_SUB_PATH"] == "true", urn
    assert envs["GF_SERVER_ROOT_URL"] == "http://127.0.0.1:8000/grafana/", urn
    datasources = yaml.safe_load(upload(grafana, "/etc/grafana/provisioning/datasources/lab.yml"))
    (source,) = datasources["datasources"]
    assert (source["uid"], source["name"], source["url"]) == (
        "prometheus",
        "Prometheus",
        "http://prometheus:9090",
    )
    providers = yaml.safe_load(upload(grafana, "/etc/grafana/provisioning/dashboards/lab.yml"))
    (provider,) = providers["providers"]
    assert provider["folder"] == "Lab"
    dashboard = json.loads(upload(grafana, f"{provider['options']['path']}/lab-overview.json"))
    assert dashboard["uid"] == "lab-overview"
    # Stateless: no volume, so a replaced container starts from the provisioned state.
    assert not inputs.get("volumes"), urn
    assert not inputs.get("mounts"), urn
    assert containers(declared)["lab-dev-prometheus"]["urn"] in grafana["dependencies"]
    assert containers(declared)["lab-dev-prometheus"]["inputs"]["wait"] is True
    assert {(p["internal"], p["external"]) for p in inputs["ports"]} == {(3000, 3000)}
    assert "/grafana/api/health" in " ".join(inputs["healthcheck"]["tests"])


def test_elastic_stack_order_volumes_and_config(declared):
    parts = PARTS[declared["config_name"]]
    if "elasticsearch" not in parts:
        assert not {"lab-dev-elasticsearch", "lab-dev-logstash", "lab-dev-kibana"} & set(
            containers(declared)
        )
        assert declared["outputs"]["kibana_url"] is None
        assert not by_type(declared, "pulumi-python:dynamic:Resource")
        return
    es = containers(declared)["lab-dev-elasticsearch"]
    envs = dict(env.split("=", 1) for env in es["inputs"]["envs"])
    assert envs["discovery.type"] == "single-node", es["urn"]
    assert envs["ES_JAVA_OPTS"] == "-Xms1g -Xmx1g", es["urn"]
    assert envs["xpack.security.enabled"] == "false", es["urn"]
    assert not any("PASSWORD" in key.upper() for key in envs), es["urn"]
    assert es["inputs"]["wait"] is True, es["urn"]
    assert es["inputs"]["volumes"][0]["containerPath"] == "/usr/share/elasticsearch/data"

    logstash = containers(declared)["lab-dev-logstash"]
    assert es["urn"] in logstash["dependencies"], logstash["urn"]
    pipeline = upload(logstash, "/usr/share/logstash/pipeline/logstash.conf")
    assert 'hosts => ["http://elasticsearch:9200"]' in pipeline
    template = json.loads(upload(logstash, logstash_conf.TEMPLATE_FILE))
    assert template == elasticsearch_template.template()
    settings = yaml.safe_load(upload(logstash, "/usr/share/logstash/config/logstash.yml"))
    assert settings["queue.type"] == "persisted"
    assert settings["path.queue"].startswith(logstash["inputs"]["volumes"][0]["containerPath"])
    assert logstash["inputs"]["ports"] == [
        {"internal": 12201, "external": 12201, "ip": "127.0.0.1", "protocol": "udp"}
    ]
    for function in FUNCTIONS:
        replica = containers(declared)[f"lab-dev-{function}-1"]
        assert logstash["urn"] in replica["dependencies"], replica["urn"]

    kibana = containers(declared)["lab-dev-kibana"]
    assert es["urn"] in kibana["dependencies"], kibana["urn"]
    envs = dict(env.split("=", 1) for env in kibana["inputs"]["envs"])
    assert envs["SERVER_BASEPATH"] == "/kibana"
    assert envs["SERVER_REWRITEBASEPATH"] == "true"
    assert envs["ELASTICSEARCH_HOSTS"] == '["http://elasticsearch:9200"]'
    (saved,) = by_type(declared, "pulumi-python:dynamic:Resource")
    assert kibana["urn"] in saved["dependencies"], saved["urn"]
    assert saved["inputs"]["kibana_url"] == "http://127.0.0.1:5601/kibana"
    first = json.loads(saved["inputs"]["ndjson"].splitlines()[0])
    assert first["id"].startswith("lab-"), saved["urn"]
    assert declared["outputs"]["kibana_url"] == "http://127.0.0.1:8000/kibana"
    volumes = {v["inputs"]["name"] for v in by_type(declared, "docker:index/volume:Volume")}
    assert {"lab-dev-elasticsearch-data", "lab-dev-logstash-data"} <= volumes


def test_a_changed_grafana_password_replaces_the_container():
    """The convergence contract: a new secret changes Grafana's declared inputs."""
    first = containers(capture({"lab:logs": False}))["lab-dev-grafana"]
    second = containers(capture({"lab:logs": False, "lab:grafanaAdminPassword": "rotated-pw"}))[
        "lab-dev-grafana"
    ]
    assert "GF_SECURITY_ADMIN_PASSWORD=rotated-pw" in second["inputs"]["envs"]
    assert first["inputs"]["envs"] != second["inputs"]["envs"]
    # Everything else is unchanged: the password alone drives the replacement.
    assert {k: v for k, v in first["inputs"].items() if k != "envs"} == {
        k: v for k, v in second["inputs"].items() if k != "envs"
    }


def test_grafana_password_is_required_when_grafana_runs():
    with pytest.raises(RuntimeError, match="grafanaAdminPassword"):
        capture({"lab:grafanaAdminPassword": None})


def test_promtool_accepts_the_uploaded_prometheus_config_and_rules(promtool, tmp_path):
    import subprocess

    prometheus = containers(capture({"lab:logs": False}))["lab-dev-prometheus"]
    rules = tmp_path / "lab.rules.yml"
    rules.write_text(upload(prometheus, "/etc/prometheus/rules/lab.rules.yml"))
    config = tmp_path / "prometheus.yml"
    config.write_text(
        upload(prometheus, "/etc/prometheus/prometheus.yml").replace(
            "/etc/prometheus/rules/lab.rules.yml", str(rules)
        )
    )
    for args in (["check", "rules", str(rules)], ["check", "config", str(config)]):
        result = subprocess.run(
            [promtool, *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, f"promtool {args}: {result.stdout}{result.stderr}"
        assert "SUCCESS" in result.stdout + result.stderr
