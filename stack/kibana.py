"""Kibana under /kibana, started once Elasticsearch is healthy, with the lab's saved objects."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from stack import elasticsearch_tls as es_tls
from stack.configs import elasticsearch_security as es_security
from stack.configs import kibana_yml
from stack.containers import PartComponent, PublishingArgs, secret_upload, slow_start_healthcheck
from stack.kibana_import import KibanaSavedObjects
from stack.settings import KIBANA_PORT, KIBANA_SUB_PATH


@dataclass(kw_only=True)
class KibanaArgs(PublishingArgs):
    elasticsearch_url: str
    saved_objects: str  # NDJSON from dashboards.kibana_objects.render
    public_url: str  # through Traefik, e.g. http://127.0.0.1:8000/kibana
    kibana_system_password: pulumi.Input[str]  # Kibana's own login to Elasticsearch
    importer_password: pulumi.Input[str]  # the saved-objects import's login
    # kibana.yml setting -> its key (kibana_yml.ENCRYPTION_KEYS), generated Pulumi secrets.
    encryption_keys: dict[str, pulumi.Input[str]]
    # The lab's CA (PEM) when Elasticsearch serves HTTPS (Swarm: stack/elasticsearch_tls.py).
    elasticsearch_ca: pulumi.Input[str] | None = None


class Kibana(PartComponent):
    PART = "kibana"

    def container_arguments(self, args: KibanaArgs) -> dict:
        # The whole configuration is kibana.yml, 0400 for uid 1000: Kibana's image turns its
        # environment into command-line arguments, where a password would show (kibana_yml.py).
        return dict(
            uploads=[
                secret_upload(kibana_yml.CONFIG_FILE, config(args), owner=kibana_yml.KIBANA_UID),
                *es_tls.ca_uploads(args.elasticsearch_ca, owner=kibana_yml.KIBANA_UID),
            ],
            ports=[args.placement.publish(KIBANA_PORT, args.port)],
            health=slow_start_healthcheck(HEALTH_COMMAND, **HEALTH_TIMING),
            wait_timeout=400,
        )

    def outputs(self, name: str, args: KibanaArgs) -> dict:
        # The import runs from where Pulumi runs, so it uses the published port.
        direct_url = args.placement.url(args.port, KIBANA_SUB_PATH)
        import_objects(self, name, args, direct_url)
        return {"url": self.url, "direct_url": direct_url}


def config(args: KibanaArgs, *, server_tls: bool = False) -> pulumi.Output[str]:
    """kibana.yml with kibana_system's login and the encryption keys (a secret: the whole file
    is one)."""
    return pulumi.Output.all(password=args.kibana_system_password, keys=args.encryption_keys).apply(
        lambda values: kibana_yml.render(
            elasticsearch_url=args.elasticsearch_url,
            password=values["password"],
            base_path=KIBANA_SUB_PATH,
            public_url=args.public_url,
            encryption_keys=values["keys"],
            elasticsearch_ca_file=es_tls.CLIENT_CA_FILE if args.elasticsearch_ca else None,
            server_tls=server_tls,
        )
    )


# /api/status answers without a login (its redacted form), 503 when unavailable; Kibana takes
# its time to start. The same check for the container and for the Swarm service.
HEALTH_COMMAND = ("curl", "-fsS", f"http://localhost:{KIBANA_PORT}{KIBANA_SUB_PATH}/api/status")
HEALTH_TIMING = {"retries": 18, "start_period": "90s"}


def health_command(*, tls: bool = False) -> tuple[str, ...]:
    """HEALTH_COMMAND; with `tls` (Swarm), over HTTPS verified with the lab's CA (the
    certificate names `localhost`)."""
    if not tls:
        return HEALTH_COMMAND
    *start, url = HEALTH_COMMAND
    return (*start, "--cacert", es_tls.CLIENT_CA_FILE, url.replace("http://", "https://", 1))


def import_objects(
    part: pulumi.ComponentResource,
    name: str,
    args: KibanaArgs,
    url: str,
    ca_certificate: pulumi.Input[str] | None = None,
) -> None:
    """The saved objects, imported by the importer user at `url` (Kibana's published port, from
    where Pulumi runs) once `part.container` runs, again whenever it is replaced."""
    part.saved_objects = KibanaSavedObjects(
        f"{name}-saved-objects",
        kibana_url=url,
        ndjson=args.saved_objects,
        trigger=part.container.id,
        username=es_security.KIBANA_IMPORTER_USER,
        password=args.importer_password,
        ca_certificate=ca_certificate,
        opts=pulumi.ResourceOptions(parent=part, depends_on=[part.container]),
    )
    part.url = args.public_url
