"""tests/support/harness_inputs.py and the harness without a Docker daemon: what they accept,
refuse and map.

The first test is the guard for "nothing declared is silently dropped": every input the program
declares for the live stack is one the harness knows how to apply.
"""

from __future__ import annotations

import io
import tarfile

import docker
import pytest

from lab.automation import project_name
from tests.support.declared import CAPTURE_DIR, Declared, capture
from tests.support.harness import HARNESS_LABEL, Harness
from tests.support.harness_inputs import (
    CONTAINER,
    NETWORK,
    UnsupportedDeclaration,
    check_supported,
    go_duration_ns,
    upload_archive,
)
from tests.support.live_lab import HARNESS_STACK, harness_config

PORTS = {
    "api": 18000,
    "traefik": 18080,
    "prometheus": 19090,
    "grafana": 13000,
    "elasticsearch": 19200,
    "kibana": 15601,
    "gelf": 12201,
}


def declared(type_token: str, inputs: dict, custom: bool = True) -> Declared:
    return Declared.alone(type_token, inputs, custom=custom)


@pytest.fixture(scope="module")
def offline_harness() -> Harness:
    # A fixed API version means the client never asks a daemon for it.
    return Harness(docker.DockerClient(version="1.41"), CAPTURE_DIR, run_id="unit")


def test_the_harness_knows_every_input_the_program_declares():
    resources = capture(project_name(), HARNESS_STACK, harness_config(PORTS))
    types = {r.type for r in resources if r.custom}
    assert CONTAINER in types
    assert NETWORK in types
    check_supported(resources)


def test_logs_part_declarations_are_known_too():
    resources = capture(project_name(), HARNESS_STACK, harness_config(PORTS, **{"lab:logs": True}))
    function_containers = [
        r
        for r in resources
        if r.type == CONTAINER
        and {"label": "lab.function", "value": "fibonacci"} in r.inputs["labels"]
    ]
    check_supported(function_containers)


@pytest.mark.parametrize(
    ("resource", "complaint"),
    [
        (declared(CONTAINER, {"name": "c", "image": "i", "gpus": "all"}), "input 'gpus'"),
        (
            declared(CONTAINER, {"name": "c", "image": "i", "ports": [{"internal": 1, "x": 2}]}),
            "ports.x",
        ),
        (
            declared(
                CONTAINER,
                {
                    "name": "c",
                    "image": "i",
                    "mounts": [
                        {
                            "target": "/t",
                            "type": "tmpfs",
                            "tmpfsOptions": {"sizeBytes": 1, "other": 2},
                        }
                    ],
                },
            ),
            "mounts.tmpfsOptions.other",
        ),
        (declared("docker:index/service:Service", {"name": "s"}), "type docker:index/service"),
        (
            declared(NETWORK, {"name": "n", "labels": [{"label": "a", "value": "b", "z": 1}]}),
            "labels.z",
        ),
    ],
)
def test_unknown_declarations_fail_loudly(resource, complaint):
    with pytest.raises(UnsupportedDeclaration, match=complaint.replace(".", r"\.")):
        check_supported([resource])


def test_component_resources_are_not_applied():
    check_supported([declared("lab:stack:Anything", {"whatever": 1}, custom=False)])


@pytest.mark.parametrize(
    ("text", "nanoseconds"), [("5s", 5 * 10**9), ("1m30s", 90 * 10**9), ("500ms", 5 * 10**8)]
)
def test_go_durations(text, nanoseconds):
    assert go_duration_ns(text) == nanoseconds


def test_a_malformed_duration_is_refused():
    with pytest.raises(UnsupportedDeclaration):
        go_duration_ns("5 seconds")


def test_container_inputs_map_to_docker_settings(offline_harness):
    inputs = {
        "name": "lab-t-x",
        "image": "img",
        "user": "65534:65534",
        "readOnly": True,
        "envs": ["A=1"],
        "command": ["--flag"],
        "memory": 128.0,
        "restart": "unless-stopped",
        "ports": [{"internal": 8000.0, "external": 18000.0, "ip": "127.0.0.1", "protocol": "tcp"}],
        "logDriver": "json-file",
        "logOpts": {"max-size": "10m"},
        "tmpfs": {"/tmp": "rw,size=16m"},
        "capabilities": {"drops": ["ALL"]},
        "securityOpts": ["no-new-privileges:true"],
        "healthcheck": {
            "tests": ["CMD", "true"],
            "interval": "5s",
            "timeout": "3s",
            "retries": 5.0,
            "startPeriod": "10s",
        },
        "labels": [{"label": "lab.part", "value": "x"}],
        "networksAdvanced": [{"name": "net", "aliases": ["x"]}],
        "volumes": [{"volumeName": "data", "containerPath": "/data"}],
    }
    settings = offline_harness.container_settings(inputs)
    host = settings["host_config"]
    assert host["PortBindings"] == {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18000"}]}
    assert host["RestartPolicy"] == {"Name": "unless-stopped"}
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "10m"}}
    assert host["Memory"] == 128 * 1024 * 1024
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["Tmpfs"] == {"/tmp": "rw,size=16m"}
    assert host["Binds"] == ["data:/data:rw"]
    assert settings["healthcheck"]["Interval"] == 5 * 10**9
    assert settings["healthcheck"]["Retries"] == 5
    assert settings["user"] == "65534:65534"
    assert settings["labels"] == {
        "lab.part": "x",
        HARNESS_LABEL: "unit",
        "lab.harness.pid": offline_harness.ownership["lab.harness.pid"],
    }
    # Created on the schema's default network mode; networks are joined after create.
    assert host["NetworkMode"] == "bridge"
    assert settings["networking_config"] is None


def test_uploads_become_one_archive_with_modes():
    archive = upload_archive(
        [
            {"file": "/etc/app/a.yml", "content": "a: 1\n", "permissions": "0640"},
            {"file": "/usr/local/bin/run", "contentBase64": "IyEvYmluL3NoCg==", "executable": True},
        ]
    )
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert members["etc/app/a.yml"].mode == 0o640
        assert tar.extractfile("etc/app/a.yml").read() == b"a: 1\n"
        assert members["usr/local/bin/run"].mode == 0o755
        assert tar.extractfile("usr/local/bin/run").read() == b"#!/bin/sh\n"
