"""The provider model's own rules on small cases whose answer the provider's source gives
(tests/support/provider_model.py; terraform-provider-docker v4.5.0, Terraform plugin SDK
helper/schema/schema.go). The live proofs rely on these."""

from __future__ import annotations

from tests.support import provider_model as model
from tests.support.harness_inputs import CONTAINER
from tests.support.swarm_harness import SERVICE

MIB = 1024 * 1024
BASE = {
    "name": "c",
    "image": "img",
    "memory": 128,
    "mustRun": True,
    "healthcheck": {"tests": ["CMD", "true"], "interval": "1m0s", "retries": 3},
}


def inspect(memory_swap: int, interval_ns: int = 60 * 10**9, tmpfs=None) -> dict:
    """A container inspect as the daemon answers it (the fields Read looks at)."""
    return {
        "Name": "/c",
        "State": {"Running": True},
        "Config": {
            "Image": "img",
            "Healthcheck": {"Test": ["CMD", "true"], "Interval": interval_ns, "Retries": 3},
        },
        "HostConfig": {
            "Memory": 128 * MIB,
            "MemorySwap": memory_swap,
            "RestartPolicy": {"Name": "no"},
            "LogConfig": {"Type": "json-file"},
            "NetworkMode": "bridge",
            "Tmpfs": tmpfs,
        },
        "NetworkSettings": {},
    }


def container_plan(inputs: dict, answer: dict, options: dict | None = None) -> model.Plan:
    state = model.read_container(answer, model.created_state(CONTAINER, inputs))
    return model.plan(CONTAINER, "urn:c", state, inputs, options)


def test_an_unset_memory_swap_read_back_as_docker_stored_it_is_an_update():
    """memory_swap is Optional, not Computed (resource_docker_container.go l.856): unset, it
    diffs against the 2x the daemon stored (diffString: absent = zero value)."""
    plan = container_plan(BASE, inspect(256 * MIB))
    assert plan.action == model.UPDATE
    assert [c.path for c in plan.changes] == ["memory_swap"]
    assert container_plan({**BASE, "memorySwap": 128}, inspect(128 * MIB)).action == model.NONE


def test_a_duration_not_in_go_s_form_diffs_and_replaces_only_through_replace_on_changes():
    """Read stores Healthcheck.Interval.String() (`1m0s`); `60s` differs; healthcheck is not
    ForceNew (l.1045), so only replace_on_changes makes it a replacement."""
    inputs = {**BASE, "memorySwap": 128}
    sixty = {**inputs, "healthcheck": {**BASE["healthcheck"], "interval": "60s"}}
    assert container_plan(sixty, inspect(128 * MIB)).action == model.UPDATE
    options = {"replace_on_changes": ["healthcheck"]}
    assert container_plan(sixty, inspect(128 * MIB), options).action == model.REPLACE


def test_tmpfs_changes_are_updates_unless_replace_on_changes():
    """tmpfs is Optional only (l.482) and not in resourceDockerContainerUpdate's list."""
    inputs = {**BASE, "memorySwap": 128, "tmpfs": {"/tmp": "size=16m"}}
    answer = inspect(128 * MIB, tmpfs={"/tmp": "size=8m"})
    assert container_plan(inputs, answer).action == model.UPDATE
    assert container_plan(inputs, answer, {"replace_on_changes": ["tmpfs"]}).action == "replace"


def service_inputs(attachment: dict) -> dict:
    return {
        "name": "s",
        "taskSpec": {
            "containerSpec": {"image": "img"},
            "networksAdvanceds": [{**attachment, "aliases": ["s"]}],
        },
    }


def service_answer() -> dict:
    return {
        "Spec": {
            "Name": "s",
            "TaskTemplate": {
                "ContainerSpec": {"Image": "img", "Isolation": "default"},
                "Networks": [{"Target": "net-id", "Aliases": ["s"]}],
            },
            "Mode": {"Replicated": {"Replicas": 1}},
        },
        "Endpoint": {"Spec": {"Mode": "vip"}},
    }


def test_a_service_network_by_name_is_replaced_on_every_plan():
    """flattenTaskNetworksAdvanced reads the attachment back as `id`; `name` is ForceNew."""
    for attachment, action in (({"name": "lab-net"}, model.REPLACE), ({"id": "net-id"}, "none")):
        inputs = service_inputs(attachment)
        state = model.read_service(service_answer(), model.created_state(SERVICE, inputs))
        assert model.plan(SERVICE, "urn:s", state, inputs).action == action, attachment
