"""Elasticsearch 8.19.4 and Kibana 8.19.4 rules over the lab's security setup (issue 11).

Each test names the product file it encodes (docs/product-rules.md, "Elasticsearch security").
elastic/elasticsearch and elastic/kibana are read from the stored index (too large to fetch):
IndexPrivilege.java at stored commit 01ca585a and a later 8.x/9.x one (the same names, plus the
failure-store ones); Kibana's oss_features.ts in the x-pack/platform layout of 8.18+.
Logstash's output and the exporter are exact: logstash-output-elasticsearch v11.22.13 (bundled
with Logstash 8.19.4) and prometheus-community/elasticsearch_exporter v1.9.0.
"""

from __future__ import annotations

import re

import pytest
import yaml

from stack.configs import elasticsearch_security as security
from stack.configs import kibana_yml, logstash_conf
from stack.settings_grammar import elastic_duration

# x-pack/plugin/core/src/main/java/org/elasticsearch/xpack/core/security/authz/privilege/
# IndexPrivilege.java, VALUES: an unknown name is "unknown index privilege [x]" (400).
INDEX_PRIVILEGES = {
    *("none", "all", "manage", "create_index", "monitor", "read", "index", "delete", "write"),
    *("create", "create_doc", "delete_index", "view_index_metadata", "read_cross_cluster"),
    *("manage_follow_index", "manage_leader_index", "manage_ilm", "maintenance"),
    "auto_configure",
}
# Same file: what each privilege the lab grants lets through (action name patterns).
CREATE_DOC_ACTIONS = (
    "indices:data/write/index",
    "indices:data/write/index[*",
    "indices:data/write/index:op_type/create",
    "indices:data/write/bulk*",
)
AUTO_CONFIGURE_ACTIONS = ("indices:admin/mapping/auto_put", "indices:admin/auto_create")
# .../security/authz/privilege/ClusterPrivilegeResolver.java (the names the lab uses exist).
CLUSTER_PRIVILEGES = {"monitor", "manage_index_templates", "manage_ilm", "manage_security", "all"}
# .../security/authz/RoleDescriptor.java Fields parsed by PUT /_security/role.
ROLE_FIELDS = {
    *("cluster", "indices", "applications", "run_as", "metadata", "transient_metadata"),
    *("global", "remote_indices", "remote_cluster", "description", "restriction"),
}
# .../security/action/user/PutUserRequestBuilder.java: the body fields of PUT /_security/user.
USER_FIELDS = {"password", "password_hash", "roles", "full_name", "email", "metadata", "enabled"}
# Reserved users (x-pack security ReservedRealm): only their password can be changed.
RESERVED_USERS = {"elastic", "kibana_system", "logstash_system", "beats_system", "apm_system"}
# x-pack/plugin/core/src/main/java/org/elasticsearch/xpack/core/ilm/TimeseriesLifecycleType.java
VALID_PHASES = ("hot", "warm", "cold", "frozen", "delete")
DELETE_PHASE_ACTIONS = {"wait_for_snapshot", "delete"}


def _granted(patterns: tuple[str, ...], action: str) -> bool:
    return any(re.fullmatch(re.escape(p).replace(r"\*", ".*"), action) for p in patterns)


def test_every_index_privilege_the_roles_name_exists():
    """IndexPrivilege.java VALUES."""
    for name, role in security.roles().items():
        for group in role.get("indices", []):
            assert set(group["privileges"]) <= INDEX_PRIVILEGES, name


def test_every_cluster_privilege_the_roles_name_exists():
    """ClusterPrivilegeResolver.java."""
    for name, role in security.roles().items():
        assert set(role["cluster"]) <= CLUSTER_PRIVILEGES, name


def test_role_and_user_bodies_use_only_fields_elasticsearch_parses():
    """RoleDescriptor.java Fields; PutUserRequestBuilder.java."""
    for name, role in security.roles().items():
        assert set(role) <= ROLE_FIELDS, name
    for name, body in security.users().items():
        assert set(body) | {"password"} <= USER_FIELDS, name
        assert name not in RESERVED_USERS, name  # a reserved user cannot be PUT


def test_create_doc_lets_only_op_type_create_through():
    """IndexPrivilege.java CREATE_DOC_AUTOMATON, and AuthorizationService.java: a bulk item is
    authorised as `indices:data/write/index:op_type/<index|create>`."""
    assert _granted(CREATE_DOC_ACTIONS, "indices:data/write/index:op_type/create")
    assert not _granted(CREATE_DOC_ACTIONS, "indices:data/write/index:op_type/index")
    assert not _granted(CREATE_DOC_ACTIONS, "indices:data/write/delete")
    assert not _granted(CREATE_DOC_ACTIONS, "indices:data/read/search")


