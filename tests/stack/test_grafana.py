"""stack/grafana.py: provisioned and stateless, after Prometheus, and a new admin password
replaces the container (its replace_on_changes must cover the input that carries it).
"""

from __future__ import annotations

import json

import pytest
import yaml

from tests.stack.captured import PARTS, VOLUME, by_type, containers, declared_under, upload
from tests.support.capture import MOCK_SECRETS, TEST_GRAFANA_PASSWORD, ProgramFailed, capture


def password_inputs(container: dict, password: str) -> set[str]:
    """The top-level inputs whose value holds the password, wherever the program puts it."""
    return {key for key, value in container["inputs"].items() if password in json.dumps(value)}


def covers(paths: list[str], key: str) -> bool:
    """Whether replace_on_changes paths cover an input: the key itself, a path under it, or *."""
    return any(path in ("*", key) or path.startswith((f"{key}.", f"{key}[")) for path in paths)


def test_grafana_is_provisioned_stateless_and_after_prometheus(declared):
    if "grafana" not in PARTS[declared["config_name"]]:
        assert "lab-dev-grafana" not in containers(declared)
        assert declared["outputs"]["grafana_url"] is None
        assert not any("grafana" in v["name"] for v in by_type(declared, VOLUME))
        return
    grafana = containers(declared)["lab-dev-grafana"]
    urn, inputs = grafana["urn"], grafana["inputs"]
    envs = dict(env.split("=", 1) for env in inputs["envs"])
    # The password reaches Grafana as a file (run.sh's __FILE form), never as the variable.
    assert "GF_SECURITY_ADMIN_PASSWORD" not in envs, urn
    assert upload(grafana, envs["GF_SECURITY_ADMIN_PASSWORD__FILE"]) == TEST_GRAFANA_PASSWORD
    assert envs["GF_AUTH_ANONYMOUS_ENABLED"] == "false", urn
    assert envs["GF_USERS_ALLOW_SIGN_UP"] == "false", urn
    assert envs["GF_SERVER_SERVE_FROM_SUB_PATH"] == "true", urn
    assert envs["GF_SERVER_ROOT_URL"] == "http://127.0.0.1:8000/grafana/", urn
    datasources = yaml.safe_load(upload(grafana, "/etc/grafana/provisioning/datasources/lab.yml"))
    # Alertmanager's datasource next to Prometheus (stack/monitoring.py; lab:alerting is on).
    source, alertmanager = datasources["datasources"]
    assert (alertmanager["type"], alertmanager["url"]) == (
        "alertmanager",
        "http://alertmanager:9093/alertmanager",
    )
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
    # What a person makes in the UI stays: the database is on the retained data volume.
    (volume,) = inputs["volumes"]
    assert (volume["volumeName"], volume["containerPath"]) == (
        "lab-dev-grafana-data",
        "/var/lib/grafana",
    ), urn
    (data,) = [
        r for r in by_type(declared, VOLUME) if r["inputs"]["name"] == "lab-dev-grafana-data"
    ]
    assert data["options"].get("retain_on_delete") is True, data["urn"]
    # The admin password converges on a kept database: set from the file, then /run.sh.
    assert inputs["entrypoints"][:2] == ["sh", "-c"], urn
    assert "reset-admin-password --password-from-stdin < /run/secrets/" in inputs["entrypoints"][2]
    assert containers(declared)["lab-dev-prometheus"]["urn"] in grafana["dependencies"]
    assert containers(declared)["lab-dev-prometheus"]["inputs"]["wait"] is True
    assert {(p["internal"], p["external"]) for p in inputs["ports"]} == {(3000, 3000)}
    assert "/grafana/api/health" in " ".join(inputs["healthcheck"]["tests"])


