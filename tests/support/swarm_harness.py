"""Applies the Swarm resources the program declares (`lab:engine: swarm`, captured under mocks)
to a swarm manager with the Docker SDK: overlay networks, configs, secrets, services; and removes
them.

Test code, like tests/support/harness.py for containers: the inputs are pulumi-docker's (camelCase,
as the provider sees them) and become the Engine API's service spec here. Images are given by
reference; the app image the program builds is replaced by `app_image`, loaded on every node.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import docker

from tests.support.declared import Declared

NETWORK = "docker:index/network:Network"
CONFIG = "docker:index/serviceConfig:ServiceConfig"
SECRET = "docker:index/secret:Secret"
SERVICE = "docker:index/service:Service"
IMAGE = "docker:index/image:Image"
HARNESS_LABEL = "lab.swarm-harness"
SWARM_SERVICE = "com.docker.swarm.service.name"  # on every task's container
_UNITS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_DURATION = re.compile(r"([0-9.]+)(ns|us|ms|s|m|h)")


def nanoseconds(duration: str) -> int:
    """`"2s"`, `"1m30s"` -> nanoseconds, as the Engine API wants durations."""
    total = 0
    for number, unit in _DURATION.findall(duration):
        total += int(float(number) * _UNITS[unit])
    return total


def _labels(pairs: list | None, run_id: str) -> dict[str, str]:
    return {**{p["label"]: p["value"] for p in pairs or []}, HARNESS_LABEL: run_id}


def container_spec(
    spec: Mapping,
    images: Mapping[str, str],
    config_ids: Mapping[str, str],
    secret_ids: Mapping[str, str] | None = None,
):
    image = images.get(spec["image"], spec["image"])
    result: dict = {
        "Image": image,
        "Labels": {p["label"]: p["value"] for p in spec.get("labels", [])},
    }
    for key, api in (
        ("commands", "Command"),
        ("args", "Args"),
        ("user", "User"),
        ("hostname", "Hostname"),
    ):
        if spec.get(key):
            result[api] = spec[key]
    if spec.get("env"):
        result["Env"] = [f"{k}={v}" for k, v in spec["env"].items()]
    if spec.get("readOnly"):
        result["ReadOnly"] = True
    if spec.get("capDrops"):
        result["CapabilityDrop"] = spec["capDrops"]
    if spec.get("stopGracePeriod"):
        # SIGTERM -> SIGKILL when Swarm stops the task (an update, a drain, a removal).
        result["StopGracePeriod"] = nanoseconds(spec["stopGracePeriod"])
    if spec.get("healthcheck"):
        check = spec["healthcheck"]
        result["Healthcheck"] = {
            "Test": check["tests"],
            "Interval": nanoseconds(check["interval"]),
            "Timeout": nanoseconds(check["timeout"]),
            "Retries": int(check["retries"]),
            "StartPeriod": nanoseconds(check["startPeriod"]),
        }
    result["Mounts"] = [_mount(m) for m in spec.get("mounts", [])]
    result["Configs"] = [_file(c, "Config", config_ids) for c in spec.get("configs", [])]
    result["Secrets"] = [_file(s, "Secret", secret_ids or {}) for s in spec.get("secrets", [])]
    return result


def _file(reference: Mapping, kind: str, ids: Mapping[str, str]) -> dict:
    """A config or secret (`kind`) the task reads as a file: the Engine API's ConfigReference
    or SecretReference."""
    name = reference[f"{kind.lower()}Name"]
    return {
        "File": {
            "Name": reference["fileName"],
            "UID": reference["fileUid"],
            "GID": reference["fileGid"],
            "Mode": int(reference["fileMode"]),
        },
        f"{kind}ID": ids[name],
        f"{kind}Name": name,
    }


def _mount(mount: Mapping) -> dict:
    result = {"Target": mount["target"], "Type": mount["type"]}
    if mount.get("source"):
        result["Source"] = mount["source"]
    if mount.get("readOnly"):
        result["ReadOnly"] = True
    if mount.get("volumeOptions"):
        labels = mount["volumeOptions"].get("labels", [])
        result["VolumeOptions"] = {"Labels": {p["label"]: p["value"] for p in labels}}
    if mount.get("tmpfsOptions"):
        result["TmpfsOptions"] = {"SizeBytes": int(mount["tmpfsOptions"]["sizeBytes"])}
    return result


def task_template(task: Mapping, images, config_ids, secret_ids=None) -> dict:
    result: dict = {
        "ContainerSpec": container_spec(task["containerSpec"], images, config_ids, secret_ids or {})
    }
    placement = task.get("placement") or {}
    result["Placement"] = {
        "Constraints": placement.get("constraints", []),
        "Preferences": [
            {"Spread": {"SpreadDescriptor": pref.split("=", 1)[1]}}
            for pref in placement.get("prefs", [])
        ],
    }
    if task.get("resources"):
        limits = task["resources"].get("limits", {})
        reservation = task["resources"].get("reservation", {})
        result["Resources"] = {
            "Limits": {"MemoryBytes": int(limits.get("memoryBytes", 0))},
            "Reservations": {"MemoryBytes": int(reservation.get("memoryBytes", 0))},
        }
    if task.get("restartPolicy"):
        policy = task["restartPolicy"]
        result["RestartPolicy"] = {
            "Condition": policy["condition"],
            "Delay": nanoseconds(policy.get("delay", "0s")),
            "Window": nanoseconds(policy.get("window", "0s")),
        }
    result["Networks"] = [
        {"Target": n["name"], "Aliases": n.get("aliases", [])}
        for n in task.get("networksAdvanceds", [])
    ]
    if task.get("logDriver"):
        result["LogDriver"] = {
            "Name": task["logDriver"]["name"],
            "Options": task["logDriver"].get("options", {}),
        }
    return result


def service_spec(inputs: Mapping, images, config_ids, run_id: str, secret_ids=None) -> dict:
    """The Engine API's ServiceSpec for one declared `docker.Service`."""
    mode = inputs.get("mode") or {}
    replicas = int((mode.get("replicated") or {}).get("replicas", 1))
    spec = {
        "Name": inputs["name"],
        "Labels": _labels(inputs.get("labels"), run_id),
        "TaskTemplate": task_template(inputs["taskSpec"], images, config_ids, secret_ids),
        # One task per node for a global service (node-exporter).
        "Mode": {"Global": {}} if mode.get("global") else {"Replicated": {"Replicas": replicas}},
    }
    if inputs.get("updateConfig"):
        update = inputs["updateConfig"]
        spec["UpdateConfig"] = {
            "Parallelism": int(update.get("parallelism", 1)),
            "Delay": nanoseconds(update.get("delay", "0s")),
            "FailureAction": update.get("failureAction", "pause"),
            "Monitor": nanoseconds(update.get("monitor", "5s")),
            "Order": update.get("order", "stop-first"),
        }
    endpoint = inputs.get("endpointSpec") or {}
    spec["EndpointSpec"] = {
        "Mode": endpoint.get("mode", "vip"),
        "Ports": [
            {
                "TargetPort": int(p["targetPort"]),
                "PublishedPort": int(p["publishedPort"]),
                "PublishMode": p.get("publishMode", "ingress"),
                "Protocol": p.get("protocol", "tcp"),
            }
            for p in endpoint.get("ports", [])
        ],
    }
    return spec