def test_auto_configure_covers_the_bulk_auto_create_and_dynamic_mappings():
    """IndexPrivilege.java AUTO_CONFIGURE_AUTOMATON = auto_put mapping + auto_create; the
    daily index is created by the bulk (TransportBulkAction -> AutoCreateAction), and fields
    the template leaves out are mapped dynamically (auto_put). IndicesPermission.java lets
    create_doc update mappings only through a deprecated allowance
    (PRIVILEGE_NAME_SET_BWC_ALLOW_MAPPING_UPDATE), so the lab grants auto_configure."""
    assert "auto_configure" in security.logstash_writer_role()["indices"][0]["privileges"]
    for action in ("indices:admin/auto_create", "indices:admin/mapping/auto_put"):
        assert _granted(AUTO_CONFIGURE_ACTIONS, action)


def test_the_logstash_outputs_send_op_type_create():
    """logstash-output-elasticsearch v11.22.13 lib/logstash/outputs/elasticsearch.rb l.138,
    l.493: `action` defaults to `index` unless data_stream (the lab sets data_stream false), and
    a bulk `index` item needs `index`/`create`/`write`, which the writer role does not hold."""
    writer = (security.LOGSTASH_WRITER_USER, "pw")
    pipeline = logstash_conf.pipeline(
        elasticsearch_url="http://elasticsearch:9200", writer=writer
    ) + logstash_conf.alerts_pipeline(elasticsearch_url="http://elasticsearch:9200", writer=writer)
    outputs = re.findall(r"elasticsearch \{(.*?)\n\s*\}", pipeline, re.S)
    assert len(outputs) == 2
    for block in outputs:
        assert re.search(r'action => "create"', block), block


def test_the_writer_holds_what_the_output_calls_on_connect():
    """logstash-output-elasticsearch v11.22.13 http_client/pool.rb: HEAD and GET `/`
    (ROOT_URI_PATH, cluster:monitor/main) and GET `/_license` (LICENSE_PATH,
    cluster:monitor/xpack/license/get) need `monitor`; template_manager.rb's template PUT
    (`manage_index_templates`) never runs with `manage_template => false` (issue 22: the
    setup step installs the templates), so the writer holds `monitor` only."""
    assert security.logstash_writer_role()["cluster"] == ["monitor"]


def test_the_exporter_role_covers_its_default_collectors():
    """elasticsearch_exporter v1.9.0 main.go: `--es.aliases` defaults to true and
    collector/indices.go reads `/_alias` (view_index_metadata); `--es.indices` reads index
    stats (indices `monitor`); cluster health and node stats need cluster `monitor`."""
    role = security.monitor_role()
    assert role["cluster"] == ["monitor"]
    assert set(role["indices"][0]["privileges"]) == {"monitor", "view_index_metadata"}


FEATURE_PRIVILEGE = re.compile(r"^feature_([a-zA-Z0-9_-]+)\.([a-zA-Z0-9_-]+)$")
# x-pack/platform/plugins/shared/features/server/oss_features.ts: v2 ids (8.18+; the v1 ids
# `discover`, `dashboard`, `visualize` are deprecated, replacedBy the v2 ones).
KIBANA_FEATURES = {"discover_v2", "dashboard_v2", "visualize_v2", "savedObjectsManagement"}
# Same file: the saved-object types each feature privilege may read or write.
IMPORTED_TYPES = {"index-pattern", "search", "visualization", "dashboard"}
DASHBOARD_V2_READ = {"index-pattern", "search", "visualization", "lens", "dashboard", "tag"}


def test_kibana_privileges_are_feature_privileges_of_known_features():
    """Kibana privilege_serializer.ts (`feature_<id>.<privilege>`, the deserialize regexp),
    resource_serializer.ts (`space:<id>`), constants.ts APPLICATION_PREFIX `kibana-` with the
    default kibana.index `.kibana`."""
    for name in (security.KIBANA_IMPORTER_ROLE, security.LAB_READER_ROLE):
        (application,) = security.roles()[name]["applications"]
        assert application["application"] == "kibana-.kibana"
        assert application["resources"] == ["space:default"]
        for privilege in application["privileges"]:
            match = FEATURE_PRIVILEGE.match(privilege)
            assert match, privilege
            assert match.group(1) in KIBANA_FEATURES, privilege
            assert match.group(2) in {"all", "read", "minimal_all", "minimal_read"}, privilege


