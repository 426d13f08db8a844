"""The firewall rule docs/security.md gives for the GELF input on Swarm (issue 22), run as
written on the cluster: a port published in host mode on the manager (as Logstash's GELF port
is on the state node) answers every node before the rule, and after it only the nodes the rule
names. The rule is read from the document, so the document cannot drift from what works.
"""

from __future__ import annotations

import re
import shlex

import docker.types
import pytest

from lab.support import REPO_ROOT
from tests.support.swarm_cluster import DEFAULT_PREFIX, wait_for
from tests.swarm.conftest import report
from tests.swarm.services import PYTHON_IMAGE, server_service

pytestmark = [pytest.mark.live, pytest.mark.slow]

GELF_PORT = 12201  # the default lab:ports.gelf the documented rule names
DOCUMENTED_NODES = "10.0.0.0/24"  # the placeholder the document asks to replace
DIAL = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()\n"
    "    print('open')\n"
    "except OSError as error:\n"
    "    print(type(error).__name__)\n"
)


def documented_rule() -> str:
    text = (REPO_ROOT / "docs" / "security.md").read_text()
    (rule,) = re.findall(r"^iptables -I DOCKER-USER .*$", text, flags=re.MULTILINE)
    return rule


def dial_from(node, host: str, port: int) -> str:
    """Connect from a container on `node`'s default bridge: it leaves with the node's address."""
    output = node.client.containers.run(
        PYTHON_IMAGE, ["python3", "-c", DIAL, host, str(port)], remove=True
    )
    return output.decode().strip()


def iptables(node, rule: str, action: str) -> None:
    argv = shlex.split(rule)
    assert argv[:2] == ["iptables", "-I"], argv
    result = node.container.exec_run(["iptables", action, *argv[2:]])
    assert result.exit_code == 0, result.output


def test_the_documented_rule_narrows_the_gelf_port_to_the_nodes_it_names(swarm, overlay):
    allowed, other = swarm.workers[:2]
    name = f"{DEFAULT_PREFIX}-gelf-port"
    server_service(
        swarm,
        name,
        endpoint_spec=docker.types.EndpointSpec(
            mode="dnsrr", ports={GELF_PORT: (8080, "tcp", "host")}
        ),
        constraints=["node.role == manager"],
        init=True,
    )
    rule = documented_rule().replace(DOCUMENTED_NODES, f"{allowed.address}/32")
    assert f"{allowed.address}/32" in rule, rule
    inserted = False
    try:
        swarm.wait_running(name, 1)
        address = swarm.manager.address
        wait_for("the port", lambda: dial_from(other, address, GELF_PORT) == "open", 30)
        iptables(swarm.manager, rule, "-I")
        inserted = True
        from_allowed = dial_from(allowed, address, GELF_PORT)
        from_other = dial_from(other, address, GELF_PORT)
        report(
            f"GELF rule on the manager: {allowed.name} -> {from_allowed}, "
            f"{other.name} -> {from_other}"
        )
        assert from_allowed == "open"
        assert from_other != "open"
    finally:
        if inserted:
            iptables(swarm.manager, rule, "-D")
        swarm.manager.client.services.get(name).remove()
