"""stack/settings.py: one grammar for the `lab:` namespace, and one exact message per mistake.

The same cases run through the Pulumi program in tests/stack/test_main.py, which must refuse
them before registering a single resource.
"""

from __future__ import annotations

import json

import pytest

from stack import settings
from stack.settings import LabSettings, SettingsError
from tests.support.capture import OPEN_BY_DEFAULT, OPEN_ON_SWARM, REPO_ROOT

KNOWN = (
    "replicas, metrics, grafana, logs, bindAddress, allowOpenPorts, lifecycle, "
    "publishMonitoringPorts, prometheusRetention, "
    "prometheusRetentionSize, logRetention, elasticsearchHeap, "
    "logstashHeap, slowCallMs, engine, swarmStateHost, swarmEncryption, alerting, probes, host, "
    "alertReceivers, images, ports, "
    "memoryMb, alertFor, alertTiming, services, grafanaAdminPassword, elasticPassword, "
    "kibanaSystemPassword, "
    "logstashWriterPassword, kibanaImporterPassword, labUserPassword, monitorPassword, "
    "traefikAdminPassword, alertWebhookPassword, monitoringApiPassword, logstashApiPassword, "
    "passwordHashSalt, "
    "grafanaSecretKey, "
    "kibanaSecurityEncryptionKey, kibanaSavedObjectsEncryptionKey, kibanaReportingEncryptionKey, "
    "alertReceiverSecrets, tlsCaCertificate, tlsCaKey, "
    "elasticsearchTlsCertificate, elasticsearchTlsKey, kibanaTlsCertificate, kibanaTlsKey"
)
# (config under `lab:`, the one message a user reads)
INVALID = {
    "replicas-zero": (
        {"replicas": 0},
        "lab:replicas = 0 is invalid: expected an integer from 1 to 20",
    ),
    "switch-not-boolean": (
        {"metrics": "yes"},
        "lab:metrics = 'yes' is invalid: expected true or false",
    ),
    "port-out-of-range": (
        {"ports": {"api": 70000}},
        "lab:ports.api = 70000 is invalid: expected an integer from 1 to 65535",
    ),
    "port-taken-twice": (
        {"ports": {"grafana": 8000}},
        "lab:ports.grafana = 8000 is invalid: port 8000 is already taken by lab:ports.api",
    ),
    "log-retention-with-two-units": (
        {"logRetention": "1d12h"},
        "lab:logRetention = '1d12h' is invalid: expected an Elasticsearch duration such as 7d"
        " or 36h",
    ),
    "retention-size-without-unit": (
        {"prometheusRetentionSize": "2gb"},
        "lab:prometheusRetentionSize = '2gb' is invalid: expected a size such as 512MB or 2GB",
    ),
    "alert-for-unknown-alert": (
        {"alertFor": {"LabTargetDwn": "10s"}},
        "unknown key lab:alertFor.LabTargetDwn; did you mean lab:alertFor.LabTargetDown? (known: "
        + ", ".join(f"alertFor.{name}" for name in settings.ALERT_FOR)
        + ")",
    ),
    "alert-for-outruns-inhibition": (
        {"alertFor": {"LabTargetDown": "10s", "LabTraefikDown": "1m"}},
        "lab:alertFor is invalid: LabTraefikDown's for: 1m is longer than that of"
        " ['LabReplicaErrors', 'LabReplicaMemoryHigh', 'LabReplicaSlow', 'LabTargetDown']"
        " (its inhibition would come too late)",
    ),
    "unknown-key": (
        {"replica": 3},
        f"unknown key lab:replica; did you mean lab:replicas? (known: {KNOWN})",
    ),
    "memory-below-minimum": (
        {"memoryMb": {"grafana": 256}},
        "lab:memoryMb.grafana = 256 is invalid: expected at least 512 "
        "(the part's documented minimum)",
    ),
}


@pytest.mark.parametrize(("raw", "message"), INVALID.values(), ids=INVALID.keys())
def test_each_invalid_config_gets_one_exact_message(raw, message):
    with pytest.raises(SettingsError) as refused:
        settings.parse(raw)
    assert str(refused.value) == message


@pytest.mark.parametrize(("raw", "message"), INVALID.values(), ids=INVALID.keys())
def test_the_engines_text_values_get_the_same_message(raw, message):
    """The engine passes `0`, `true` and objects as text; the user reads the same message."""
    engine = {
        f"lab:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in raw.items()
    }
    with pytest.raises(SettingsError) as refused:
        settings.from_pulumi_config(engine)
    assert str(refused.value) == message


def test_an_unknown_entry_of_a_mapping_suggests_the_nearest():
    with pytest.raises(SettingsError, match=r"did you mean lab:ports\.gelf\?"):
        settings.parse({"ports": {"gelff": 12202}})


def test_no_config_means_the_pinned_defaults():
    assert settings.parse({}) == LabSettings()
    assert settings.from_pulumi_config({"aws:region": "elsewhere"}) == LabSettings()


def test_engine_text_and_yaml_values_mean_the_same():
    engine = {
        "lab:replicas": "3",
        "lab:logs": "false",
        "lab:bindAddress": "127.0.0.2",
        "lab:ports": '{"api": 18000}',
        "lab:prometheusRetention": "12h",
        "lab:grafanaAdminPassword": "secret, never read here",
    }
    from_yaml = settings.parse(
        {
            "replicas": 3,
            "logs": False,
            "bindAddress": "127.0.0.2",
            "ports": {"api": 18000},
            "prometheusRetention": "12h",
        }
    )
    assert settings.from_pulumi_config(engine) == from_yaml
    assert from_yaml.replicas == 3
    assert from_yaml.ports["api"] == 18000
    assert from_yaml.ports["traefik"] == settings.PORTS["traefik"]