@dataclass
class SwarmHarness:
    """Creates what the program declares on a manager; `teardown()` removes it again."""

    manager: docker.DockerClient
    images: Mapping[str, str]
    run_id: str = "swarm-lab"
    services: dict[str, str] = field(default_factory=dict)
    configs: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    networks: list[str] = field(default_factory=list)

    def apply(self, resources: list[Declared]) -> dict[str, str]:
        """Networks, then configs and secrets, then services (each references the ones
        before); `apply` can be called again with more services."""
        for resource in (r for r in resources if r.type == NETWORK):
            inputs = resource.inputs
            self.manager.networks.create(
                inputs["name"],
                driver=inputs["driver"],
                attachable=bool(inputs.get("attachable")),
                options=inputs.get("options"),
                labels=_labels(inputs.get("labels"), self.run_id),
            )
            self.networks.append(inputs["name"])
        for resource in (r for r in resources if r.type == CONFIG):
            inputs = resource.inputs
            config = self.manager.configs.create(
                name=inputs["name"],
                data=inputs["dataRaw"].encode(),
                labels=_labels(inputs.get("labels"), self.run_id),
            )
            self.configs[inputs["name"]] = config.id
        for resource in (r for r in resources if r.type == SECRET):
            inputs = resource.inputs
            # The provider sends base64 (terraform-provider-docker resource_docker_secret.go);
            # the SDK encodes the bytes itself.
            secret = self.manager.secrets.create(
                name=inputs["name"],
                data=base64.b64decode(inputs["data"]),
                labels=_labels(inputs.get("labels"), self.run_id),
            )
            self.secrets[inputs["name"]] = secret.id
        for resource in (r for r in resources if r.type == SERVICE):
            self.create_service(resource.inputs)
        return self.services

    def create_service(self, inputs: Mapping) -> str:
        spec = service_spec(inputs, self.images, self.configs, self.run_id, self.secrets)
        created = self.manager.api.create_service(
            spec["TaskTemplate"],
            name=spec["Name"],
            labels=spec["Labels"],
            mode=spec["Mode"],
            update_config=spec.get("UpdateConfig"),
            endpoint_spec=spec["EndpointSpec"],
        )
        self.services[spec["Name"]] = created["ID"]
        return created["ID"]

    def teardown(
        self, node_clients: list[docker.DockerClient] = (), volume_label: str = ""
    ) -> list[str]:
        """Services, then configs and networks; volumes the tasks created on any node."""
        removed = []
        label = f"{HARNESS_LABEL}={self.run_id}"
        for service in self.manager.services.list(filters={"label": label}):
            service.remove()
            removed.append(f"service {service.name}")
        for config in self.manager.configs.list(filters={"label": label}):
            _retry(config.remove)
            removed.append(f"config {config.name}")
        for secret in self.manager.secrets.list(filters={"label": label}):
            _retry(secret.remove)
            removed.append(f"secret {secret.name}")
        for network in self.manager.networks.list(filters={"label": label}):
            _retry(network.remove)
            removed.append(f"network {network.name}")
        for client in node_clients if volume_label else ():
            for volume in client.volumes.list(filters={"label": volume_label}):
                _retry(volume.remove)
                removed.append(f"volume {volume.name}")
        return removed

    def leftovers(self, node_clients: list[docker.DockerClient], stack_label: str) -> list[str]:
        """What is still there: services, configs, networks of this run on the manager;
        containers and volumes labelled with the stack on any node."""
        label = f"{HARNESS_LABEL}={self.run_id}"
        left = [f"service {s.name}" for s in self.manager.services.list(filters={"label": label})]
        left += [f"config {c.name}" for c in self.manager.configs.list(filters={"label": label})]
        left += [f"secret {s.name}" for s in self.manager.secrets.list(filters={"label": label})]
        left += [f"network {n.name}" for n in self.manager.networks.list(filters={"label": label})]
        for client in node_clients:
            tasks = client.containers.list(all=True, filters={"label": SWARM_SERVICE})
            left += [
                f"container {c.name}" for c in tasks if c.labels[SWARM_SERVICE] in self.services
            ]
            left += [
                f"volume {v.name}" for v in client.volumes.list(filters={"label": stack_label})
            ]
        return left


def _retry(action, attempts: int = 40, delay: float = 0.5) -> None:
    """Tasks take a moment to stop after their service is removed, and hold what they use."""
    import time

    for attempt in range(attempts):
        try:
            action()
            return
        except docker.errors.APIError:
            if attempt == attempts - 1:
                raise
            time.sleep(delay)
