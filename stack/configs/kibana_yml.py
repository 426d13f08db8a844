"""`kibana.yml`: Kibana's connection to Elasticsearch as kibana_system and its server settings.

Kibana's image turns known environment variables into command-line arguments (kibana-docker),
so a password there would show in `docker inspect` and in the process list; it has no `_FILE`
form. The whole configuration is therefore this file, uploaded 0400 for the image's user
(uid 1000), and the container gets no Kibana environment at all.
"""

from __future__ import annotations

import re

import yaml

from stack.configs import elasticsearch_tls
from stack.configs.elasticsearch_security import KIBANA_SYSTEM_USER

CONFIG_FILE = "/usr/share/kibana/config/kibana.yml"  # the image's config (it replaces it)
KIBANA_UID = "1000"  # the image's `kibana` user, gid 0

# Kibana's config reader replaces `${NAME}` and `${NAME:default}` in every string value with an
# environment variable and refuses an unknown one (kbn-config src/raw/read_config.ts); there is
# no escape, so a value holding such a reference cannot be written literally.
_ENV_REFERENCE = re.compile(r"\$\{\w+(:[^}]*)?\}")

# Kibana's three encryption keys -> the generated Pulumi secret (lab:<key>) holding each. Unset,
# Kibana makes a random key per start (every session ends on a restart) and keeps alerting
# and connectors off. Each is `schema.string({ minLength: 32 })` (kibana 8.19: security's
# server/config.ts, encrypted_saved_objects' server/config.ts, reporting's config schema).
ENCRYPTION_KEYS = {
    "xpack.security.encryptionKey": "kibanaSecurityEncryptionKey",
    "xpack.encryptedSavedObjects.encryptionKey": "kibanaSavedObjectsEncryptionKey",
    "xpack.reporting.encryptionKey": "kibanaReportingEncryptionKey",
}
KEY_MIN_LENGTH = 32


class KibanaConfigError(ValueError):
    pass


def settings(
    *,
    elasticsearch_url: str,
    password: str,
    base_path: str,
    public_url: str,
    encryption_keys: dict[str, str],
    elasticsearch_ca_file: str | None = None,
    server_tls: bool = False,
) -> dict[str, object]:
    """Every setting the lab gives Kibana, by its kibana.yml name; `encryption_keys` has a
    value for each setting of ENCRYPTION_KEYS; with `elasticsearch_ca_file`, Kibana trusts
    only that CA for Elasticsearch (HTTPS on Swarm)."""
    values = {"kibanaSystemPassword": password}
    values.update({ENCRYPTION_KEYS[name]: key for name, key in encryption_keys.items()})
    for secret, value in values.items():
        if _ENV_REFERENCE.search(value):
            raise KibanaConfigError(
                f"lab:{secret} contains `${{...}}`, which Kibana would read as an "
                "environment variable reference in kibana.yml; choose a value without it"
            )
    if set(encryption_keys) != set(ENCRYPTION_KEYS):
        raise KibanaConfigError(f"Kibana needs each of {sorted(ENCRYPTION_KEYS)}")
    for name, key in encryption_keys.items():
        if len(key) < KEY_MIN_LENGTH:
            raise KibanaConfigError(
                f"lab:{ENCRYPTION_KEYS[name]} ({name}) has {len(key)} characters: Kibana "
                f"wants at least {KEY_MIN_LENGTH}; remove it and `make up` generates one"
            )
    if base_path.endswith("/") or not public_url.rstrip("/").endswith(base_path):
        raise KibanaConfigError(
            f"server.basePath {base_path!r} must not end in / and server.publicBaseUrl "
            f"{public_url!r} must end with it"
        )
    return {
        "server.host": "0.0.0.0",
        "server.name": "kibana",
        "server.basePath": base_path,
        "server.rewriteBasePath": True,
        "server.publicBaseUrl": public_url.rstrip("/"),
        "elasticsearch.hosts": [elasticsearch_url],
        "elasticsearch.username": KIBANA_SYSTEM_USER,
        "elasticsearch.password": password,
        "telemetry.optIn": False,
        "telemetry.enabled": False,
        "newsfeed.enabled": False,
        # The CA's PEM file; verificationMode stays at its default, `full` (certificate and
        # host name: elastic/kibana 8.19 src/core/packages/elasticsearch/server-internal
        # elasticsearch_config.ts, ssl.certificateAuthorities and ssl.verificationMode).
        **(
            {"elasticsearch.ssl.certificateAuthorities": [elasticsearch_ca_file]}
            if elasticsearch_ca_file
            else {}
        ),
        # Kibana's own port over HTTPS (Swarm: its clients verify it with the lab's CA).
        **(elasticsearch_tls.kibana_server_settings() if server_tls else {}),
        **{name: encryption_keys[name] for name in ENCRYPTION_KEYS},
    }


def render(**fields) -> str:
    """The file's text for settings(**fields); YAML quoting keeps quotes, spaces and `#` in a
    password literal."""
    document = settings(**fields)
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True)
