"""`lab:services` (stack/user_services.py): a wrong entry is refused before anything is
deployed, naming the key, the entry and the rule; a right one is declared like a function
(hardening row, network, log shipping) and reaches Traefik, Prometheus, the probes, Logstash's
filter and the overview. tests/live/test_own_service.py runs one for real.
"""

from __future__ import annotations

import pytest
import yaml

from dashboards import grafana_overview
from stack.configs import logstash_conf
from stack.hardening import HARDENING
from stack.settings import SettingsError, parse
from tests.stack.captured import containers
from tests.support.capture import OPEN_ON_SWARM, capture

SHOP = {"name": "shop", "image": "example/shop:1", "port": 8081}


def _refusal(entries) -> str:
    with pytest.raises(SettingsError) as refused:
        parse({"services": entries})
    return str(refused.value)


@pytest.mark.parametrize(
    ("entries", "rule"),
    [
        # RFC 1123: a label is lower-case letters, digits and hyphens, not starting with one.
        ([{**SHOP, "name": "Shop"}], "DNS label"),
        ([{**SHOP, "name": "-shop"}], "DNS label"),
        ([{**SHOP, "name": "my_shop"}], "DNS label"),
        ([SHOP, {**SHOP, "path": "/other"}], "used twice"),
        ([SHOP, {**SHOP, "name": "shop2", "path": "/shop"}], "is 'shop''s /shop"),
        ([SHOP, {**SHOP, "name": "deep", "path": "/shop/deep"}], "overlaps"),
        ([{**SHOP, "path": "/fibonacci"}], "shadow the lab's route /fibonacci/"),
        ([{**SHOP, "path": "/factorial/x"}], "shadow the lab's route /factorial/"),
        ([{**SHOP, "path": "/grafana"}], "shadow the lab's route /grafana"),
        ([{**SHOP, "path": "/kibana2"}], "shadow the lab's route /kibana"),
        ([{**SHOP, "path": "/prometheus"}], "shadow the lab's route /prometheus"),
        ([{**SHOP, "name": "traefik"}], "taken by the lab itself"),
        ([{**SHOP, "name": "node"}], "taken by the lab itself"),
        ([{**SHOP, "name": "probe-parts"}], "taken by the lab itself"),
        ([{**SHOP, "port": 0}], "port = 0: expected an integer from 1 to 65535"),
        ([{**SHOP, "port": 65536}], "port = 65536: expected an integer from 1 to 65535"),
        ([{**SHOP, "colour": "red"}], "unknown field 'colour'"),
        ([{"name": "shop", "port": 8081}], "field 'image' is required"),
        ([{**SHOP, "env": {"1BAD": "x"}}], "env ="),
        ([{**SHOP, "path": "/shop/"}], "no trailing slash"),
        ("shop", "expected a list"),
    ],
)
def test_a_wrong_entry_is_refused_naming_key_entry_and_rule(entries, rule):
    message = _refusal(entries)
    assert "lab:services" in message, message
    assert rule in message, message
    if isinstance(entries, list):
        assert "[0]" in message or "[1]" in message, message


def test_a_right_entry_gets_its_defaults():
    (shop,) = parse({"services": [SHOP]}).services
    assert (shop.path, shop.replicas, shop.metrics_path, shop.read_only) == (
        "/shop",
        1,
        None,
        True,
    )
    # The engine hands the list over as JSON text; it means the same.
    assert parse({"services": '[{"name": "shop", "image": "example/shop:1", "port": 8081}]'})
    # Prefixes that only share letters do not overlap: /shopping is not under /shop.
    two = [SHOP, {**SHOP, "name": "shopping"}]
    assert [s.path for s in parse({"services": two}).services] == ["/shop", "/shopping"]


def test_its_memory_counts_in_what_the_lab_needs():
    plain = parse({})
    with_shop = parse({"services": [{**SHOP, "replicas": 3, "memoryMb": 100}]})
    assert with_shop.memory_needed_mb(3) - plain.memory_needed_mb(3) == 300


ENTRY = {**SHOP, "metricsPath": "/metrics", "health": "/healthz", "replicas": 2, "env": {"A": "1"}}


@pytest.fixture(scope="module")
def declared():
    return capture({"lab:services": [ENTRY]})


def _upload(inputs: dict, suffix: str) -> str:
    (content,) = [u["content"] for u in inputs["uploads"] if u["file"].endswith(suffix)]
    return content


def test_each_replica_is_a_hardened_container_on_the_lab_network(declared):
    found = containers(declared)
    function = found["lab-dev-fibonacci-1"]["inputs"]
    row = HARDENING["service"]
    for i in (1, 2):
        inputs = found[f"lab-dev-shop-{i}"]["inputs"]
        assert (inputs["user"], inputs["readOnly"], inputs["tmpfs"]) == (
            row.user,
            row.read_only,
            dict(row.tmpfs),
        )
        assert inputs["capabilities"] == {"drops": ["ALL"]}
        assert inputs["envs"] == ["A=1"]
        # The same network as a function replica, its alias `<name>-<i>`.
        assert inputs["networksAdvanced"][0]["name"] == function["networksAdvanced"][0]["name"]
        assert inputs["networksAdvanced"][0]["aliases"] == [f"shop-{i}"]
        assert "ports" not in inputs
        assert inputs["logDriver"] == "gelf"
        assert inputs["logOpts"]["labels"] == logstash_conf.OWN_SERVICE_FIELD
        assert {"label": logstash_conf.OWN_SERVICE_FIELD, "value": "shop"} in inputs["labels"]