@pytest.mark.parametrize(
    ("bind_address", "client_host"),
    [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "127.0.0.1"), ("::1", "[::1]")],
)
def test_the_client_host_of_a_bind_address(bind_address, client_host):
    lab = settings.parse({"bindAddress": bind_address, "allowOpenPorts": OPEN_BY_DEFAULT})
    assert lab.client_host == client_host
    assert lab.api_url == f"http://{client_host}:8000"


def test_urls_follow_the_switches():
    urls = settings.parse({"logs": False, "grafana": False}).urls()
    assert urls["kibana_url"] is None
    assert urls["grafana_url"] is None
    # Through Traefik: the direct port only with lab:publishMonitoringPorts (issue 22).
    assert urls["prometheus_url"] == "http://127.0.0.1:8000/prometheus/"
    published = settings.parse({"publishMonitoringPorts": True}).urls()
    assert published["prometheus_url"] == "http://127.0.0.1:9090"
    assert published["alertmanager_url"] == "http://127.0.0.1:9093/alertmanager/"
    # Grafana reads Prometheus: without metrics there is no Grafana whatever its switch says.
    assert settings.parse({"metrics": False}).urls()["grafana_url"] is None


@pytest.mark.parametrize(
    "stack_file", sorted(REPO_ROOT.glob("Pulumi.*.yaml")), ids=lambda path: path.name
)
def test_every_stack_file_in_the_repository_is_valid(stack_file):
    """A Pulumi.<stack>.yaml the program would refuse is found here, not by `make up`."""
    settings.from_stack_file(stack_file)


def test_a_reachable_bind_address_is_refused_naming_each_open_port():
    """Issue 11: off loopback, every port without a login is open to the network."""
    with pytest.raises(SettingsError) as refused:
        settings.parse({"bindAddress": "0.0.0.0"})
    message = str(refused.value)
    assert message.startswith("lab:bindAddress = '0.0.0.0' publishes ports"), message
    assert "gelf 12201/tcp" in message, message
    # Each of these asks for a login now: Grafana's, Traefik's basic auth on its dashboard,
    # Elasticsearch security (Kibana's login is Elasticsearch's), Prometheus' and
    # Alertmanager's web config (issue 22); the function API is public.
    for port in (
        "grafana 3000",
        "traefik 8080",
        "elasticsearch 9200",
        "kibana 5601",
        "prometheus 9090",
        "alertmanager 9093",
    ):
        assert port not in message, message
    assert "lab:allowOpenPorts: [gelf]" in message


def test_the_refusal_names_only_the_ports_of_running_parts_with_their_numbers():
    config = {"bindAddress": "192.0.2.7", "metrics": False, "ports": {"gelf": 12301}}
    with pytest.raises(SettingsError) as refused:
        settings.parse(config)
    ports = str(refused.value).split("every machine that reaches it: ")[1].split(". Bind")[0]
    named = [entry.split(": ")[0] for entry in ports.split("; ")]
    assert named == ["gelf 12301/tcp"], ports
    # Nothing without a login runs: nothing to refuse.
    assert settings.parse({**config, "logs": False}).bind_address == "192.0.2.7"


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1"])
def test_loopback_addresses_need_no_override(address):
    assert settings.parse({"bindAddress": address}).allow_open_ports == ()


def test_allow_open_ports_is_the_explicit_override_and_typed():
    lab = settings.parse({"bindAddress": "0.0.0.0", "allowOpenPorts": OPEN_BY_DEFAULT})
    assert (lab.bind_address, lab.allow_open_ports) == ("0.0.0.0", tuple(OPEN_BY_DEFAULT))
    for bad in ("yes", True, ["prometheus", "nope"], ["gelf", "gelf"]):
        with pytest.raises(SettingsError, match=r"lab:allowOpenPorts = .* is invalid: expected a"):
            settings.parse({"allowOpenPorts": bad})


def test_allow_open_ports_accepts_only_the_ports_it_names():
    """Issue 22: the override names each port; one left out is still refused, by name."""
    with pytest.raises(SettingsError) as refused:
        settings.parse({"bindAddress": "0.0.0.0", "allowOpenPorts": ["prometheus"]})
    message = str(refused.value)
    # Prometheus asks its own login now (issue 22); the GELF input, not named, is refused.
    assert "gelf 12201/tcp" in message, message
    assert "prometheus 9090" not in message, message
    assert "lab:allowOpenPorts: [gelf]" in message, message


def test_allow_open_ports_from_the_engine_is_json_text():
    """The engine hands a list over as its JSON text (stack/settings_grammar.from_engine)."""
    lab = settings.from_pulumi_config(
        {"lab:bindAddress": "0.0.0.0", "lab:allowOpenPorts": json.dumps(OPEN_BY_DEFAULT)}
    )
    assert lab.allow_open_ports == tuple(OPEN_BY_DEFAULT)


def test_on_swarm_the_state_nodes_parts_are_reached_on_the_state_node():
    lab = settings.parse(
        {"engine": "swarm", "swarmStateHost": "10.0.0.2", "allowOpenPorts": OPEN_ON_SWARM}
    )
    assert lab.url("prometheus") == "http://10.0.0.2:9090"
    # On Swarm Elasticsearch serves HTTPS with the lab's CA (issue 22).
    assert lab.url("elasticsearch") == "https://10.0.0.2:9200"
    assert lab.api_url == "http://127.0.0.1:8000"  # Traefik on the manager, as DOCKER_HOST
    assert settings.parse({}).url("prometheus") == "http://127.0.0.1:9090"
