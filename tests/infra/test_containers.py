"""Every declared container runs as declared: healthy, its user, its uploaded files, its ports.

Compares the daemon's view (docker inspect, testinfra inside the container, sockets on the host)
with the program's declaration, so a drift on either side fails here.
"""

from __future__ import annotations

import pytest

from tests.support.live_lab import LiveLab

pytestmark = pytest.mark.live


def declared_containers(lab: LiveLab):
    return sorted(lab.containers.items())


def declared_entries(lab: LiveLab, key: str) -> list[tuple[str, dict]]:
    """(container name, entry) for each entry of a list input (`uploads`, `ports`)."""
    return [
        (name, entry)
        for name, inputs in declared_containers(lab)
        for entry in inputs.get(key) or ()
    ]


def test_every_declared_container_runs_and_is_healthy(lab: LiveLab):
    assert lab.containers, "the program declared no container"
    for name, inputs in declared_containers(lab):
        state = lab.client.api.inspect_container(name)["State"]
        assert state["Running"], f"{name}: {state['Status']}"
        if "healthcheck" in inputs:
            assert state["Health"]["Status"] == "healthy", f"{name}: {state['Health']}"


def test_health_checks_and_restart_policies_are_the_declared_ones(lab: LiveLab):
    for name, inputs in declared_containers(lab):
        attributes = lab.client.api.inspect_container(name)
        if "healthcheck" in inputs:
            test = attributes["Config"]["Healthcheck"]["Test"]
            assert test == inputs["healthcheck"]["tests"], name
        policy = attributes["HostConfig"]["RestartPolicy"]["Name"] or "no"
        assert policy == inputs.get("restart", "no"), name


def test_hardening_is_applied(lab: LiveLab):
    for name, inputs in declared_containers(lab):
        host_config = lab.client.api.inspect_container(name)["HostConfig"]
        assert host_config["ReadonlyRootfs"] == bool(inputs.get("readOnly")), name
        assert host_config["Privileged"] is False, name
        assert host_config["SecurityOpt"] == inputs.get("securityOpts"), name
        drops = (inputs.get("capabilities") or {}).get("drops")
        assert host_config["CapDrop"] == drops, name
        if inputs.get("memory"):
            assert host_config["Memory"] == int(inputs["memory"]) * 1024 * 1024, name


def _ids(status_lines: str, field: str) -> set[str]:
    """Real uid (or gid) of every process from /proc/<pid>/status `Uid:`/`Gid:` lines."""
    return {line.split()[1] for line in status_lines.splitlines() if line.startswith(field)}


def test_processes_run_as_the_declared_user(lab: LiveLab, container_host):
    for name, inputs in declared_containers(lab):
        if "user" not in inputs:
            continue
        uid, _, gid = inputs["user"].partition(":")
        host = container_host(name)
        # Every process in the container, including the main one (pid 1).
        status = host.check_output("grep -h -E '^(Uid|Gid):' /proc/[0-9]*/status")
        assert _ids(status, "Uid:") == {uid}, f"{name}: {status}"
        if gid:
            assert _ids(status, "Gid:") == {gid}, f"{name}: {status}"
        main = host.check_output("grep -E '^Uid:' /proc/1/status")
        assert main.split()[1] == uid, name


def test_uploaded_files_hold_the_rendered_content(lab: LiveLab, container_host):
    uploads = declared_entries(lab, "uploads")
    assert uploads, "the program uploads no config file (Traefik and Prometheus should)"
    for name, upload in uploads:
        deployed = container_host(name).file(upload["file"])
        assert deployed.is_file, f"{name}:{upload['file']}"
        assert deployed.content_string == upload["content"], f"{name}:{upload['file']}"
        if "permissions" in upload:
            assert deployed.mode == int(upload["permissions"], 8), f"{name}:{upload['file']}"


def test_containers_are_on_the_declared_network_with_their_aliases(lab: LiveLab):
    for name, inputs in declared_containers(lab):
        attached = lab.client.api.inspect_container(name)["NetworkSettings"]["Networks"]
        for network in inputs.get("networksAdvanced") or ():
            assert network["name"] in attached, f"{name}: {sorted(attached)}"
            aliases = attached[network["name"]]["Aliases"] or []
            assert set(network.get("aliases") or ()) <= set(aliases), f"{name}: {aliases}"


def test_published_ports_listen_on_the_bind_address_only(lab: LiveLab, local_host):
    published = declared_entries(lab, "ports")
    assert published, "the program publishes no port (Traefik should)"
    listening = local_host.socket.get_listening_sockets()
    for name, port in published:
        protocol, external = port.get("protocol", "tcp"), int(port["external"])
        assert port["ip"] == lab.settings.bind_address, f"{name}: {port}"
        if protocol == "tcp":
            assert local_host.socket(f"tcp://{port['ip']}:{external}").is_listening, name
        on_this_port = {
            s
            for s in listening
            if s.startswith(f"{protocol}://") and s.rsplit(":", 1)[1] == str(external)
        }
        assert on_this_port <= {f"{protocol}://{port['ip']}:{external}"}, (
            f"{name}: port {external} is also open on {sorted(on_this_port)}"
        )
