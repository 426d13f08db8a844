"""The observability lab, declared for Pulumi (pulumi-docker) on the local Docker daemon.

Deploys, on two bridge networks (stack/network.py: the edge for the request path, the backend
for the stores, UIs and monitoring):
- the function services (fibonacci, factorial, ackermann), `lab:replicas` replicas each,
  built from app/;
- Traefik routing /{function}/ to them (and /grafana, /kibana to the UIs);
- with `lab:metrics`: Prometheus (and with `lab:grafana`: Grafana, provisioned from dashboards/);
- with `lab:logs`: Elasticsearch, Logstash (GELF from Docker's log driver), Kibana and its
  imported saved objects.

This module reads the `lab:` config once (stack/settings.py) and wires one component per part.
"""

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from app.contract import FUNCTIONS
from dashboards import grafana_overview, kibana_objects, prometheus_rules
from stack import alert_receivers, monitoring, swarm
from stack import settings as lab_settings
from stack import settings_grammar as grammar
from stack.app_image import AppImage, AppImageArgs
from stack.configs import alertmanager_yaml, kibana_yml, logstash_api, prometheus_yaml, web_config
from stack.configs import elasticsearch_security as es_security
from stack.configs import elasticsearch_tls as tls_facts
from stack.configs import secret_policies as policies
from stack.configs.alertmanager_yaml import PORT as ALERTMANAGER_PORT
from stack.containers import Placement
from stack.elasticsearch import Elasticsearch, ElasticsearchArgs
from stack.function_service import FunctionService, FunctionServiceArgs
from stack.grafana import Grafana, GrafanaArgs
from stack.kibana import Kibana, KibanaArgs
from stack.logstash import Logstash, LogstashArgs
from stack.network import LabNetwork, LabNetworkArgs
from stack.prometheus import Prometheus, PrometheusArgs
from stack.service_replicas import ServiceReplicas, ServiceReplicasArgs
from stack.settings import GRAFANA_PORT, KIBANA_PORT, PROMETHEUS_PORT
from stack.traefik import Traefik, TraefikArgs


def read_settings() -> lab_settings.LabSettings:
    """Every `lab:` key the engine passes (so a mistyped one is refused, not ignored)."""
    config = {**get_config_env(), **CONFIG.get()}
    try:
        found = lab_settings.from_pulumi_config(config)
    except lab_settings.SettingsError as error:
        # Raised before the first resource: an invalid config deploys nothing.
        raise pulumi.RunError(str(error)) from None
    refusal = policies.check(config)  # a hand-set password its product would refuse
    if refusal:
        raise pulumi.RunError(refusal)
    return found


settings = read_settings()
# Elasticsearch and Kibana serve HTTPS with the lab's CA on Swarm (issue 22; docs/security.md).
https = tls_facts.enabled(settings)


def secret(key: str) -> pulumi.Output[str]:
    """A generated password (stack/settings_tables.SECRETS), as the Pulumi secret it is."""
    return pulumi.Config(lab_settings.NAMESPACE).require_secret(key)


def receiver_secrets() -> dict[str, pulumi.Output[str]]:
    """Each lab:alertReceivers secret (`lab:alertReceiverSecrets.<name>`), as a Pulumi secret;
    one missing is refused before the first resource, naming it."""
    needed = [r.name for r in settings.alert_receivers if r.secret_file]
    if not needed:
        return {}
    key = f"{lab_settings.NAMESPACE}:{alert_receivers.SECRETS_KEY}"
    raw = {**get_config_env(), **CONFIG.get()}.get(key)
    present = grammar.from_engine(raw) if raw else {}
    missing = [name for name in needed if name not in (present or {})]
    if missing:
        raise pulumi.RunError(
            f"lab:alertReceivers {missing} need their secret: "
            f"pulumi config set --secret --path '{key}.<name>' <URL or password>"
        )
    values = pulumi.Config(lab_settings.NAMESPACE).require_secret_object(
        alert_receivers.SECRETS_KEY
    )
    return {name: values.apply(lambda v, n=name: v[n]) for name in needed}


alert_receiver_secrets = receiver_secrets()  # before the first resource: a missing one refuses


