"""Health checks on the port and path the product serves (issue 23), for the parts that run
here: each declared health command, as captured under mocks, runs inside its own running
container (the stand-in image or the lab's own image, the real binary) and passes; the same
command pointed at a port nothing listens on fails, so the check can tell. Never rewritten to
another address before the real run.

The Elasticsearch and Logstash exporters only run with the logs part, which the harness leaves
off (their products cannot run here): they are declared with `lab:logs` on and started on the
lab network from their declarations, exporters only.
"""

from __future__ import annotations

import re

import pytest

from tests.support.harness import CONTAINER
from tests.support.live_lab import LiveLab, declared_with

pytestmark = [pytest.mark.live]
EXPORTERS = ("elasticsearch_exporter", "logstash_exporter")
APP_IMAGE = ("logstash_exporter",)  # the exporter the lab writes, from its own image
_PORT = re.compile(r"(localhost|127\.0\.0\.1):(\d+)")
UNUSED_PORT = "1"  # tcpmux: no part of the lab listens there


def _argv(check: dict) -> list[str]:
    kind, *rest = check["tests"]
    assert kind in ("CMD", "CMD-SHELL"), check
    return rest if kind == "CMD" else ["/bin/sh", "-c", rest[0]]


def _run(lab: LiveLab, name: str, inputs: dict, argv: list[str]) -> tuple[int, str]:
    result = lab.client.containers.get(name).exec_run(argv, user=inputs.get("user") or "")
    return result.exit_code, result.output.decode(errors="replace")[-500:]


def _check_passes_and_a_wrong_port_fails(lab: LiveLab, name: str, inputs: dict) -> str:
    argv = _argv(inputs["healthcheck"])
    code, output = _run(lab, name, inputs, argv)
    assert code == 0, f"{name}: declared check {argv} exited {code}: {output}"
    joined = " ".join(argv)
    if not _PORT.search(joined):
        # Traefik's `traefik healthcheck --ping` finds the ping entry point in the same static
        # config the server reads: the real binary run above is the proof.
        assert "healthcheck --ping" in joined, f"{name}: the check names no local port: {argv}"
        return joined
    wrong = [_PORT.sub(lambda m: f"{m.group(1)}:{UNUSED_PORT}", part) for part in argv]
    # Bounded: wget tries localhost's ::1 first, where a closed port is not refused here but
    # left hanging (Docker's own check would end it at the declared timeout).
    code, output = _run(lab, name, inputs, ["timeout", "10", *wrong])
    assert code != 0, f"{name}: the check passes on port {UNUSED_PORT} too: {wrong}"
    return joined


def test_each_declared_check_passes_in_its_running_container(lab: LiveLab):
    checked = {}
    for name, inputs in sorted(lab.containers.items()):
        if inputs.get("healthcheck"):
            checked[name] = _check_passes_and_a_wrong_port_fails(lab, name, inputs)
    parts = {lab.labels_of(lab.containers[n]).get("lab.part") for n in checked}
    print(f"\n{len(checked)} declared checks run in their containers: {sorted(parts)}")
    # Every part the harness runs here has a check (a replica's part label is its alias).
    assert {"traefik", "prometheus", "alertmanager", "blackbox", "node_exporter"} <= parts


def test_the_exporters_checks_pass_against_their_real_processes(lab: LiveLab):
    if lab.harness is None:
        pytest.skip("starts containers: only on the harness-applied stack")
    declared = {
        r.inputs["name"]: r.inputs
        for r in declared_with(lab, **{"lab:logs": True})
        if r.type == CONTAINER
    }
    exporters = {
        name: inputs
        for name, inputs in declared.items()
        if lab.labels_of(inputs).get("lab.part") in EXPORTERS and "healthcheck" in inputs
    }
    assert len(exporters) == len(EXPORTERS), sorted(exporters)
    # The Logstash exporter runs from the app image the harness built for the replicas.
    app_image = lab.containers[lab.replicas("fibonacci")[0]]["image"]
    for inputs in exporters.values():
        if lab.labels_of(inputs).get("lab.part") in APP_IMAGE:
            inputs["image"] = app_image
    api = lab.client.api
    started = []
    try:
        for name, inputs in exporters.items():
            api.start(lab.harness.create_container(inputs))
            started.append(name)
        lab.harness.wait_healthy(exporters, timeout=90)
        for name, inputs in exporters.items():
            _check_passes_and_a_wrong_port_fails(lab, name, inputs)
        # The Logstash exporter is its container's PID 1, which gets no default action for
        # SIGTERM: `docker stop` ends it through its own handler (exit 0), not by the SIGKILL
        # after the timeout (137).
        (ours,) = [n for n, i in exporters.items() if lab.labels_of(i)["lab.part"] in APP_IMAGE]
        api.stop(ours, timeout=20)
        assert api.inspect_container(ours)["State"]["ExitCode"] == 0
    finally:
        for name in started:
            api.remove_container(name, force=True)
