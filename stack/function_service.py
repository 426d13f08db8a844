"""One function service: N hardened replicas of the app image, reachable as `{function}-{i}`."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from app.contract import APP_PORT, HEALTH_PATH
from stack.component import LabComponent
from stack.containers import PartArgs, env_list, healthcheck, part_container
from stack.log_shipping import gelf_logging
from stack.settings import LabSettings

# The app image has Python but neither curl nor wget.
HEALTH_PROBE = (
    "python",
    "-c",
    "import urllib.request; "
    f"urllib.request.urlopen('http://127.0.0.1:{APP_PORT}{HEALTH_PATH}', timeout=2)",
)


@dataclass(kw_only=True)
class FunctionServiceArgs(PartArgs):
    function: str
    image: pulumi.Input[str]  # the app image built by stack/app_image.py
    replicas: int = LabSettings.replicas
    # With the logs part on: the host-side GELF address of Logstash (`udp://127.0.0.1:12201`);
    # the Docker daemon, not the container, sends there.
    gelf_address: str | None = None


def environment(function: str) -> dict[str, str]:
    """What a replica serves and where it listens (app/server.py reads these)."""
    return {"LAB_FUNCTION": function, "LAB_HOST": "0.0.0.0", "LAB_PORT": str(APP_PORT)}


def replica_alias(function: str, index: int) -> str:
    return f"{function}-{index}"


class FunctionService(LabComponent):
    aliases: list[str]
    containers: list[docker.Container]

    def declare(self, name: str, args: FunctionServiceArgs) -> dict:
        if args.replicas < 1:
            raise ValueError(f"{args.function}: replicas must be at least 1, not {args.replicas}")
        self.aliases = [replica_alias(args.function, i) for i in range(1, args.replicas + 1)]
        self.containers = []
        for alias in self.aliases:
            labels = args.placement.container_labels(alias)
            labels.append(docker.ContainerLabelArgs(label="lab.function", value=args.function))
            logging = {}
            if args.gelf_address:
                logging = gelf_logging(args.gelf_address, f"{{{{.Name}}}}/{args.function}")
            container = part_container(
                self,
                name,
                args,
                alias,
                row="function",
                resource_name=f"{name}-{alias}",
                image=args.image,
                labels=labels,
                networks_advanced=args.placement.edge_attachment(alias),
                envs=env_list(environment(args.function)),
                health=healthcheck(HEALTH_PROBE),
                **logging,
            )
            self.containers.append(container)
        return {
            "function": args.function,
            "aliases": self.aliases,
            "container_names": [c.name for c in self.containers],
        }

    def backend_urls(self) -> list[str]:
        return [f"http://{alias}:{APP_PORT}" for alias in self.aliases]

    def scrape_targets(self) -> list[str]:
        return [f"{alias}:{APP_PORT}" for alias in self.aliases]
