"""A user's own service (`lab:services`, stack/user_services.py) in the lab: the function
replicas' components (the same containers or Swarm service, network, hardening and log
shipping) with the entry's image, port, environment, memory and row of stack/hardening.py.

Its logs carry the label `lab.service` (the entry's name), which the gelf driver adds to each
message and Logstash turns into `service.name` (stack/configs/logstash_conf.py), whatever the
service itself writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_docker as docker

from stack.containers import env_list, remote_image
from stack.function_service import FunctionService, FunctionServiceArgs
from stack.network import edge_networks
from stack.swarm import SwarmFunctionService
from stack.swarm_objects import gelf_driver, part_service, service_name, start_first
from stack.user_services import UserService

# The container label (and gelf extra field) that names a user's service.
SERVICE_LABEL = "lab.service"


@dataclass(kw_only=True)
class ServiceReplicasArgs(FunctionServiceArgs):
    entry: UserService

    @classmethod
    def for_entry(cls, placement, entry: UserService, **own) -> ServiceReplicasArgs:
        return cls(
            placement=placement,
            function=entry.name,
            image=entry.image,
            replicas=entry.replicas,
            memory_mb=entry.memory_mb,
            entry=entry,
            **own,
        )


def gelf_options() -> dict[str, str]:
    """Docker's gelf driver adds each listed label as an extra field (`_lab.service`)."""
    return {"labels": SERVICE_LABEL}


class ServiceReplicas(FunctionService):
    """`replicas` containers of the entry's image, `{name}-{i}` on the lab network."""

    def declare(self, name: str, args: ServiceReplicasArgs) -> dict:
        self.PORT, self.entry = args.entry.port, args.entry
        # Pulled by reference (kept on `down`), as the lab's upstream parts are.
        self.image_id = remote_image(self, name, args.entry.image).image_id
        return super().declare(name, args)

    def replica_arguments(self, args: ServiceReplicasArgs) -> dict:
        # No Docker health check: the image may hold no shell or HTTP client to run one;
        # Traefik's health check and the blackbox probe ask the entry's `health` path.
        return {
            "image": self.image_id,
            "row": args.entry.row,
            "extra_labels": {SERVICE_LABEL: args.entry.name},
            "envs": env_list(args.entry.env) or None,
            "log_opts": gelf_options(),
        }


class SwarmServiceReplicas(SwarmFunctionService):
    """The entry's tasks, spread over the nodes, found by DNS like a function's."""

    def declare(self, name: str, args: ServiceReplicasArgs) -> dict:
        self.entry = entry = args.entry
        self.function, self.port = entry.name, entry.port
        self.docker_name = service_name(args.placement, entry.name)
        driver = gelf_driver(args.gelf_address, f"{{{{.Name}}}}/{entry.name}")
        if driver is not None:
            driver = docker.ServiceTaskSpecLogDriverArgs(
                name=driver.name, options={**driver.options, **gelf_options()}
            )
        self.service = part_service(
            self,
            name,
            args,
            entry.name,
            row=entry.row,
            spread=True,
            replicas=entry.replicas,
            update_config=start_first(),
            task_labels={SERVICE_LABEL: entry.name},
            env=dict(entry.env) or None,
            log_driver=driver,
            networks_advanceds=edge_networks(args.placement, entry.name),
        )
        return {"service": self.docker_name}

    def backend_urls(self) -> list[str]:
        return [f"http://{self.docker_name}:{self.port}"]

    def scrape_targets(self) -> list[str]:
        return [f"tasks.{self.docker_name}:{self.port}"]
