"""The three-node swarm the live Swarm suite runs on (tests/support/swarm_cluster.py): nodes
Ready with their roles and labels, the images on every node, and a failed bring-up that leaves
nothing. The numbers go to the "swarm numbers" section at the end of the run.
"""

from __future__ import annotations

import docker
import docker.types
import pytest

from tests.support.swarm_cluster import DEFAULT_PREFIX, SwarmCluster, cluster_leftovers
from tests.swarm import conftest
from tests.swarm.conftest import report, timings_line
from tests.swarm.services import PYTHON_IMAGE
from tests.swarm.test_lab_on_swarm import APP_IMAGE

pytestmark = [pytest.mark.live, pytest.mark.slow]


def test_three_nodes_are_ready_one_manager_two_workers(swarm):
    nodes = {n.attrs["Description"]["Hostname"]: n.attrs for n in swarm.swarm_nodes()}
    assert sorted(nodes) == sorted(node.name for node in swarm.nodes)
    assert all(attrs["Status"]["State"] == "ready" for attrs in nodes.values()), nodes
    roles = {name: attrs["Spec"]["Role"] for name, attrs in nodes.items()}
    assert roles == {node.name: node.role for node in swarm.nodes}
    assert [node.role for node in swarm.nodes] == ["manager", "worker", "worker"]
    assert nodes[swarm.manager.name]["ManagerStatus"]["Leader"] is True
    assert nodes[swarm.manager.name]["Spec"]["Labels"] == {"lab.state": "true"}
    versions = {attrs["Description"]["Engine"]["EngineVersion"] for attrs in nodes.values()}
    report(f"cluster up ({', '.join(sorted(versions))}): {timings_line(swarm.timings)}")


def test_the_images_are_on_every_node_with_the_host_id(swarm, docker_client, standin_image):
    wanted = docker_client.images.get(PYTHON_IMAGE).id
    for node in swarm.nodes:
        assert node.client.images.get(PYTHON_IMAGE).id == wanted, node.name
    # Not built: a skip on a laptop, a failure under LAB_REQUIRE_DOCKER=1 (never a silent pass).
    app = standin_image(APP_IMAGE)
    per_node = swarm.load_images([app])
    app_id = docker_client.images.get(app).id
    for node in swarm.nodes:
        assert node.client.images.get(app).id == app_id, node.name
    report(
        f"load {app} after {PYTHON_IMAGE} (shared base layers): save "
        f"{swarm.timings['image_save']:.1f} s, "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in sorted(per_node.items()))
        + f", all nodes in parallel {swarm.timings['image_load']:.1f} s"
    )


def test_a_failed_bring_up_removes_everything_it_made(docker_client):
    prefix = f"{DEFAULT_PREFIX}-broken"
    conftest._CLUSTERS_UP.append(prefix)
    cluster = SwarmCluster(
        docker_client, nodes=2, prefix=prefix, swarm_options={"default_addr_pool": ["nonsense"]}
    )
    # Fails at swarm init, once the nodes and their daemons are up.
    with pytest.raises(docker.errors.APIError, match="invalid base pool"):
        cluster.up()
    assert "daemons_ready" in cluster.timings
    assert cluster_leftovers(docker_client, prefix) == []
    report(f"failed bring-up ({prefix}): removed in {cluster.timings['down']:.1f} s, nothing left")