if settings.engine == "swarm":
    # The same parts with the same Args, declared as Swarm services (stack/swarm*.py).
    from functools import partial

    from stack import elasticsearch_tls, swarm_monitoring, swarm_state

    LabNetwork, FunctionService = swarm.SwarmLabNetwork, swarm.SwarmFunctionService
    Traefik, Prometheus = swarm.SwarmTraefik, swarm.SwarmPrometheus
    Grafana = swarm_state.SwarmGrafana
    from stack.service_replicas import SwarmServiceReplicas as ServiceReplicas

    # The state node's address: the gelf driver's target, the security step's and the import's.
    at_state_node = partial(partial, state_host=settings.swarm_state_host)
    # Elasticsearch's HTTPS, with the CA and certificate make up generated (issue 22).
    tls = None
    if https:
        tls = elasticsearch_tls.ElasticsearchTls(
            ca_certificate=secret(elasticsearch_tls.CA_CERTIFICATE_SECRET),
            certificate=secret(elasticsearch_tls.CERTIFICATE_SECRET),
            key=secret(elasticsearch_tls.KEY_SECRET),
        )
    Elasticsearch = partial(at_state_node(swarm_state.SwarmElasticsearch), tls=tls)
    Logstash = at_state_node(swarm_state.SwarmLogstash)
    kibana_tls = None
    if https:  # Kibana's own port over HTTPS, from the same CA
        kibana_tls = (
            secret(elasticsearch_tls.KIBANA_CERTIFICATE_SECRET),
            secret(elasticsearch_tls.KIBANA_KEY_SECRET),
        )
    Kibana = partial(at_state_node(swarm_state.SwarmKibana), tls=kibana_tls)
    monitoring = swarm_monitoring  # the same declare(), with the Swarm classes
urls = settings.urls()
parts = settings.parts()
discovery = "dns" if settings.engine == "swarm" else "static"  # how Prometheus finds replicas
# The rules and dashboard rows that read an optional exporter's metrics follow its part.
measured = {"probes": "blackbox" in parts, "log_delivery": "elasticsearch_exporter" in parts}
project, stack_name = pulumi.get_project(), pulumi.get_stack()
name = f"{project}-{stack_name}"

network = LabNetwork(
    name,
    LabNetworkArgs(
        docker_name=f"{name}-network",
        labels={"lab.project": project, "lab.stack": stack_name, "lab.part": "network"},
        encrypted=settings.swarm_encryption,
    ),
)
placement = Placement(
    project=project,
    stack=stack_name,
    network_name=network.name,
    edge_network_name=network.edge_name,
    network_id=network.network_id,
    edge_network_id=network.edge_network_id,
    bind_address=settings.bind_address,
    client_host=settings.client_host,
)
app_image = AppImage(
    f"{name}-app", AppImageArgs(repository=f"{name}-app", base_image=settings.images["python"])
)

# Logs first: the function replicas start once Logstash listens, so no start-up line is lost.
logstash = elasticsearch = None
if settings.logs:
    elasticsearch = Elasticsearch(
        f"{name}-elasticsearch",
        ElasticsearchArgs.for_part(
            placement,
            settings,
            "elasticsearch",
            heap=settings.elasticsearch_heap,
            log_retention=settings.log_retention,
            elastic_password=secret(es_security.ELASTIC_SECRET),
            kibana_system_password=secret(es_security.KIBANA_SYSTEM_SECRET),
            user_passwords={user.name: secret(user.secret) for user in es_security.USERS},
            hash_salt=secret("passwordHashSalt"),
        ),
    )
    logstash = Logstash(
        f"{name}-logstash",
        LogstashArgs.for_part(
            placement,
            settings,
            "logstash",
            elasticsearch_url=elasticsearch.internal_url,
            heap=settings.logstash_heap,
            gelf_port=settings.ports["gelf"],
            alerts=settings.metrics and settings.alerting,
            writer_password=secret(es_security.USERS_BY_NAME["lab_logstash_writer"].secret),
            elasticsearch_ca=elasticsearch.ca_certificate,
            webhook_password=secret(alertmanager_yaml.WEBHOOK_SECRET),
            api_password=secret(logstash_api.SECRET),
            depends_on=elasticsearch.ready,
        ),
    )
    Kibana(
        f"{name}-kibana",
        KibanaArgs.for_part(
            placement,
            settings,
            "kibana",
            elasticsearch_url=elasticsearch.internal_url,
            saved_objects=kibana_objects.render(
                slow_call_ms=settings.slow_call_ms, grafana_url=urls["grafana_url"]
            ),
            public_url=urls["kibana_url"],
            kibana_system_password=secret(es_security.KIBANA_SYSTEM_SECRET),
            importer_password=secret(es_security.USERS_BY_NAME["lab_kibana_importer"].secret),
            elasticsearch_ca=elasticsearch.ca_certificate,
            encryption_keys={
                setting: secret(key) for setting, key in kibana_yml.ENCRYPTION_KEYS.items()
            },
            depends_on=elasticsearch.ready,
        ),
    )

services = {
    function: FunctionService(
        f"{name}-{function}",
        FunctionServiceArgs(
            placement=placement,
            function=function,
            image=app_image.image_name,
            replicas=settings.replicas,
            memory_mb=settings.memory_mb["function"],
            gelf_address=logstash.gelf_address if logstash else None,
            depends_on=[logstash.container] if logstash else [],
        ),
    )
    for function in FUNCTIONS
}

