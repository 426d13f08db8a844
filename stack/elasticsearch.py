"""Elasticsearch: one node holding the lab's logs, on a named volume, 127.0.0.1:9200.

Security is on, as Elasticsearch 8 itself defaults: every request needs a login. The `elastic`
superuser's password is a generated Pulumi secret that reaches the container only as a 0400 file
owned by uid 1000 (`ELASTIC_PASSWORD_FILE`, docs/product-rules.md E2); the security setup step
(stack/elasticsearch_setup.py) then gives every other login its own user and role. One node
has no transport peer (discovery.type=single-node), so its transport port (9300) is bound to the
node's own loopback (`transport.host: _local_`), where no other container reaches it: without
transport TLS, whoever speaks to that port can claim any user (issue 22; docs/security.md).
The HTTP port is published on the bind address only, so on one host HTTP stays plain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from dashboards import alert_events
from stack import elasticsearch_tls as es_tls
from stack.configs import elasticsearch_security as es_security
from stack.configs import elasticsearch_template, logstash_alerts
from stack.containers import (
    PartComponent,
    PublishingArgs,
    curl_login,
    env_list,
    secret_upload,
    slow_start_healthcheck,
)
from stack.elasticsearch_setup import ElasticsearchSecurity
from stack.settings import ELASTICSEARCH_PORT, LabSettings

DATA_DIR = "/usr/share/elasticsearch/data"
ELASTIC_USER = "elastic"
PASSWORD_FILE = "/run/secrets/elastic-password"
# curl's config file (`-K`) with the health check's login (es_security.HEALTH_USER, a
# monitoring user of the file realm, never `elastic`), so the health check's command line and
# environment never hold the password.
CURL_CONFIG_FILE = "/run/secrets/elasticsearch-health-curlrc"
ES_UID = "1000"  # the image's user (Elasticsearch's Dockerfile); gid 0


@dataclass(kw_only=True)
class ElasticsearchArgs(PublishingArgs):
    heap: str = LabSettings.elasticsearch_heap
    log_retention: str = LabSettings.log_retention
    elastic_password: pulumi.Input[str]
    kibana_system_password: pulumi.Input[str]
    # User name (es_security.USERS) -> its generated password.
    user_passwords: Mapping[str, pulumi.Input[str]]
    # lab:passwordHashSalt: the file realm's bcrypt salt (the health check's user).
    hash_salt: pulumi.Input[str]


HEALTH_COMMAND = (
    "curl",
    "-fsS",
    "-K",
    CURL_CONFIG_FILE,
    f"http://localhost:{ELASTICSEARCH_PORT}/_cluster/health?wait_for_status=yellow&timeout=2s",
)


def health_command(*, tls: bool = False) -> tuple[str, ...]:
    """HEALTH_COMMAND; with `tls` (Swarm), over HTTPS, verifying the node with the lab's CA
    (stack/elasticsearch_tls.py: the certificate names `localhost`)."""
    if not tls:
        return HEALTH_COMMAND
    *start, url = HEALTH_COMMAND
    return (*start, "--cacert", es_tls.SERVER_CA_FILE, url.replace("http://", "https://", 1))


def environment(args: ElasticsearchArgs) -> dict[str, str]:
    """The node's settings, on one host or on Swarm."""
    return {
        "cluster.name": "lab",
        "node.name": "elasticsearch",
        "discovery.type": "single-node",
        "xpack.security.enabled": "true",
        # HTTP stays plain on the bind address; one node has no transport peer.
        "xpack.security.http.ssl.enabled": "false",
        "xpack.security.transport.ssl.enabled": "false",
        # ...so the transport listens on loopback only: the image's network.host (0.0.0.0)
        # would open it to the lab network (tests/rules/test_elasticsearch_transport.py).
        "transport.host": "_local_",
        "ELASTIC_PASSWORD_FILE": PASSWORD_FILE,
        "xpack.ml.enabled": "false",
        "ingest.geoip.downloader.enabled": "false",
        # Disk watermarks stay on at their defaults (85/90/95%): past the flood stage
        # Elasticsearch makes the lab's indices read-only instead of filling the disk.
        "ES_JAVA_OPTS": f"-Xms{args.heap} -Xmx{args.heap}",
    }


def password_files(args: ElasticsearchArgs) -> dict[str, pulumi.Output[str]]:
    """elastic's password, for the image's entrypoint; the health check's user in the file
    realm (its hash and role) and its curl config, with the monitoring user's password."""
    password = pulumi.Output.from_input(args.elastic_password)
    monitor = pulumi.Output.from_input(args.user_passwords[es_security.MONITOR_USER])
    realm = pulumi.Output.all(monitor, args.hash_salt).apply(
        lambda values: es_security.file_realm(*values)
    )
    files = {
        PASSWORD_FILE: password,
        CURL_CONFIG_FILE: monitor.apply(lambda secret: curl_login(es_security.HEALTH_USER, secret)),
    }
    for path in (
        es_security.FILE_REALM_USERS,
        es_security.FILE_REALM_USERS_ROLES,
        es_security.FILE_ROLES,
    ):
        files[path] = realm.apply(lambda texts, path=path: texts[path])
    return files


class Elasticsearch(PartComponent):
    PART = "elasticsearch"
    ca_certificate = None  # plain HTTP on one host (docs/security.md); the CA on Swarm

    def container_arguments(self, args: ElasticsearchArgs) -> dict:
        return dict(
            data_dir=DATA_DIR,
            envs=env_list(environment(args)),
            uploads=[
                secret_upload(path, text, owner=ES_UID)
                for path, text in password_files(args).items()
            ],
            ulimits=[docker.ContainerUlimitArgs(name="nofile", soft=65535, hard=65535)],
            ports=[args.placement.publish(ELASTICSEARCH_PORT, args.port)],
            health=slow_start_healthcheck(HEALTH_COMMAND),
            # Logstash and Kibana depend on this container: they start once it is healthy.
            wait_timeout=300,
        )

    def outputs(self, name: str, args: ElasticsearchArgs) -> dict:
        self.internal_url = f"http://elasticsearch:{ELASTICSEARCH_PORT}"
        self.url = args.placement.url(args.port)
        secure(self, name, args)
        return {"url": self.url, "internal_url": self.internal_url}


def index_templates() -> dict[str, dict]:
    """The composable templates of the lab's indices (logs and alerts), by name, which the setup
    step puts as `elastic`: Logstash's writer has no `manage_index_templates`."""
    return {
        elasticsearch_template.NAME: elasticsearch_template.template(),
        alert_events.TEMPLATE_NAME: logstash_alerts.template(),
    }


def secure(part: pulumi.ComponentResource, name: str, args: ElasticsearchArgs) -> None:
    """Every other login's user, role and password, and the retention policy, set as
    `elastic` once the node (`part.container`) answers at `part.url`, where Pulumi runs; what
    signs in to it waits for `part.ready`, not the container alone. On one host or on Swarm."""
    part.security = ElasticsearchSecurity(
        f"{name}-security",
        elasticsearch_url=part.url,
        elastic_password=args.elastic_password,
        kibana_system_password=args.kibana_system_password,
        passwords=dict(args.user_passwords),
        trigger=part.container.id,
        ca_certificate=getattr(part, "ca_certificate", None),
        index_templates=index_templates(),
        **es_security.setup_inputs(args.log_retention),
        opts=pulumi.ResourceOptions(parent=part, depends_on=[part.container]),
    )
    part.ready = [part.container, part.security]
    # The read-only monitoring login the exporter uses.
    part.monitor_user = es_security.MONITOR_USER
    part.monitor_password = args.user_passwords[es_security.MONITOR_USER]
