"""Stopping on purpose (issue 23, finding 4): every declared container and Swarm task gets the
time its product needs between SIGTERM and SIGKILL, and Swarm services that others depend on
are waited for until their tasks run (finding 7).

The provider stops a container before removing it with `destroy_grace_seconds` as the timeout,
0 s (SIGKILL at once) when it is not set (kreuzwerker/terraform-provider-docker v4.5.0,
internal/provider/resource_docker_container_funcs.go, resourceDockerContainerDelete:
`var timeout int; if d.Get("destroy_grace_seconds").(int) > 0 {...}; ContainerStop(ctx, id,
StopOptions{Timeout: &timeout})`). Each part's floor below is its product's own shutdown time,
read from the product's source or the app run here; never the lab's table.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from app.contract import REQUESTS_IN_FLIGHT
from lab.support import free_port, wait_until
from tests.stack.captured import containers, declared_under
from tests.support.capture import OPEN_ON_SWARM, REPO_ROOT, capture

SERVICE = "docker:index/service:Service"
DYNAMIC = "pulumi-python:dynamic:Resource"
SWARM_CONFIG = {
    "lab:engine": "swarm",
    "lab:swarmStateHost": "10.20.0.2",
    "lab:allowOpenPorts": OPEN_ON_SWARM,
}

# The product's own longest shutdown, in seconds, with where it is written.
PRODUCT_SHUTDOWN = {
    # traefik/traefik pkg/config/static/entrypoints.go: DefaultGraceTimeout = 10 * time.Second
    # (transport.lifeCycle.graceTimeOut; the lab's static config does not set it).
    "traefik": 10,
    # grafana/grafana pkg/cmd/grafana-server/commands/cli.go listenToSystemSignals:
    # context.WithTimeout(ctx, 30*time.Second) around s.Shutdown.
    "grafana": 30,
    # elastic/kibana core http_config.ts: shutdownTimeout schema.duration({defaultValue: '30s'})
    # (the lab's kibana.yml does not set server.shutdownTimeout).
    "kibana": 30,
    # elastic/helm-charts elasticsearch/values.yaml and logstash/values.yaml:
    # "How long to wait for ... to stop gracefully / terminationGracePeriod: 120".
    "elasticsearch": 120,
    "logstash": 120,
}


def part_of(inputs: dict) -> str:
    labels = {label["label"]: label["value"] for label in inputs.get("labels") or ()}
    return "function" if "lab.function" in labels else labels["lab.part"]


def declared_grace() -> dict[str, int]:
    """destroyGraceSeconds of each part's containers (one value per part)."""
    found: dict[str, set] = {}
    for resource in containers(declared_under("default")).values():
        inputs = resource["inputs"]
        found.setdefault(part_of(inputs), set()).add(inputs.get("destroyGraceSeconds"))
    return {part: values.pop() if len(values) == 1 else values for part, values in found.items()}


def test_every_container_is_stopped_with_a_grace_period():
    """0 or unset is SIGKILL at once (provider source above)."""
    for resource in containers(declared_under("default")).values():
        grace = resource["inputs"].get("destroyGraceSeconds")
        assert isinstance(grace, int | float), f"{resource['urn']}: {grace!r}"
        assert grace > 0, f"{resource['urn']}: {grace!r}"


@pytest.mark.parametrize("part", sorted(PRODUCT_SHUTDOWN))
def test_a_product_gets_at_least_its_own_shutdown_time(part):
    grace = declared_grace()[part]
    assert grace >= PRODUCT_SHUTDOWN[part], f"{part}: {grace} s < {PRODUCT_SHUTDOWN[part]} s"


def test_kibana_and_traefik_keep_the_default_shutdown_timeouts_the_floors_assume():
    """The floors above are the products' defaults: the lab's rendered configs keep them."""
    found = containers(declared_under("default"))
    uploads = "\n".join(
        item["content"]
        for resource in found.values()
        if part_of(resource["inputs"]) in ("kibana", "traefik")
        for item in resource["inputs"].get("uploads") or ()
        if isinstance(item.get("content"), str)
    )
    assert "shutdownTimeout" not in uploads
    assert "graceTimeOut" not in uploads.replace("requestAcceptGraceTimeout", "")


