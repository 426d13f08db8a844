"""stack/exposure.py as the program applies it: a reachable lab:bindAddress without
lab:allowOpenPorts stops the program before it declares a resource (issue 11)."""

from __future__ import annotations

import pytest

from stack import exposure
from stack.settings import LabSettings
from tests.stack.captured import containers
from tests.support.capture import ProgramFailed, capture


def test_the_program_refuses_open_ports_before_declaring_anything():
    with pytest.raises(ProgramFailed) as failed:
        capture({"lab:bindAddress": "0.0.0.0"})
    assert "publishes ports that answer without a login" in failed.value.error
    assert "prometheus 9090/tcp" in failed.value.error
    assert not [r for r in failed.value.resources if r["custom"]], "declared before refusing"


def test_with_the_override_every_port_is_published_on_the_address_asked():
    result = capture({"lab:bindAddress": "0.0.0.0", "lab:allowOpenPorts": True})
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
