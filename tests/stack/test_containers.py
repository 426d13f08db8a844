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


def test_nothing_is_protected_or_kept_on_delete(declared):
    """`make down` must be able to remove everything the lab created."""
    for resource in declared["resources"]:
        options = resource["options"]
        assert not options["protect"], resource["urn"]
        assert not options["retain_on_delete"], resource["urn"]
