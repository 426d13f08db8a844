"""stack/exposure.py as the program applies it: a reachable lab:bindAddress without
lab:allowOpenPorts stops the program before it declares a resource (issue 11)."""

from __future__ import annotations

import pytest
import yaml

from lab.support import REPO_ROOT
from stack import exposure
from stack.configs import traefik_yaml
from stack.settings import LabSettings, SettingsError, parse
from tests.stack.captured import containers, upload
from tests.support.capture import OPEN_BY_DEFAULT, OPEN_ON_SWARM, ProgramFailed, capture


def test_the_program_refuses_open_ports_before_declaring_anything():
    with pytest.raises(ProgramFailed) as failed:
        capture({"lab:bindAddress": "0.0.0.0"})
    assert "publishes ports that answer without a login" in failed.value.error
    assert "gelf 12201/tcp" in failed.value.error
    assert "prometheus 9090" not in failed.value.error  # its own login (issue 22)
    assert "traefik 8080" not in failed.value.error  # basic auth on the dashboard
    assert "elasticsearch 9200" not in failed.value.error  # security on
    assert not [r for r in failed.value.resources if r["custom"]], "declared before refusing"


def test_with_the_override_every_port_is_published_on_the_address_asked():
    result = capture({"lab:bindAddress": "0.0.0.0", "lab:allowOpenPorts": OPEN_BY_DEFAULT})
    for name, container in containers(result).items():
        for port in container["inputs"].get("ports", []):
            assert port["ip"] == "0.0.0.0", name


def test_every_published_port_key_is_described():
    """A new lab:ports entry must say whether it asks for a login, or the refusal misses it."""
    assert set(exposure.PUBLISHED) == set(LabSettings().ports)
    assert set(e.part for e in exposure.PUBLISHED.values()) <= set(LabSettings().parts())


def test_prometheus_has_no_unauthenticated_lifecycle_api():
    """--web.enable-lifecycle opens POST /-/quit and /-/reload to anyone reaching the port."""
    prometheus = containers(capture({}))["lab-dev-prometheus"]
    assert not any("lifecycle" in flag for flag in prometheus["inputs"]["command"]), prometheus[
        "urn"
    ]


def test_the_refusal_names_the_ports_without_a_login_exactly():
    """With Traefik's basic auth, Prometheus' and Alertmanager's web config and Elasticsearch
    security on, what stays open on a reachable address: the GELF input."""
    with pytest.raises(SettingsError) as refused:
        parse({"bindAddress": "0.0.0.0"})
    message = str(refused.value)
    print(f"\n{message}")
    assert message == exposure.refusal(LabSettings(bind_address="0.0.0.0"))
    assert message == (
        "lab:bindAddress = '0.0.0.0' publishes ports that answer without a login to every"
        " machine that reaches it:"
        " gelf 12201/tcp: Logstash's GELF input (anyone can write log lines)."
        " Bind to 127.0.0.1 (the default) (/prometheus and /alertmanager on the api port 8000"
        " ask for the admin login), switch those parts off, or set"
        " lab:allowOpenPorts: [gelf] to accept it"
    )


def test_the_refusal_follows_the_parts_that_run():
    lab = LabSettings(bind_address="10.0.0.5", metrics=False)
    assert exposure.refusal(lab) == (
        "lab:bindAddress = '10.0.0.5' publishes ports that answer without a login to every"
        " machine that reaches it: gelf 12201/tcp: Logstash's GELF input (anyone can write log"
        " lines). Bind to 127.0.0.1 (the default), switch those parts off, or set"
        " lab:allowOpenPorts: [gelf] to accept it"
    )
    assert exposure.refusal(LabSettings(bind_address="10.0.0.5", metrics=False, logs=False)) is None
    assert exposure.refusal(LabSettings(bind_address="::1")) is None
    everything = tuple(OPEN_BY_DEFAULT)
    assert (
        exposure.refusal(LabSettings(bind_address="0.0.0.0", allow_open_ports=everything)) is None
    )


def test_every_port_with_a_login_has_one_in_the_declared_program():
    """PUBLISHED's `login` claims, checked against what the program declares: Elasticsearch
    with security on, Grafana's password from a file, Traefik's dashboard and monitoring
    routes behind basic auth (next test)."""
    declared = containers(capture({}))
    elastic = declared["lab-dev-elasticsearch"]["inputs"]["envs"]
    assert "xpack.security.enabled=true" in elastic
    assert exposure.PUBLISHED["elasticsearch"].login
    assert exposure.PUBLISHED["kibana"].login  # Kibana signs users in through that security
    grafana = declared["lab-dev-grafana"]["inputs"]["envs"]
    assert any(env.startswith("GF_SECURITY_ADMIN_PASSWORD__FILE=") for env in grafana)