def test_a_changed_grafana_password_changes_only_the_inputs_that_carry_it():
    """The convergence contract: a new secret changes Grafana's declared inputs, and nothing
    else does, so the password alone drives the replacement."""
    first = containers(capture({"lab:logs": False}))["lab-dev-grafana"]
    second = containers(capture({"lab:logs": False, "lab:grafanaAdminPassword": "rotated-pw"}))[
        "lab-dev-grafana"
    ]
    carriers = password_inputs(second, "rotated-pw")
    assert carriers, f"{second['urn']}: the new password is in no input"
    assert carriers == password_inputs(first, TEST_GRAFANA_PASSWORD)
    for key in carriers:
        assert first["inputs"][key] != second["inputs"][key], key
    assert {k: v for k, v in first["inputs"].items() if k not in carriers} == {
        k: v for k, v in second["inputs"].items() if k not in carriers
    }


def test_grafana_password_is_required_when_grafana_runs():
    with pytest.raises(ProgramFailed, match="grafanaAdminPassword"):
        capture({"lab:grafanaAdminPassword": None})


def test_replace_on_changes_covers_the_input_that_carries_the_password():
    """Grafana takes the admin password from its file only when it creates its database; on a
    kept database a changed password converges because the container is replaced and its start
    script sets the password from the new file (stack/grafana.py)."""
    grafana = containers(declared_under("default"))["lab-dev-grafana"]
    carriers = password_inputs(grafana, TEST_GRAFANA_PASSWORD)
    assert carriers, f"{grafana['urn']}: the password is in no input"
    replace_on_changes = grafana["options"]["replace_on_changes"]
    for key in carriers:
        assert covers(replace_on_changes, key), (
            f"{grafana['urn']}: replace_on_changes {replace_on_changes} misses input {key!r}, "
            "so a new password would update the container in place and never reach Grafana"
        )


def test_replace_on_changes_names_inputs_the_container_has():
    """A path the provider does not know (say `security_opts` for `securityOpts`) would
    silently never trigger."""
    for result in map(declared_under, ("default", "logs-off")):
        for resource in result["resources"]:
            for path in resource["options"]["replace_on_changes"]:
                top = path.split(".")[0].split("[")[0]
                assert top == "*" or top in resource["inputs"], (resource["urn"], path)


def test_grafana_knows_the_interval_prometheus_scrapes_at():
    """Grafana's Prometheus datasource: jsonData.timeInterval is "the scrape and evaluation
    interval configured in Prometheus" (Grafana docs, Prometheus data source, "Scrape
    interval"); $__rate_interval is max($__interval + that, 4 x that) (Grafana docs,
    "$__rate_interval"). Different from Prometheus' global scrape_interval, every rate()
    panel uses a window of the wrong size (too short: gaps and no data)."""
    declared = declared_under("default")
    grafana = containers(declared)["lab-dev-grafana"]
    prometheus = containers(declared)["lab-dev-prometheus"]
    datasources = yaml.safe_load(upload(grafana, "/etc/grafana/provisioning/datasources/lab.yml"))
    (source,) = [s for s in datasources["datasources"] if s["type"] == "prometheus"]
    config = yaml.safe_load(upload(prometheus, "/etc/prometheus/prometheus.yml"))
    assert source["jsonData"]["timeInterval"] == config["global"]["scrape_interval"]


def test_the_datasources_sign_in_to_prometheus_and_alertmanager_from_a_file():
    """Issue 22: Prometheus and Alertmanager ask a login. Grafana 11.6 provisioning expands
    `$__file{path}` in a datasource's values (pkg/services/provisioning/values, "Provision
    Grafana" docs), so the password stays in a 0400 file and in Grafana's database encrypted
    with the generated secret_key."""
    grafana = containers(declared_under("default"))["lab-dev-grafana"]
    datasources = yaml.safe_load(upload(grafana, "/etc/grafana/provisioning/datasources/lab.yml"))
    uploads = {u["file"]: u for u in grafana["inputs"]["uploads"]}
    for source in datasources["datasources"]:
        assert source["basicAuth"] is True, source["name"]
        assert source["basicAuthUser"] == "lab_monitoring", source["name"]
        reference = source["secureJsonData"]["basicAuthPassword"]
        path = reference.removeprefix("$__file{").removesuffix("}")
        assert reference == f"$__file{{{path}}}", reference
        assert uploads[path]["content"] == MOCK_SECRETS["lab:monitoringApiPassword"]
        assert (uploads[path]["permissions"], uploads[path]["owner"]) == ("0400", "472")
