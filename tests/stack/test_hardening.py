"""Every declared container, part by part, against stack/hardening.py's table (issue 11)."""

from __future__ import annotations

import pytest

from app.contract import FUNCTIONS
from stack.hardening import HARDENING
from tests.stack.captured import CONFIGS, containers, declared_under


def _part(container: dict) -> str:
    labels = {entry["label"]: entry["value"] for entry in container["inputs"]["labels"]}
    part = labels["lab.part"]
    # A function replica is labelled `<function>-<n>`; they share the `function` row.
    return "function" if part.rsplit("-", 1)[0] in FUNCTIONS else part


def _declared(config_name: str):
    for name, container in sorted(containers(declared_under(config_name)).items()):
        yield name, _part(container), container["inputs"], container["urn"]


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_every_container_holds_its_row_of_the_hardening_table(config_name):
    for name, part, inputs, urn in _declared(config_name):
        assert part in HARDENING, f"{urn}: part {part!r} has no row in stack/hardening.py"
        row = HARDENING[part]
        assert inputs.get("user") == row.user, (name, inputs.get("user"), row.why)
        assert bool(inputs.get("readOnly")) == row.read_only, (name, row.why)
        assert (inputs.get("tmpfs") or {}) == dict(row.tmpfs), name
        capabilities = inputs.get("capabilities") or {}
        assert capabilities.get("drops") == ["ALL"], f"{urn}: capabilities not all dropped"
        assert tuple(capabilities.get("adds") or ()) == row.cap_add, name


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_every_container_has_no_new_privileges_and_a_memory_limit(config_name):
    for name, _, inputs, urn in _declared(config_name):
        assert "no-new-privileges:true" in inputs["securityOpts"], urn
        assert inputs.get("privileged") is False, urn
        assert inputs.get("memory", 0) > 0, urn
        # Never root by number: a declared user is a non-zero uid.
        if inputs.get("user") is not None:
            assert inputs["user"].split(":")[0] not in ("0", "root"), (name, inputs["user"])


def test_each_row_says_why():
    for part, row in HARDENING.items():
        assert row.why.strip(), part
        assert not row.tmpfs or row.read_only, f"{part}: tmpfs without a read-only root"


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_a_read_only_root_never_meets_an_upload(config_name):
    """Docker refuses a copy into a read-only root (tests/live/test_read_only_root.py), so a
    read-only part must get nothing through `uploads`, and the rows say so."""
    read_only = 0
    for _name, _, inputs, urn in _declared(config_name):
        if inputs.get("readOnly"):
            read_only += 1
            assert not inputs.get("uploads"), f"{urn}: read-only root with uploads"
    assert read_only >= 1, "no part has a read-only root"
