"""Who may do what in the lab's Elasticsearch and Kibana: one user per job, each with the least
role it needs, and the ILM policy that deletes old log indices. Pure data: the security setup
step (stack/elasticsearch_setup.py) sends these bodies to Elasticsearch as `elastic`.

The index patterns come from where the pipeline names its indices (app.contract for the logs,
dashboards.alert_events for the alerts), so a renamed index changes every role that covers it.
The sources of each privilege are in docs/product-rules.md (section "Elasticsearch security").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from app.contract import LOGS_INDEX_PATTERN
from dashboards.alert_events import ALERTS_INDEX_PATTERN
from stack.configs import htpasswd

# Built-in (reserved) user Kibana connects as; only its password can be set (E7).
KIBANA_SYSTEM_USER = "kibana_system"
SUPERUSER = "elastic"  # used by the setup step only, never by a part

# Every index the pipeline writes (logstash_conf's log output, logstash_alerts' alert output).
WRITTEN_INDEX_PATTERNS = (LOGS_INDEX_PATTERN, ALERTS_INDEX_PATTERN)

# Kibana's privileges live in Elasticsearch under the application `kibana-<kibana.index>`
# (the default index `.kibana`), one resource per space; feature privileges are named
# `feature_<feature id>.<privilege>` (Kibana's privilege_serializer / resource_serializer).
KIBANA_APPLICATION = "kibana-.kibana"
DEFAULT_SPACE = "space:default"

ILM_POLICY = "lab-logs-retention"

LOGSTASH_WRITER_ROLE = "lab_logstash_writer"
KIBANA_IMPORTER_ROLE = "lab_kibana_importer"
LAB_READER_ROLE = "lab_reader"
MONITOR_ROLE = "lab_monitor"


def logstash_writer_role() -> dict:
    """Logstash appends documents; it cannot read, delete or change a template.

    `create_doc` authorises bulk items with op_type create only, so the output needs
    `action => "create"`; `auto_configure` lets the bulk auto-create a day's index and add the
    dynamic fields the template does not map (without it ES 8 falls back to a deprecated
    allowance for mapping updates under create_doc). `monitor` covers `GET /` and `_license`,
    which the output reads when it connects. No `manage_index_templates`: it would let this
    password rewrite any template in the cluster; the security setup step installs the lab's
    templates (stack/elasticsearch.py index_templates()) and the outputs say
    `manage_template => false`.
    """
    return {
        "cluster": ["monitor"],
        "indices": [
            {"names": list(WRITTEN_INDEX_PATTERNS), "privileges": ["create_doc", "auto_configure"]}
        ],
        "metadata": {"lab": "Logstash's writer: append only, no read, no delete"},
    }


def kibana_importer_role() -> dict:
    """Saved-objects management in the default space: Kibana's feature `savedObjectsManagement`
    grants `all` on every visible saved-object type (index-pattern, search, visualization,
    dashboard among them), which is what the import writes. No index privilege: the import
    never touches the lab's data."""
    return {
        "cluster": [],
        "indices": [],
        "applications": [
            {
                "application": KIBANA_APPLICATION,
                "privileges": ["feature_savedObjectsManagement.all"],
                "resources": [DEFAULT_SPACE],
            }
        ],
        "metadata": {"lab": "the program's saved-objects import only"},
    }


# Kibana 8.18+ features (oss_features.ts): the v1 ids are deprecated in favour of these.
LAB_USER_KIBANA_PRIVILEGES = (
    "feature_discover_v2.read",
    "feature_dashboard_v2.read",
    "feature_visualize_v2.read",
)


def lab_reader_role() -> dict:
    """A person in Kibana: search the lab's logs and alerts in Discover, open the dashboards and
    charts; cannot save, change or delete anything, nor read any other index."""
    return {
        "cluster": [],
        "indices": [
            {"names": list(WRITTEN_INDEX_PATTERNS), "privileges": ["read", "view_index_metadata"]}
        ],
        "applications": [
            {
                "application": KIBANA_APPLICATION,
                "privileges": list(LAB_USER_KIBANA_PRIVILEGES),
                "resources": [DEFAULT_SPACE],
            }
        ],
        "metadata": {"lab": "read-only Kibana login for a person"},
    }


def monitor_role() -> dict:
    """The Elasticsearch exporter: cluster health and node stats (`monitor`), and per lab index
    its stats (`monitor`) and aliases (`view_index_metadata`: --es.aliases is on by default)."""
    return {
        "cluster": ["monitor"],
        "indices": [
            {
                "names": list(WRITTEN_INDEX_PATTERNS),
                "privileges": ["monitor", "view_index_metadata"],
            }
        ],
        "metadata": {"lab": "the exporter's read-only monitoring"},
    }


def roles() -> dict[str, dict]:
    """Role name -> `PUT /_security/role/<name>` body."""
    return {
        LOGSTASH_WRITER_ROLE: logstash_writer_role(),
        KIBANA_IMPORTER_ROLE: kibana_importer_role(),
        LAB_READER_ROLE: lab_reader_role(),
        MONITOR_ROLE: monitor_role(),
    }


@dataclass(frozen=True)
class User:
    name: str
    roles: tuple[str, ...]
    secret: str  # the `lab:<key>` Pulumi secret holding its password (settings_tables.SECRETS)
    full_name: str