def test_the_function_grace_covers_the_apps_longest_stop_run_here():
    """The real app (python -m app) at its longest stop: the largest drain window it accepts
    (LAB_DRAIN_SECONDS=5, its documented maximum: docs/contract.md) and a call that never
    finishes; the declared grace must outlast the time it takes to exit on SIGTERM."""
    port = free_port()
    environment = {
        **os.environ,
        "LAB_FUNCTION": "fibonacci",
        "LAB_PORT": str(port),
        "LAB_DRAIN_SECONDS": "5",
        "LAB_TEST_DELAY_MS": "60000",
        "LAB_EVENT_LOOP": "asyncio",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app"],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        slow = threading.Thread(
            target=lambda: _ignore(urllib.request.urlopen, f"http://127.0.0.1:{port}/fibonacci/5/")
        )
        slow.daemon = True
        slow.start()
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _in_flight(base) >= 1, timeout=10, what="the call in flight")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        took = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
    grace = declared_grace()["function"]
    print(f"\napp stop with drain 5 s and a call in flight: {took:.1f} s; grace {grace} s")
    assert took > 5, "the app did not drain at all: the measurement is not its longest stop"
    assert grace > took, f"the app needs {took:.1f} s to stop, the grace is {grace} s"


def _in_flight(base: str) -> float:
    with urllib.request.urlopen(base + "/metrics", timeout=2) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((REQUESTS_IN_FLIGHT + "{", REQUESTS_IN_FLIGHT + " "))
    )


def _ignore(call, *args):
    with contextlib.suppress(OSError):
        call(*args, timeout=90)


def _services() -> dict[str, dict]:
    return {
        r["inputs"]["name"]: r
        for r in capture(SWARM_CONFIG, stack="swarm")["resources"]
        if r["type"] == SERVICE
    }


def _seconds(duration: str) -> int:
    """A Go duration of whole seconds (`12s`, `2m`, `1m30s`)."""
    total, number = 0, ""
    for char in duration:
        if char.isdigit():
            number += char
        else:
            total += int(number) * {"h": 3600, "m": 60, "s": 1}[char]
            number = ""
    assert not number, duration
    return total


def test_swarm_tasks_get_the_single_host_grace_in_the_form_the_provider_reads_back():
    """Swarm stops a task with its stop_grace_period (default 10 s); the provider writes the
    read-back value with shortDur (resource_docker_service_structures.go: Duration.String()
    with a trailing `m0s`/`h0m` cut), so another spelling would diff on every plan."""
    single = declared_grace()
    for resource in _services().values():
        spec = resource["inputs"]["taskSpec"]["containerSpec"]
        labels = {label["label"]: label["value"] for label in spec.get("labels") or ()}
        part = "function" if "lab.function" in labels else labels["lab.part"]
        period = spec.get("stopGracePeriod")
        assert period, f"{resource['urn']}: no stopGracePeriod"
        assert not period.endswith(("m0s", "h0m")), period
        assert _seconds(period) == single[part], f"{resource['urn']}: {period} vs {single[part]}"


def test_swarm_services_converge_before_their_dependants_start():
    """Without converge_config the provider returns once the service spec exists
    (resource_docker_service_funcs.go resourceDockerServiceCreate polls the tasks only `if
    v, ok := d.GetOk("converge_config")`), and a global service cannot have it (schema:
    ConflictsWith mode.0.global). The wait counts running tasks against the declared replica
    count ("no replica count" otherwise), and it must outlast the health check's slowest way
    to healthy (start period + retries x interval, Docker's health rules) plus a first pull;
    the provider's default timeout is 3m."""
    for resource in _services().values():
        inputs = resource["inputs"]
        if inputs.get("mode", {}).get("global"):
            assert "convergeConfig" not in inputs, resource["urn"]
            continue
        assert inputs["mode"]["replicated"]["replicas"] >= 1, resource["urn"]
        converge = inputs.get("convergeConfig")
        assert converge, f"{resource['urn']}: no convergeConfig"
        check = inputs["taskSpec"]["containerSpec"].get("healthcheck")
        healthy_by = 0
        if check:
            healthy_by = _seconds(check["startPeriod"]) + check["retries"] * _seconds(
                check["interval"]
            )
        assert _seconds(converge["timeout"]) > max(healthy_by, 3 * 60), resource["urn"]


def test_the_security_step_and_the_import_wait_for_a_converged_service():
    """The setup step and the Kibana import run once Elasticsearch's and Kibana's tasks run, so
    their own deadlines no longer have to hold a first pull."""
    resources = capture(SWARM_CONFIG, stack="swarm")["resources"]
    by_urn = {r["urn"]: r for r in resources}
    dynamic = [r for r in resources if r["type"] == DYNAMIC]
    assert dynamic, "no security step or import declared"
    for step in dynamic:
        services = [by_urn[urn] for urn in step["dependencies"] if urn in by_urn]
        waited = [s for s in services if s["type"] == SERVICE and s["inputs"].get("convergeConfig")]
        assert waited, f"{step['urn']} waits for no converged service: {step['dependencies']}"
