"""Unhealthy means restarted (issue 14): Traefik, declared as the program declares it (health
check, restart policy, user, uploads) on the offline stand-in image, is wedged with SIGSTOP (the
process holds its sockets and answers nothing, as a thrashing Traefik did; `docker pause` would
freeze the health check too; sent from the host as the other fault tests do) and must be
answering again within a bounded time.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from lab.support import wait_until
from stack import traefik as traefik_component
from tests.stack.captured import containers, declared_under
from tests.support.harness import HARNESS_LABEL, HARNESS_PID_LABEL
from tests.support.harness_inputs import container_settings, upload_archive

pytestmark = [pytest.mark.live, pytest.mark.slow]
IMAGE = "lab-standin/traefik:3.7.15"
BOUND_SECONDS = 60


def _state(api, container_id: str) -> dict:
    return api.inspect_container(container_id)


def test_a_wedged_traefik_is_restarted(docker_client, standin_image):
    client = docker_client
    standin_image(IMAGE)
    inputs = dict(containers(declared_under("default"))["lab-dev-traefik"]["inputs"])
    # The declared container, minus what would clash with a running lab: its name, ports,
    # network and log shipping.
    for key in ("ports", "networksAdvanced", "logDriver", "logOpts"):
        inputs.pop(key, None)
    inputs["name"] = f"lab-selfheal-traefik-{os.getpid()}"
    inputs["image"] = IMAGE
    labels = {HARNESS_LABEL: "self-heal", HARNESS_PID_LABEL: str(os.getpid())}
    api = client.api
    settings = container_settings(api, inputs, labels)
    settings.pop("ports", None)
    container_id = api.create_container(**settings)["Id"]
    try:
        api.put_archive(container_id, "/", upload_archive(inputs["uploads"]))
        api.start(container_id)
        wait_until(
            lambda: _state(api, container_id)["State"].get("Health", {}).get("Status") == "healthy",
            timeout=60,
            interval=0.5,
            what="traefik healthy after start",
        )
        assert _state(api, container_id)["Config"]["Healthcheck"]["Test"][1:] == list(
            traefik_component.SELF_HEALING_HEALTHCHECK
        )
        restarts = _state(api, container_id)["RestartCount"]
        wedged_pid = _state(api, container_id)["State"]["Pid"]

        started = time.monotonic()
        # From the host, not `docker kill`: Docker counts a signal it sends as a manual stop,
        # after which `unless-stopped` never restarts the container.
        os.kill(wedged_pid, signal.SIGSTOP)
        wait_until(
            lambda: _state(api, container_id)["State"]["Pid"] not in (0, wedged_pid),
            timeout=BOUND_SECONDS,
            interval=0.5,
            what="a new Traefik process after SIGSTOP",
        )
        replaced = time.monotonic() - started
        wait_until(
            lambda: _state(api, container_id)["State"].get("Health", {}).get("Status") == "healthy",
            timeout=BOUND_SECONDS,
            interval=0.5,
            what="traefik healthy again",
        )
        healthy = time.monotonic() - started
        state = _state(api, container_id)
        print(
            f"\nwedged traefik (SIGSTOP): new process after {replaced:.1f} s, healthy after "
            f"{healthy:.1f} s, restart count {restarts} -> {state['RestartCount']}"
        )
        assert state["RestartCount"] == restarts + 1
        assert healthy < BOUND_SECONDS
    finally:
        api.remove_container(container_id, force=True)