# Kibana signs in as the reserved kibana_system (its password is set, the user is not PUT).
KIBANA_SYSTEM_SECRET = "kibanaSystemPassword"
ELASTIC_SECRET = "elasticPassword"
USERS = (
    User("lab_logstash_writer", (LOGSTASH_WRITER_ROLE,), "logstashWriterPassword", "Logstash"),
    User("lab_kibana_importer", (KIBANA_IMPORTER_ROLE,), "kibanaImporterPassword", "Importer"),
    User("lab", (LAB_READER_ROLE,), "labUserPassword", "Lab user"),
    User("lab_monitor", (MONITOR_ROLE,), "monitorPassword", "Elasticsearch exporter"),
)
USERS_BY_NAME: Mapping[str, User] = {user.name: user for user in USERS}
LOGSTASH_WRITER_USER = USERS[0].name
KIBANA_IMPORTER_USER = USERS[1].name
LAB_USER = USERS[2].name
MONITOR_USER = USERS[3].name


def user_body(user: User) -> dict:
    """`PUT /_security/user/<name>` body without the password (the setup step adds it)."""
    return {"roles": list(user.roles), "full_name": user.full_name, "enabled": True}


def users() -> dict[str, dict]:
    return {user.name: user_body(user) for user in USERS}


# The container's health check signs in as this user of Elasticsearch's file realm, never as
# `elastic`: the file realm (on by default beside the native one, `file1` before `native1`)
# reads config/users, users_roles and roles.yml at start, so the user exists before the setup
# step could create a native one (the step waits for the node the check declares healthy).
# Sources: elasticsearch 8.19 docs "File-based user authentication" (users: `name:hash`,
# users_roles: `role:user1,user2`) and "Defining roles" (roles.yml).
HEALTH_USER = "lab_health"
HEALTH_ROLE = "lab_health"
ES_CONFIG_DIR = "/usr/share/elasticsearch/config"
FILE_REALM_USERS = f"{ES_CONFIG_DIR}/users"
FILE_REALM_USERS_ROLES = f"{ES_CONFIG_DIR}/users_roles"
FILE_ROLES = f"{ES_CONFIG_DIR}/roles.yml"


def health_role() -> dict:
    """`GET /_cluster/health` is cluster:monitor/health: `monitor`, nothing else."""
    return {"cluster": ["monitor"], "indices": []}


def file_realm(password: str, lab_salt: str) -> dict[str, str]:
    """The file realm's files by path: HEALTH_USER with `password` hashed (bcrypt `$2a$`,
    salted from lab:passwordHashSalt, so the same password renders the same files) and its
    role."""
    hashed = htpasswd.bcrypt_hash(password, lab_salt, f"elasticsearch {HEALTH_USER}", "2a")
    roles = yaml.safe_dump({HEALTH_ROLE: health_role()}, sort_keys=False)
    return {
        FILE_REALM_USERS: f"{HEALTH_USER}:{hashed}\n",
        FILE_REALM_USERS_ROLES: f"{HEALTH_ROLE}:{HEALTH_USER}\n",
        FILE_ROLES: roles,
    }


def ilm_policy(retention: str) -> dict:
    """`PUT /_ilm/policy/<ILM_POLICY>` body: a log index is deleted `retention` after it was
    created (min_age counts from creation when the index never rolls over, as the daily
    lab-logs-YYYY.MM.dd indices do not)."""
    return {
        "policy": {
            "phases": {"delete": {"min_age": retention, "actions": {"delete": {}}}},
            "_meta": {"description": f"lab: delete log indices {retention} after creation"},
        }
    }


def setup_inputs(retention: str) -> dict[str, dict]:
    """The plain (non-secret) arguments of stack/elasticsearch_setup.ElasticsearchSecurity."""
    return {
        "roles": roles(),
        "users": users(),
        "ilm_policies": {ILM_POLICY: ilm_policy(retention)},
    }


# Logstash's config grammar (logstash-core/lib/logstash/config/grammar.treetop) reads a string
# between " or ' and, with config.support_escapes off (its default), keeps a backslash as is;
# `${NAME}` / `${NAME:default}` is replaced from the keystore or environment
# (util/substitution_variables.rb), with no escape.
_LOGSTASH_REFERENCE = re.compile(r"\$\{[a-zA-Z_.][a-zA-Z0-9_.]*(:[^}]*)?\}")


class LogstashQuotingError(ValueError):
    pass


def logstash_string(value: str, what: str = "the Logstash writer's password") -> str:
    """`value` as a Logstash config string literal that reads back exactly as `value`."""
    if "\\" in value or _LOGSTASH_REFERENCE.search(value):
        raise LogstashQuotingError(
            f"{what} contains a backslash or `${{...}}`, which Logstash's pipeline syntax cannot "
            "hold literally; choose another (lab:logstashWriterPassword)"
        )
    for quote in ('"', "'"):
        if quote not in value:
            return f"{quote}{value}{quote}"
    raise LogstashQuotingError(f"{what} contains both quote characters; choose another")


def logstash_output_options(password: str) -> str:
    """The elasticsearch output's login lines: the writer user, its password, and the bulk
    action its `create_doc` privilege allows (the default `index` would be refused, 403)."""
    return (
        f'    user => "{LOGSTASH_WRITER_USER}"\n'
        f"    password => {logstash_string(password)}\n"
        '    action => "create"\n'
    )
