"""stack/configs/blackbox_yaml.py's modules as rendered: one call module per function that wants
its exact result, the address family the lab's networks have, only the parts the lab runs."""

from __future__ import annotations

import pytest

from app.contract import FUNCTIONS, SAMPLE_CALLS
from stack.configs import blackbox_yaml
from tests.stack.captured import declared_under


def test_every_function_has_a_call_module_that_wants_its_exact_result():
    modules = blackbox_yaml.modules(parts=())
    assert set(modules) == {blackbox_yaml.call_module(f) for f in FUNCTIONS}
    for function in FUNCTIONS:
        http = modules[blackbox_yaml.call_module(function)]["http"]
        assert http["valid_status_codes"] == [200]
        regexps = " ".join(http["fail_if_body_not_matches_regexp"])
        assert function in regexps
        assert f'"{SAMPLE_CALLS[function][1]}"' in regexps


def test_every_http_module_asks_for_the_address_family_the_lab_network_has():
    """prometheus/blackbox_exporter CONFIGURATION.md and prober/utils.go (chooseProtocol):
    an HTTP probe's preferred_ip_protocol defaults to "ip6"; Docker's bridge networks are
    IPv4-only unless created with enable_ipv6 (the lab's network declares no ipv6), so a
    module left at the default asks DNS for an IPv6 address first on every probe."""
    networks = [
        r
        for r in declared_under("default")["resources"]
        if r["type"] == "docker:index/network:Network"
    ]
    assert networks
    for network in networks:
        assert not network["inputs"].get("ipv6"), network["inputs"]
    modules = blackbox_yaml.modules()
    for name, module in modules.items():
        if module["prober"] == "http":
            assert module["http"].get("preferred_ip_protocol") == "ip4", name


def test_modules_are_rendered_only_for_the_parts_the_lab_runs():
    modules = blackbox_yaml.modules(parts=["traefik", "prometheus"])
    assert {name for name in modules if name.startswith("health_")} == {
        "health_traefik",
        "health_prometheus",
    }
    with pytest.raises(ValueError, match="cassandra"):
        blackbox_yaml.modules(parts=["cassandra"])
