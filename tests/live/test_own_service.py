"""`lab:services` on the harness-applied lab: a person's own small HTTP service (the stand-in
image images/hello-service, built by scripts/build_images.sh) declared by the program as one
entry, then routed by the real Traefik, scraped by the real Prometheus, probed by the blackbox
exporter and its lines shipped by Docker's gelf driver with the entry's name.

Lean: it reuses the session's lab and replaces only what the entry changes (Traefik,
Prometheus and the blackbox exporter, declared with the entry; the entry's replicas are new),
then puts the session's containers back. Logstash cannot run here: a GELF receiver on the host
(lab/gelf_receiver.py) takes the replicas' lines where the declared gelf address would go, and
the `lab.service` field it finds is the one Logstash's filter turns into `service.name`
(tests/stack/test_own_services.py reads that filter).
"""

from __future__ import annotations

import contextlib

import docker.errors
import pytest
import requests

from lab.gelf_receiver import GelfReceiver
from lab.support import wait_until
from stack.configs.logstash_conf import OWN_SERVICE_FIELD
from tests.support.declared import capture
from tests.support.live_lab import LiveLab

pytestmark = [pytest.mark.live, pytest.mark.slow]

IMAGE = "lab-standin/hello-service:1"
NAME = "hello"
ENTRY = {
    "name": NAME,
    "image": IMAGE,
    "port": 8081,
    "metricsPath": "/metrics",
    "health": "/health",
    "replicas": 2,
    "env": {"HELLO_NAME": NAME},
}
REPLACED = ("traefik", "prometheus", "blackbox")


def _containers(resources) -> dict[str, dict]:
    return {r.inputs["name"]: r.inputs for r in resources if r.type.endswith("Container")}


class OwnServiceLab:
    def __init__(self, lab: LiveLab) -> None:
        self.lab, self.api = lab, lab.client.api
        config = {**lab.config, "lab:services": [ENTRY]}
        self.declared = _containers(capture(lab.project, lab.stack, config))
        # With lab:logs on, the replicas carry the gelf driver the program gives them.
        self.logged = _containers(capture(lab.project, lab.stack, {**config, "lab:logs": True}))
        self.replicas = sorted(name for name in self.declared if name not in lab.containers)
        self.replaced = [lab.the_container(part) for part in REPLACED]

    def start(self, gelf_address: str) -> None:
        for name in self.replicas:
            inputs = dict(self.logged[name])
            inputs["logOpts"] = {**inputs["logOpts"], "gelf-address": gelf_address}
            self.api.start(self.lab.harness.create_container(inputs))
        self._replace({name: self.declared[name] for name in self.replaced})
        self.lab.harness.wait_healthy({name: {} for name in self.replicas}, timeout=60)

    def restore(self) -> None:
        for name in self.replicas:
            with contextlib.suppress(docker.errors.NotFound):
                self.api.remove_container(name, force=True)
        self._replace({name: self.lab.containers[name] for name in self.replaced})

    def _replace(self, containers: dict[str, dict]) -> None:
        for name, inputs in containers.items():
            self.api.remove_container(name, force=True)
            self.api.start(self.lab.harness.create_container(inputs))
        self.lab.harness.wait_healthy(containers, timeout=90)

    def query(self, expr: str) -> list[dict]:
        return self.lab.query(expr, timeout=5)


def _values(result: list[dict]) -> list[float]:
    return [float(series["value"][1]) for series in result]


def test_own_service_is_routed_scraped_probed_and_logged(lab, standin_image):
    standin_image(IMAGE)
    own = OwnServiceLab(lab)
    assert own.replicas == [
        f"{lab.project}-{lab.stack}-{NAME}-1",
        f"{lab.project}-{lab.stack}-{NAME}-2",
    ]
    api = lab.url("api")
    with GelfReceiver("tcp", counts=lambda m: m.get(f"_{OWN_SERVICE_FIELD}") == NAME) as gelf:
        own.start(gelf.address)
        try:
            # Routed: under /hello (prefix stripped, so the service sees `/`), not /hellox.
            def greeted() -> bool:
                answer = requests.get(f"{api}/{NAME}/", timeout=3)
                return answer.status_code == 200 and answer.json() == {"service": NAME, "path": "/"}

            wait_until(greeted, timeout=30, interval=0.5, what="the service through Traefik")
            health = requests.get(f"{api}/{NAME}/health", timeout=3)
            assert (health.status_code, health.json()["path"]) == (200, "/health")
            assert requests.get(f"{api}/{NAME}x/", timeout=3).status_code == 404
            # Scraped: both replicas up in the entry's job, the service's own counter read.
            wait_until(
                lambda: _values(own.query(f'up{{job="{NAME}"}}')) == [1.0, 1.0],
                timeout=30,
                interval=1,
                what="both replicas scraped",
            )
            wait_until(
                lambda: sum(_values(own.query(f'hello_requests_total{{job="{NAME}"}}'))) >= 1,
                timeout=30,
                interval=1,
                what="the service's own metric in Prometheus",
            )
            # Probed: the blackbox exporter's call through Traefik succeeds.
            wait_until(
                lambda: _values(own.query(f'probe_success{{part="{NAME}"}}')) == [1.0],
                timeout=30,
                interval=1,
                what="the service's probe",
            )
            # Logged: its lines reach the gelf address with the entry's name.
            wait_until(lambda: gelf.received >= 1, timeout=30, what="a gelf line of the service")
            # Traefik counts it per service: the overview's row reads these series.
            wait_until(
                lambda: _values(
                    own.query(f'traefik_service_requests_total{{service="{NAME}@file"}}')
                ),
                timeout=30,
                interval=1,
                what="Traefik's per-service metrics of the service",
            )
        finally:
            own.restore()