# lab:services: the person's own services, attached and shipped as the function replicas are.
own_services = [
    ServiceReplicas(
        f"{name}-{entry.name}",
        ServiceReplicasArgs.for_entry(
            placement,
            entry,
            gelf_address=logstash.gelf_address if logstash else None,
            depends_on=[logstash.container] if logstash else [],
        ),
    )
    for entry in settings.services
]

Traefik(
    f"{name}-traefik",
    TraefikArgs.for_part(
        placement,
        settings,
        "traefik",
        backends={function: service.backend_urls() for function, service in services.items()},
        api_port=settings.ports["api"],
        dashboard_port=settings.ports["traefik"],
        grafana_url=f"http://grafana:{GRAFANA_PORT}" if settings.grafana_on else None,
        kibana_url=(
            f"{'https' if https else 'http'}://kibana:{KIBANA_PORT}" if settings.logs else None
        ),
        kibana_ca=elasticsearch.ca_certificate if https else None,
        # "traefik": the blackbox probes call the functions by Traefik's name on the network.
        hosts=[
            settings.client_host,
            *(["traefik"] if settings.metrics and settings.probes else []),
        ],
        gelf_address=logstash.gelf_address if logstash else None,
        own_services=[(s.entry, s.backend_urls()) for s in own_services],
        admin_password=secret("traefikAdminPassword"),
        hash_salt=secret("passwordHashSalt"),
        prometheus_url=f"http://prometheus:{PROMETHEUS_PORT}" if settings.metrics else None,
        # Alertmanager serves under /alertmanager itself; Prometheus at / (the route strips).
        alertmanager_url=f"http://alertmanager:{ALERTMANAGER_PORT}"
        if settings.metrics and settings.alerting
        else None,
    ),
)

if settings.metrics:
    # Prometheus' and Alertmanager's own login (stack/configs/web_config.py): the person's
    # (Traefik's admin password, passed through by Traefik) and the lab's clients'.
    web_login = {
        "admin_password": secret("traefikAdminPassword"),
        "monitoring_password": secret(web_config.MONITORING_SECRET),
        "hash_salt": secret("passwordHashSalt"),
    }
    # Alertmanager, probes and node-exporter (stack/monitoring.py, stack/swarm_monitoring.py).
    watch = monitoring.declare(
        name,
        placement,
        settings,
        webhook_url=logstash.alerts_webhook_url if logstash else None,
        alertmanager_public_url=urls["alertmanager_url"],
        elasticsearch=elasticsearch,
        logstash=logstash,
        app_image=app_image.image_name,
        receiver_secrets=alert_receiver_secrets,
        web_login=web_login,
        webhook_password=secret(alertmanager_yaml.WEBHOOK_SECRET) if logstash else None,
    )
    prometheus = Prometheus(
        f"{name}-prometheus",
        PrometheusArgs.for_part(
            placement,
            settings,
            "prometheus",
            function_targets={f: service.scrape_targets() for f, service in services.items()},
            rules=prometheus_rules.render(
                FUNCTIONS,
                durations=settings.alert_for,
                **measured,
            ),
            retention=settings.prometheus_retention,
            retention_size=settings.prometheus_retention_size,
            lifecycle=settings.lifecycle,
            public_url=settings.url("api", "/prometheus/"),
            alertmanager_url=watch.alertmanager_url,
            extra_jobs=[
                *watch.extra_jobs,
                *(
                    prometheus_yaml.service_job(
                        s.entry.name, s.entry.metrics_path, s.scrape_targets(), discovery
                    )
                    for s in own_services
                    if s.entry.metrics_path
                ),
            ],
            publish=settings.publish_monitoring_ports,
            **web_login,
        ),
    )
    if settings.grafana_on:
        Grafana(
            f"{name}-grafana",
            GrafanaArgs.for_part(
                placement,
                settings,
                "grafana",
                admin_password=secret("grafanaAdminPassword"),
                secret_key=secret("grafanaSecretKey"),
                monitoring_password=web_login["monitoring_password"],
                dashboards={
                    grafana_overview.UID: grafana_overview.build(
                        FUNCTIONS,
                        kibana_url=urls["kibana_url"],
                        host="node_exporter" in parts,
                        services=[entry.name for entry in settings.services],
                        **measured,
                    )
                },
                public_url=urls["grafana_url"],
                alertmanager_url=watch.alertmanager_url,
                kibana_url=urls["kibana_url"],
                depends_on=[prometheus.container],
            ),
        )

for output, url in urls.items():
    pulumi.export(output, url)
