"""stack/configs/elasticsearch_security.py, kibana_yml.py and the template's ILM reference: the
roles cover exactly the indices the pipeline writes, each job gets only what it needs, every
user's password is a declared secret, and kibana.yml keeps any password literal."""

from __future__ import annotations

import fnmatch
import re

import pytest
import yaml

from lab import credentials
from stack.configs import elasticsearch_security as security
from stack.configs import elasticsearch_template, kibana_yml, logstash_conf
from stack.settings import LabSettings
from stack.settings_tables import SECRETS

DAY = "2026.01.31"


def written_indices() -> list[str]:
    """Every index the rendered pipeline writes on a given day (logs and alerts)."""
    url = "http://elasticsearch:9200"
    pipeline = logstash_conf.pipeline(elasticsearch_url=url) + logstash_conf.alerts_pipeline(
        elasticsearch_url=url
    )
    names = re.findall(r'index => "([^"]+)"', pipeline)
    assert len(names) == 2, names  # the log output and the alert output
    return [name.replace("%{+YYYY.MM.dd}", DAY) for name in names]


def covered(role: dict, index: str, privilege: str) -> bool:
    return any(
        privilege in group["privileges"]
        and any(fnmatch.fnmatchcase(index, pattern) for pattern in group["names"])
        for group in role.get("indices", [])
    )


@pytest.mark.parametrize("index", written_indices())
def test_every_index_the_pipeline_writes_is_covered(index):
    roles = security.roles()
    assert covered(roles[security.LOGSTASH_WRITER_ROLE], index, "create_doc"), index
    assert covered(roles[security.LOGSTASH_WRITER_ROLE], index, "auto_configure"), index
    assert covered(roles[security.LAB_READER_ROLE], index, "read"), index
    assert covered(roles[security.MONITOR_ROLE], index, "monitor"), index


def test_the_roles_name_no_index_the_pipeline_does_not_write():
    for name, role in security.roles().items():
        for group in role.get("indices", []):
            for pattern in group["names"]:
                assert any(fnmatch.fnmatchcase(i, pattern) for i in written_indices()), (
                    name,
                    pattern,
                )


def test_the_writer_can_neither_read_nor_delete():
    role = security.logstash_writer_role()
    granted = {p for group in role["indices"] for p in group["privileges"]}
    assert granted == {"create_doc", "auto_configure"}
    assert not granted & {"read", "write", "index", "delete", "delete_index", "all", "manage"}
    # monitor: `GET /` and `_license` when the output connects; no template rights (the setup
    # step installs the templates, the outputs have manage_template => false).
    assert set(role["cluster"]) == {"monitor"}
    assert "applications" not in role


def test_the_importer_only_manages_kibana_objects():
    role = security.kibana_importer_role()
    assert role["indices"] == []
    assert role["cluster"] == []
    (application,) = role["applications"]
    assert application["privileges"] == ["feature_savedObjectsManagement.all"]
    assert application["resources"] == [security.DEFAULT_SPACE]


def test_the_lab_user_reads_and_changes_nothing():
    role = security.lab_reader_role()
    granted = {p for group in role["indices"] for p in group["privileges"]}
    assert granted == {"read", "view_index_metadata"}
    assert role["cluster"] == []
    (application,) = role["applications"]
    assert all(p.endswith(".read") for p in application["privileges"])


def test_every_user_has_a_declared_secret_and_existing_roles():
    roles = security.roles()
    for user in security.USERS:
        assert user.secret in SECRETS, user
        assert set(user.roles) <= set(roles), user
    assert security.KIBANA_SYSTEM_SECRET in SECRETS
    assert security.ELASTIC_SECRET in SECRETS


