"""Every declared container, part by part, against stack/hardening.py's table (issue 11)."""

from __future__ import annotations

import re
from pathlib import Path

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


# The uid the upstream image runs as when the program declares none (from each image's
# Dockerfile at the pinned version): grafana/grafana `ARG GF_UID="472"` + `USER "$GF_UID"`;
# elastic/elasticsearch distribution/docker, elastic/logstash docker/ and elastic/kibana
# src/dev/build/tasks/os_packages/docker_generator templates: `USER 1000:0` / `USER 1000`.
IMAGE_USER = {
    "grafana/grafana": "472",
    "docker.elastic.co/elasticsearch/elasticsearch": "1000",
    "docker.elastic.co/logstash/logstash": "1000",
    "docker.elastic.co/kibana/kibana": "1000",
}
# prometheus/prometheus, prometheus/alertmanager, prometheus/node_exporter,
# prometheus-community/elasticsearch_exporter Dockerfiles: `USER nobody` (busybox: 65534).
NOBODY = "65534:65534"
NOBODY_IMAGES = {
    "prom/prometheus",
    "prom/alertmanager",
    "prom/node-exporter",
    "quay.io/prometheuscommunity/elasticsearch-exporter",
}
# Linux: binding a port below net.ipv4.ip_unprivileged_port_start (default 1024) needs
# CAP_NET_BIND_SERVICE; above it no capability is needed.
UNPRIVILEGED_PORT_START = 1024


def _app_uid() -> str:
    """The uid app/Dockerfile creates its user with (`useradd ... --uid N`)."""
    dockerfile = (Path(__file__).resolve().parents[2] / "app" / "Dockerfile").read_text()
    match = re.search(r"useradd\b[^\n]*--uid (\d+)", dockerfile)
    assert match, "app/Dockerfile creates no user with a fixed uid"
    return match.group(1)


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_every_container_runs_as_the_user_its_image_was_built_for(config_name):
    for name, part, inputs, urn in _declared(config_name):
        assert part in HARDENING, f"{urn}: part {part!r} has no row in stack/hardening.py"
        image = inputs["image"].rsplit(":", 1)[0]
        user = inputs.get("user")
        if image in IMAGE_USER:
            # The image's own non-root user; overriding it breaks the files it owns.
            assert user is None, (name, user)
        elif image in NOBODY_IMAGES:
            assert user == NOBODY, (name, user)
        elif part in ("function", "logstash_exporter"):
            assert user is not None, name
            assert user.split(":")[0] == _app_uid(), (name, user)
        else:
            assert user is not None, f"{urn}: {image} would run as its image's default user"
            assert user.split(":")[0] not in ("0", "root"), (name, user)


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_a_read_only_root_wherever_docker_can_still_configure_the_container(config_name):
    """Docker refuses to copy into a read-only root ("container rootfs is marked read-only",
    moby daemon/archive.go; shown on the engine by tests/live/test_read_only_root.py), so a
    part configured by uploads keeps a writable root; every other part gets a read-only one.
    A tmpfs only makes sense on a read-only root and never holds executables."""
    for _name, _, inputs, urn in _declared(config_name):
        uploaded = bool(inputs.get("uploads"))
        assert bool(inputs.get("readOnly")) == (not uploaded), (urn, uploaded)
        for path, options in (inputs.get("tmpfs") or {}).items():
            assert inputs.get("readOnly"), (urn, path)
            assert {"noexec", "nosuid"} <= set(options.split(",")), (urn, path, options)


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_no_capability_is_added_back_and_none_is_needed(config_name):
    for name, _, inputs, urn in _declared(config_name):
        capabilities = inputs.get("capabilities") or {}
        assert capabilities.get("drops") == ["ALL"], f"{urn}: capabilities not all dropped"
        assert not capabilities.get("adds"), (name, capabilities.get("adds"))
        for port in inputs.get("ports") or []:
            assert port["internal"] >= UNPRIVILEGED_PORT_START, (urn, port)


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
