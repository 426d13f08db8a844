"""stack/containers.py: what every named Docker resource shares, options included.

Docker refuses a second container, network or volume with a name in use, and Pulumi's default
replacement creates the new resource before deleting the old one; so every resource with a
fixed Docker name must be replaced delete-before-create (README: "named containers can be
replaced").
"""

from __future__ import annotations

import pytest

from tests.stack.captured import CONTAINER, NETWORK, VOLUME, declared_under

NAMED = (CONTAINER, NETWORK, VOLUME)


@pytest.mark.parametrize("config_name", ["default", "logs-off"])
def test_every_named_docker_resource_is_deleted_before_it_is_replaced(config_name):
    named = [r for r in declared_under(config_name)["resources"] if r["type"] in NAMED]
    assert {r["type"] for r in named} == set(NAMED)
    for resource in named:
        assert resource["inputs"]["name"], resource["urn"]
        assert resource["options"]["delete_before_replace"] is True, (
            f"{resource['urn']} ({resource['inputs']['name']}) would be created before the "
            "old one is deleted, and Docker refuses the duplicate name"
        )


def test_every_child_is_parented_to_its_component(declared):
    """Child names derive from their component's, and `down` removes a component's children."""
    components = {r["urn"]: r for r in declared["resources"] if not r["custom"]}
    for resource in declared["resources"]:
        if not resource["custom"]:
            assert resource["options"]["parent"] is None, resource["urn"]
            continue
        parent = components.get(resource["options"]["parent"])
        assert parent is not None, f"{resource['urn']} has no component parent"
        assert resource["options"]["parent"] == resource["parent"], resource["urn"]
        assert resource["name"].startswith(parent["name"] + "-"), resource["urn"]


VOLUME = "docker:index/volume:Volume"


def test_nothing_is_protected_and_only_data_volumes_outlive_a_delete(declared):
    """`make down` must be able to remove everything the lab created; only the data volumes
    are left by Pulumi (the front door removes them unless KEEP_DATA=1), so an edit that
    replaces one never deletes the metrics or logs it holds (issue 14)."""
    volumes = 0
    for resource in declared["resources"]:
        options = resource["options"]
        assert not options["protect"], resource["urn"]
        is_data = resource["type"] == VOLUME and resource["name"].endswith("-data")
        volumes += is_data
        assert bool(options["retain_on_delete"]) == is_data, resource["urn"]
    assert volumes >= 1  # Prometheus, Alertmanager, Elasticsearch, Logstash: as switched on


def test_a_label_change_never_replaces_a_data_volume(declared):
    """kreuzwerker/terraform-provider-docker v4.5.0 internal/provider/resource_docker_volume.go:
    `labels` is ForceNew (docs/product-rules.md D5), so a changed label would replace the volume
    and its data: the program tells the engine to ignore label changes on data volumes."""
    for resource in declared["resources"]:
        if resource["type"] == VOLUME:
            assert "labels" in resource["options"]["ignore_changes"], resource["urn"]


def test_the_edge_helpers_join_the_edge_network_only():
    """Issue 22: the one way a replica, or a user's own service (issue 20), joins the lab: the
    edge network alone, as a container (Placement.edge_attachment) and as a Swarm service
    (stack/network.edge_networks); with no edge network given, the backend stands in."""
    import pulumi

    from stack.containers import Placement
    from stack.network import edge_networks

    def joined(args) -> tuple:
        # pulumi.get: the provider's `name` getter is deprecated in favour of `id`, which
        # the program does not set (it names the network).
        return pulumi.get(args, "name"), pulumi.get(args, "aliases")

    placement = Placement("lab", "dev", network_name="back", edge_network_name="edge")
    assert [joined(n) for n in placement.edge_attachment("mine")] == [("edge", ["mine"])]
    assert [joined(n) for n in edge_networks(placement, "mine")] == [("edge", ["mine"])]
    both = placement.network_attachment("traefik", joins=("edge", "backend"))
    assert [joined(n)[0] for n in both] == ["edge", "back"]
    flat = Placement("lab", "dev", network_name="back").edge_attachment("mine")
    assert [joined(n)[0] for n in flat] == ["back"]