def test_the_setup_covers_every_elasticsearch_login_make_credentials_lists():
    """lab/credentials.py names each login's user; the setup must create the same users."""
    by_secret = {login.key: login.user for login in credentials.LOGINS}
    for user in security.USERS:
        assert by_secret[user.secret] == user.name
    assert by_secret[security.KIBANA_SYSTEM_SECRET] == security.KIBANA_SYSTEM_USER
    assert by_secret[security.ELASTIC_SECRET] == security.SUPERUSER
    (kibana_login,) = [x for x in credentials.LOGINS if x.key == security.KIBANA_SYSTEM_SECRET]
    assert (kibana_login.file, kibana_login.uid) == (kibana_yml.CONFIG_FILE, kibana_yml.KIBANA_UID)


def test_the_log_template_names_the_retention_policy():
    settings = elasticsearch_template.template()["template"]["settings"]
    assert settings["index.lifecycle.name"] == security.ILM_POLICY


def test_the_setup_puts_the_retention_policy():
    inputs = security.setup_inputs(LabSettings.log_retention)
    assert set(inputs["ilm_policies"]) == {security.ILM_POLICY}
    delete = inputs["ilm_policies"][security.ILM_POLICY]["policy"]["phases"]["delete"]
    assert delete == {"min_age": LabSettings.log_retention, "actions": {"delete": {}}}


def test_the_policy_follows_the_retention_setting():
    assert security.ilm_policy("36h")["policy"]["phases"]["delete"]["min_age"] == "36h"


KIBANA = dict(
    elasticsearch_url="http://elasticsearch:9200",
    base_path="/kibana",
    public_url="http://127.0.0.1:8000/kibana",
    encryption_keys={name: f"{n}" * 32 for n, name in enumerate(kibana_yml.ENCRYPTION_KEYS)},
)


@pytest.mark.parametrize(
    "password",
    ["qu\"o'te d", "  spaces  ", "#not a comment", "key: value", "yes", "*star", "$dollar{x"],
)
def test_kibana_yml_keeps_any_password_literal(password):
    parsed = yaml.safe_load(kibana_yml.render(password=password, **KIBANA))
    assert parsed["elasticsearch.password"] == password
    assert parsed["elasticsearch.username"] == security.KIBANA_SYSTEM_USER
    assert parsed["elasticsearch.hosts"] == [KIBANA["elasticsearch_url"]]
    assert parsed["server.basePath"] == "/kibana"


@pytest.mark.parametrize("password", ["${HOME}", "a${PATH:x}b"])
def test_kibana_yml_refuses_an_environment_reference(password):
    with pytest.raises(kibana_yml.KibanaConfigError, match="environment variable"):
        kibana_yml.render(password=password, **KIBANA)


def test_kibana_yml_refuses_a_public_url_outside_the_base_path():
    with pytest.raises(kibana_yml.KibanaConfigError, match="publicBaseUrl"):
        kibana_yml.render(password="pw-123456", **{**KIBANA, "public_url": "http://x:8000/"})


# logstash-core/lib/logstash/config/grammar.treetop (v8.19.4): double_quoted_string and
# single_quoted_string; with config.support_escapes off the value is the text between quotes.
LOGSTASH_STRING = re.compile(r"""^(?:"((?:\\"|[^"])*)"|'((?:\\'|[^'])*)')$""")


@pytest.mark.parametrize("password", ["plain-Pw_123", 'with "double"', "with 'single'", "a b#c"])
def test_the_writer_password_reads_back_exactly_from_the_pipeline(password):
    literal = security.logstash_string(password)
    match = LOGSTASH_STRING.match(literal)
    assert match, literal
    assert (match.group(1) if match.group(1) is not None else match.group(2)) == password


@pytest.mark.parametrize("password", ["back\\slash", "${HOME}", "a${x.y:z}b", "both\"'quotes"])
def test_a_writer_password_logstash_cannot_hold_is_refused(password):
    with pytest.raises(security.LogstashQuotingError, match="choose another"):
        security.logstash_output_options(password)


def test_the_output_options_sign_in_as_the_writer_and_create_only():
    options = security.logstash_output_options("pw-123456")
    assert f'user => "{security.LOGSTASH_WRITER_USER}"' in options
    assert 'password => "pw-123456"' in options
    assert 'action => "create"' in options