def test_read_only_false_takes_the_writable_row():
    captured = capture({"lab:services": [{**SHOP, "readOnly": False}]})
    inputs = containers(captured)["lab-dev-shop-1"]["inputs"]
    assert inputs.get("readOnly") is False
    assert "tmpfs" not in inputs
    assert inputs["user"] == HARDENING["service_writable"].user


def test_traefik_prometheus_and_the_probes_know_it(declared):
    found = containers(declared)
    dynamic = yaml.safe_load(_upload(found["lab-dev-traefik"]["inputs"], "dynamic.yml"))["http"]
    assert "PathPrefix(`/shop/`)" in dynamic["routers"]["shop"]["rule"]
    assert dynamic["middlewares"]["shop-strip"] == {"stripPrefix": {"prefixes": ["/shop"]}}
    balancer = dynamic["services"]["shop"]["loadBalancer"]
    assert [s["url"] for s in balancer["servers"]] == ["http://shop-1:8081", "http://shop-2:8081"]
    assert balancer["healthCheck"]["path"] == "/healthz"
    config = yaml.safe_load(_upload(found["lab-dev-prometheus"]["inputs"], "prometheus.yml"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["shop"]["metrics_path"] == "/metrics"
    assert jobs["shop"]["static_configs"] == [{"targets": ["shop-1:8081", "shop-2:8081"]}]
    probes = [
        target
        for group in jobs["probe-parts"]["static_configs"]
        if group["labels"]["part"] == "shop"
        for target in group["targets"]
    ]
    assert probes == ["http://traefik:8000/shop/healthz"]


def test_without_metrics_path_it_is_not_scraped():
    captured = capture({"lab:services": [SHOP]})
    config = _upload(containers(captured)["lab-dev-prometheus"]["inputs"], "prometheus.yml")
    assert "shop" not in {j["job_name"] for j in yaml.safe_load(config)["scrape_configs"]}


def test_logstash_names_its_lines_after_the_entry():
    """Docker's gelf driver sends each label listed in the `labels` log option as an extra
    field `_<label>` (moby daemon/logger/gelf/gelf.go; the live test sees `_lab.service`
    arrive), and Logstash's gelf input strips the leading underscore (`strip_leading_underscore`
    defaults to true: elastic/logstash docs/reference/plugins-inputs-gelf.md, plugin v3.3.2)."""
    pipeline = logstash_conf.pipeline(elasticsearch_url="http://elasticsearch:9200")
    assert "if [lab.service] {" in pipeline
    assert '"[service][name]" => "%{[lab.service]}"' in pipeline


def test_the_overview_has_a_row_from_traefiks_metrics():
    model = grafana_overview.build(services=["shop"])
    rows = [p["title"] for p in model["panels"] if p["type"] == "row"]
    assert "Your service: shop" in rows
    exprs = [t["expr"] for p in model["panels"] for t in p.get("targets", ())]
    assert any('service="shop@file"' in e and "traefik_service_requests_total" in e for e in exprs)
    assert "Your service: shop" not in [
        p["title"] for p in grafana_overview.build()["panels"] if p["type"] == "row"
    ]


def test_on_swarm_it_is_a_service_spread_like_a_functions():
    captured = capture(
        {
            "lab:engine": "swarm",
            "lab:logs": True,
            "lab:swarmStateHost": "10.0.0.5",
            "lab:grafana": False,
            "lab:allowOpenPorts": [*OPEN_ON_SWARM, "gelf"],
            "lab:services": [ENTRY],
        },
        stack="swarm",
    )
    services = {
        r["inputs"]["name"]: r["inputs"]
        for r in captured["resources"]
        if r["type"] == "docker:index/service:Service"
    }
    shop, function = services["lab-swarm-shop"], services["lab-swarm-fibonacci"]
    spec = shop["taskSpec"]["containerSpec"]
    row = HARDENING["service"]
    assert (spec["image"], spec["user"], spec["readOnly"]) == ("example/shop:1", row.user, True)
    assert shop["mode"] == {"replicated": {"replicas": 2}}
    assert shop["taskSpec"]["placement"] == function["taskSpec"]["placement"]
    # The same overlays as a function's, by the ids the provider reads back.
    assert [n["id"] for n in shop["taskSpec"]["networksAdvanceds"]] == [
        n["id"] for n in function["taskSpec"]["networksAdvanceds"]
    ]
    options = shop["taskSpec"]["logDriver"]["options"]
    assert options["labels"] == logstash_conf.OWN_SERVICE_FIELD
    assert options["gelf-address"] == "tcp://10.0.0.5:12201"
    # Prometheus finds its replicas by DNS as it finds a function's (tasks.<service>).
    files = [
        r["inputs"]["dataRaw"]
        for r in captured["resources"]
        if r["type"] == "docker:index/serviceConfig:ServiceConfig"
    ]
    (prometheus,) = [yaml.safe_load(f) for f in files if "scrape_configs:" in f]
    (job,) = [j for j in prometheus["scrape_configs"] if j["job_name"] == "shop"]
    assert job["metrics_path"] == "/metrics"
    assert [c["names"] for c in job["dns_sd_configs"]] == [["tasks.lab-swarm-shop"]]
