"""A second `pulumi up` of the unchanged lab is empty, proved against the real daemon.

After the live harness applied the lab (the session's `lab` fixture), every container, network
and volume it declares is inspected on the daemon and turned into the docker provider's state
with the provider's Read rules, then diffed against the declared inputs with its schema's rules
and the program's resource options (tests/support/provider_model.py; kreuzwerker/
terraform-provider-docker v4.5.0 internal/provider/resource_docker_container_funcs.go
resourceDockerContainerRead, resource_docker_network_funcs.go, resource_docker_volume.go, and the
schema in resource_docker_container.go / resource_docker_network.go / resource_docker_volume.go).
"""

from __future__ import annotations

import pytest

from tests.live.conftest import report
from tests.support import provider_model as model
from tests.support.harness_inputs import CONTAINER, NETWORK, VOLUME

pytestmark = [pytest.mark.live]


def read_back(lab, resource) -> dict:
    """The provider's state of one declared resource, read from the daemon."""
    api = lab.client.api
    prior = model.created_state(resource.type, resource.inputs)
    name = resource.inputs["name"]
    if resource.type == CONTAINER:
        return model.read_container(api.inspect_container(name), prior)
    if resource.type == NETWORK:
        return model.read_network(api.inspect_network(name), prior)
    return model.read_volume(api.inspect_volume(name), prior)


def test_the_second_plan_of_the_applied_lab_is_empty(lab):
    if lab.harness is None:
        pytest.skip("--lab-target=stack: the stack's own state is Pulumi's, not the harness's")
    types = (CONTAINER, NETWORK, VOLUME)
    resources = [r for r in lab.resources if r.custom and r.type in types]
    plans = [model.plan(r.type, r.urn, read_back(lab, r), r.inputs, r.options) for r in resources]
    counted = {t.split(":")[-1]: sum(r.type == t for r in resources) for t in types}
    changed = [p for p in plans if p.action != model.NONE]
    report(
        f"second plan, single host: {len(plans)} resources read back from the daemon and "
        f"diffed ({', '.join(f'{n} {k}' for k, n in counted.items())}): "
        f"{sum(p.action == model.UPDATE for p in plans)} updates, "
        f"{sum(p.action == model.REPLACE for p in plans)} replacements"
    )
    assert counted["Container"] >= 3
    assert counted["Network"] >= 1
    assert not changed, "\n".join(p.describe() for p in changed)