def test_traefik_declares_its_basic_auth():
    """The `login` claims of the traefik and api ports, as the program declares them."""
    traefik = containers(capture({}))["lab-dev-traefik"]
    dynamic = yaml.safe_load(upload(traefik, traefik_yaml.DYNAMIC_FILE))["http"]
    assert traefik_yaml.AUTH_MIDDLEWARE in dynamic["routers"]["dashboard"]["middlewares"]
    # Prometheus and Alertmanager take the person's login themselves: Traefik passes it on.
    for router in traefik_yaml.MONITORING_ROUTES:
        middlewares = dynamic["routers"][router].get("middlewares", [])
        assert traefik_yaml.AUTH_MIDDLEWARE not in middlewares, router
    users = upload(traefik, traefik_yaml.USERS_FILE)
    assert users.startswith(f"{traefik_yaml.ADMIN_USER}:$2b$")
    (item,) = [u for u in traefik["inputs"]["uploads"] if u["file"] == traefik_yaml.USERS_FILE]
    assert (item["permissions"], item["owner"]) == ("0400", "65534"), traefik["urn"]


def test_prometheus_and_alertmanager_have_their_own_login_and_no_direct_port():
    """Issue 22: their direct ports skipped Traefik's login and Host rules. Now each runs with
    --web.config.file (bcrypt users) and publishes no port unless lab:publishMonitoringPorts."""
    declared = containers(capture({}))
    for name, flag_file in (
        ("lab-dev-prometheus", "--web.config.file=/run/secrets/web-config.yml"),
        ("lab-dev-alertmanager", "--web.config.file=/run/secrets/web-config.yml"),
    ):
        inputs = declared[name]["inputs"]
        assert flag_file in inputs["command"], name
        assert not inputs.get("ports"), f"{name} publishes {inputs.get('ports')}"
        config = yaml.safe_load(upload(declared[name], "/run/secrets/web-config.yml"))
        assert set(config["basic_auth_users"]) == {"admin", "lab_monitoring"}, name
    published = containers(capture({"lab:publishMonitoringPorts": True}))
    assert [p["external"] for p in published["lab-dev-prometheus"]["inputs"]["ports"]] == [9090]
    assert [p["external"] for p in published["lab-dev-alertmanager"]["inputs"]["ports"]] == [9093]


SWARM = {"engine": "swarm", "swarm_state_host": "10.0.0.2"}


def test_on_swarm_every_published_port_without_a_login_is_refused_by_name(monkeypatch):
    """Issue 22. Docker publishes a Swarm port in host mode on every interface of the node: the
    service's PortConfig has no host address to bind (moby api/types/swarm/network.go,
    PortConfig: Name, Protocol, TargetPort, PublishedPort, PublishMode, no IP; pulumi-docker's
    ServiceEndpointSpecPort likewise). So the loopback bind address protects nothing there.
    Prometheus and Alertmanager ask their own login now (web config), so by default nothing
    but the GELF input (the documented exception) is open; a port without a login (here
    Prometheus' entry as it was before its web config) is still refused by name."""
    lab = LabSettings(**SWARM)
    assert lab.bind_address == "127.0.0.1"
    assert exposure.refusal(lab) is None
    without_login = exposure.PUBLISHED["prometheus"]._replace(login=None)
    monkeypatch.setitem(exposure.PUBLISHED, "prometheus", without_login)
    assert exposure.refusal(lab) == (
        "lab:engine = 'swarm' publishes every port in host mode on every interface of its node"
        " (no host address), so these answer without a login to every machine that reaches"
        " the node: prometheus 9090/tcp: Prometheus's UI and API. Switch those parts off"
        " (/prometheus and /alertmanager on the api port 8000 ask for the admin login),"
        " or set lab:allowOpenPorts: [prometheus] to accept it"
    )
    # Named: no longer refused.
    assert exposure.refused_port_keys(LabSettings(**SWARM, allow_open_ports=("prometheus",))) == []


def test_on_swarm_the_gelf_input_is_the_documented_exception():
    """Every node's daemon sends its tasks' logs to the state node's GELF port, so it must be
    published there; docs/security.md gives the firewall rule that narrows it to the nodes."""
    lab = LabSettings(**SWARM, allow_open_ports=tuple(OPEN_ON_SWARM))
    assert "gelf" in exposure.open_port_keys(lab)
    assert "gelf" not in exposure.refused_port_keys(lab)
    # On one host the GELF input is only ever dialled on loopback: no exception there.
    assert "gelf" in exposure.refused_port_keys(LabSettings(bind_address="0.0.0.0"))
    rule = "iptables -I DOCKER-USER -p tcp -m conntrack --ctorigdstport 12201"
    assert rule in (REPO_ROOT / "docs" / "security.md").read_text()


def test_a_swarm_lab_needs_no_open_port_allowed_now_that_each_asks_a_login():
    """Before issue 22's web configs, this Swarm lab was refused for Prometheus' and
    Alertmanager's ports; now each asks its own login, so it declares without allowing any
    (the refusal by name itself: test_on_swarm_every_published_port_..._refused_by_name)."""
    result = capture(
        {"lab:engine": "swarm", "lab:logs": False, "lab:grafana": False}, stack="swarm"
    )
    services = {
        r["inputs"]["name"]: r["inputs"]
        for r in result["resources"]
        if r["type"] == "docker:index/service:Service"
    }
    for name in ("lab-swarm-prometheus", "lab-swarm-alertmanager"):
        arguments = services[name]["taskSpec"]["containerSpec"]["args"]
        assert "--web.config.file=/run/secrets/web-config.yml" in arguments, name