def test_the_importer_can_write_every_type_the_import_holds():
    """oss_features.ts savedObjectsManagement.all: savedObject.all = every visible type
    (plugin.ts registerOssFeatures: getVisibleTypes + importable hidden types), which includes
    the four types of dashboards/kibana_objects.py."""
    from dashboards import kibana_objects

    ndjson = kibana_objects.render(slow_call_ms=5)
    types = {yaml.safe_load(line)["type"] for line in ndjson.splitlines() if line.strip()}
    assert types <= IMPORTED_TYPES
    (application,) = security.kibana_importer_role()["applications"]
    assert application["privileges"] == ["feature_savedObjectsManagement.all"]


def test_the_lab_user_can_open_the_dashboard_objects():
    """oss_features.ts getBaseDashboardFeature: read grants savedObject read on index-pattern,
    search, visualization, lens, dashboard, tag (and more): every type the lab imports."""
    assert IMPORTED_TYPES <= DASHBOARD_V2_READ
    (application,) = security.lab_reader_role()["applications"]
    assert "feature_dashboard_v2.read" in application["privileges"]
    assert "feature_discover_v2.read" in application["privileges"]


# src/dev/build/tasks/os_packages/docker_generator/resources/base/bin/kibana-docker kibana_vars
# (the setting names Kibana's image knows; K12).
KIBANA_SETTINGS = {
    *("server.host", "server.name", "server.basePath", "server.rewriteBasePath"),
    *("server.publicBaseUrl", "elasticsearch.hosts", "elasticsearch.username"),
    *("elasticsearch.password", "telemetry.optIn", "telemetry.enabled", "newsfeed.enabled"),
    *("xpack.security.encryptionKey", "xpack.encryptedSavedObjects.encryptionKey"),
    "xpack.reporting.encryptionKey",
}
# Each encryption key is `schema.string({ minLength: 32 })` in its plugin's config schema.
KEYS = {name: "k" * 32 for name in kibana_yml.ENCRYPTION_KEYS}


def test_kibana_yml_keys_are_kibana_settings_and_not_the_elastic_user():
    """kibana-docker kibana_vars (K12); core elasticsearch_config.ts forbids username
    `elastic` (K13); server.basePath without a trailing slash, publicBaseUrl ending with it
    (K11)."""
    rendered = kibana_yml.settings(
        elasticsearch_url="http://elasticsearch:9200",
        password="pw-123456",
        base_path="/kibana",
        public_url="http://127.0.0.1:8000/kibana",
        encryption_keys=KEYS,
    )
    assert set(rendered) <= KIBANA_SETTINGS
    assert rendered["elasticsearch.username"] == "kibana_system"
    assert rendered["elasticsearch.username"] != "elastic"
    assert str(rendered["server.publicBaseUrl"]).endswith(str(rendered["server.basePath"]))


def test_kibana_yml_refuses_what_kibanas_config_reader_would_substitute():
    """src/platform/packages/shared/kbn-config/src/raw/read_config.ts replaceEnvVarRefs:
    `${NAME}` (and `${NAME:default}`) in a string value is replaced from the environment, an
    unknown name is an error; there is no escape."""
    with pytest.raises(kibana_yml.KibanaConfigError):
        kibana_yml.render(
            elasticsearch_url="http://e:9200",
            password="x${KIBANA_PASSWORD}",
            base_path="/kibana",
            public_url="http://127.0.0.1:8000/kibana",
            encryption_keys=KEYS,
        )


def test_the_ilm_policy_has_only_known_phases_and_actions():
    """TimeseriesLifecycleType.java VALID_PHASES and the delete phase's actions; min_age is a
    TimeValue (units d, h, m, s, ms, micros, nanos)."""
    policy = security.ilm_policy("7d")["policy"]
    assert set(policy) <= {"phases", "_meta"}
    for phase, spec in policy["phases"].items():
        assert phase in VALID_PHASES
        assert set(spec["actions"]) <= (DELETE_PHASE_ACTIONS if phase == "delete" else set())
        assert elastic_duration(spec["min_age"]) == spec["min_age"]


def test_elastic_password_reaches_elasticsearch_in_the_file_form_it_reads():
    """distribution/src/bin/elasticsearch-env-from-file (sourced by the 8.x docker-entrypoint.sh):
    only ELASTIC_PASSWORD_FILE (and KEYSTORE_PASSWORD_FILE); the file must be mode 400 or 600
    and readable by the image's uid 1000; ELASTIC_PASSWORD and its _FILE together exit 1 (E2)."""
    from tests.stack.captured import containers, declared_under

    es = containers(declared_under("default"))["lab-dev-elasticsearch"]["inputs"]
    env = dict(item.split("=", 1) for item in es["envs"])
    assert "ELASTIC_PASSWORD" not in env
    assert env["xpack.security.enabled"] == "true"
    (upload,) = [u for u in es["uploads"] if u["file"] == env["ELASTIC_PASSWORD_FILE"]]
    assert upload["permissions"] in ("0400", "0600")
    assert upload["owner"] == "1000"
