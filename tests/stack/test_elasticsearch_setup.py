"""stack/elasticsearch_setup.py against a server that answers as Elasticsearch 8.19's security
and ILM APIs do (tests/support/elasticsearch_standin.py): the first run creates every user, role
and the policy, an unchanged second run sends nothing, a changed password converges, and each
refusal names the step and Elasticsearch's answer.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from dashboards.alert_events import TEMPLATE_NAME
from lab.support import REPO_ROOT
from stack import elasticsearch_setup as setup
from stack.configs import elasticsearch_security as security
from stack.configs import elasticsearch_template
from stack.elasticsearch import index_templates
from tests.support.dynamic_providers import foreign_imports, run_pickled
from tests.support.elasticsearch_standin import ElasticsearchStandIn

ELASTIC = "elastic-pw-1"
PASSWORDS = {user.name: f"{user.name}-pw-1" for user in security.USERS}


def props(url: str, **changes) -> dict:
    base = {
        "elasticsearch_url": url,
        "elastic_password": ELASTIC,
        "kibana_system_password": "kibana-system-pw-1",
        "passwords": dict(PASSWORDS),
        **security.setup_inputs("7d"),
        "index_templates": index_templates(),
    }
    return {**base, **changes}


@pytest.fixture
def elasticsearch():
    servers: list[ElasticsearchStandIn] = []

    def start(elastic_password: str = ELASTIC, unready: int = 0) -> ElasticsearchStandIn:
        servers.append(ElasticsearchStandIn(elastic_password, unready=unready).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def provider() -> setup.ElasticsearchSecurityProvider:
    return setup.ElasticsearchSecurityProvider(deadline_seconds=5, retry_delay_seconds=0.05)


def test_the_first_run_creates_every_user_role_and_the_policy(elasticsearch):
    server = elasticsearch()
    created = provider().create(props(server.url))
    assert created.id == setup.RESOURCE_ID
    for user in security.USERS:
        assert server.authenticates(user.name, PASSWORDS[user.name]), user.name
        assert server.users[user.name]["roles"] == list(user.roles)
    assert server.authenticates("kibana_system", "kibana-system-pw-1")
    assert set(security.roles()) <= set(server.roles)
    assert server.policies == {security.ILM_POLICY: security.ilm_policy("7d")["policy"]}
    writes = server.writes()
    expected = 1 + len(security.roles()) + len(security.USERS) + 1 + 2  # + the two templates
    print(f"first run: {len(writes)} writes, {len(server.requests)} requests")
    assert len(writes) == expected
    assert writes[0][:2] == ("POST", "/_security/user/kibana_system/_password")
    # roles before the users that name them
    first_user = min(i for i, w in enumerate(writes) if w[1].startswith("/_security/user/lab"))
    last_role = max(i for i, w in enumerate(writes) if w[1].startswith("/_security/role/"))
    assert last_role < first_user
    assert {user for _, _, user in server.requests} == {"elastic"}


def test_an_unchanged_second_run_sends_nothing(elasticsearch):
    server = elasticsearch()
    first = provider().create(props(server.url))
    before = len(server.requests)
    diff = provider().diff(setup.RESOURCE_ID, first.outs, props(server.url))
    assert diff.changes is False
    assert len(server.requests) == before  # a no-op `pulumi up` never calls Elasticsearch


def test_a_repeated_apply_updates_in_place_and_leaves_the_same_state(elasticsearch):
    server = elasticsearch()
    assert all(setup.apply_security(props(server.url), retry_delay_seconds=0.05).values())
    state = (json.dumps(server.users, sort_keys=True), json.dumps(server.roles, sort_keys=True))
    again = setup.apply_security(props(server.url), retry_delay_seconds=0.05)
    assert set(again.values()) == {False}  # every role and user answered "created": false
    assert (
        json.dumps(server.users, sort_keys=True),
        json.dumps(server.roles, sort_keys=True),
    ) == state


def test_a_changed_password_converges(elasticsearch):
    server = elasticsearch()
    first = provider().create(props(server.url))
    rotated = {**PASSWORDS, security.LAB_USER: "lab-pw-2"}
    news = props(server.url, passwords=rotated)
    assert provider().diff(setup.RESOURCE_ID, first.outs, news).changes is True
    updated = provider().update(setup.RESOURCE_ID, first.outs, news)
    assert server.authenticates(security.LAB_USER, "lab-pw-2")
    assert not server.authenticates(security.LAB_USER, PASSWORDS[security.LAB_USER])
    assert provider().diff(setup.RESOURCE_ID, updated.outs, news).changes is False
    kibana = props(server.url, kibana_system_password="kibana-system-pw-2")
    assert provider().diff(setup.RESOURCE_ID, updated.outs, kibana).changes is True
    provider().update(setup.RESOURCE_ID, updated.outs, kibana)
    assert server.authenticates("kibana_system", "kibana-system-pw-2")


def test_a_new_elasticsearch_container_gets_its_users_again(elasticsearch):
    server = elasticsearch()
    first = provider().create(props(server.url, trigger="container-1"))
    news = props(server.url, trigger="container-2")
    assert provider().diff(setup.RESOURCE_ID, first.outs, news).changes is True


def test_a_changed_retention_converges(elasticsearch):
    server = elasticsearch()
    first = provider().create(props(server.url))
    news = props(server.url, **security.setup_inputs("30d"))
    assert provider().diff(setup.RESOURCE_ID, first.outs, news).changes is True
    provider().update(setup.RESOURCE_ID, first.outs, news)
    assert server.policies[security.ILM_POLICY]["phases"]["delete"]["min_age"] == "30d"


def test_no_password_reaches_an_output(elasticsearch):
    """pulumi/dynamic/__main__.py: outputs are stored as given; the engine re-marks as secret
    only an output under a secret input's own key, so no password may appear in another one."""
    server = elasticsearch()
    outs = provider().create(props(server.url)).outs
    text = json.dumps(outs)
    for password in (ELASTIC, "kibana-system-pw-1", *PASSWORDS.values()):
        assert password not in text
    assert set(outs) == {
        "elasticsearch_url",
        "roles",
        "users",
        "ilm_policies",
        "index_templates",
        "state_hash",
    }


def test_a_wrong_elastic_password_fails_naming_the_step_and_the_answer(elasticsearch):
    server = elasticsearch(elastic_password="what-elasticsearch-holds")
    with pytest.raises(setup.SetupError) as failure:
        setup.apply_security(props(server.url), retry_delay_seconds=0.05)
    message = str(failure.value)
    print(message)
    assert "step 'wait for Elasticsearch' (GET /): HTTP 401 security_exception" in message
    assert "unable to authenticate user [elastic]" in message
    assert "lab:elasticPassword" in message
    assert server.writes() == []


def test_a_missing_privilege_fails_with_elasticsearchs_reason(elasticsearch):
    server = elasticsearch()
    server.roles["monitoring_only"] = {"cluster": ["monitor"]}
    server.users["elastic"]["roles"] = ["monitoring_only"]
    with pytest.raises(setup.SetupError) as failure:
        setup.apply_security(props(server.url), retry_delay_seconds=0.05)
    message = str(failure.value)
    print(message)
    assert message.startswith(
        "Elasticsearch security setup failed at step 'set the kibana_system password' "
        "(POST /_security/user/kibana_system/_password): HTTP 403 security_exception"
    )
    assert "HTTP 403 security_exception" in message
    assert "cluster:admin/xpack/security/user/change_password" in message
    assert "superuser" in message


def test_it_waits_while_elasticsearch_is_not_ready(elasticsearch):
    server = elasticsearch(unready=3)
    setup.apply_security(props(server.url), retry_delay_seconds=0.05)
    assert server.requests[:3] == [("GET", "/", None)] * 3
    assert server.authenticates(security.LAB_USER, PASSWORDS[security.LAB_USER])


def test_it_gives_up_within_its_deadline(elasticsearch):
    server = elasticsearch(unready=10_000)
    with pytest.raises(setup.SetupError, match=r"did not answer after \d+ attempts"):
        setup.apply_security(props(server.url), deadline_seconds=0.5, retry_delay_seconds=0.05)


def test_a_refused_body_names_the_step(elasticsearch):
    server = elasticsearch()
    broken = security.setup_inputs("7d")
    broken["roles"][security.LOGSTASH_WRITER_ROLE]["indices"][0]["privileges"] = ["append"]
    with pytest.raises(setup.SetupError) as failure:
        setup.apply_security(props(server.url, **broken), retry_delay_seconds=0.05)
    assert f"put role {security.LOGSTASH_WRITER_ROLE}" in str(failure.value)
    assert "unknown index privilege [append]" in str(failure.value)


PICKLED_CREATE = """
import base64, json, sys
import dill
provider = dill.loads(base64.b64decode(sys.argv[1]))
result = provider.create(json.loads(sys.argv[2]))
print(json.dumps({"id": result.id, "outs": result.outs}))
"""


def test_the_pickled_provider_runs_where_stack_cannot_be_imported(elasticsearch, tmp_path):
    """Pulumi runs dynamic providers in a host process that cannot import stack/."""
    server = elasticsearch(unready=1)
    blob = serialize_provider(setup.ElasticsearchSecurityProvider(10, 0.05))
    result = run_pickled(PICKLED_CREATE, blob, json.dumps(props(server.url)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["outs"]["state_hash"] == setup.inputs_hash(props(server.url))
    assert server.authenticates(security.MONITOR_USER, PASSWORDS[security.MONITOR_USER])


def test_the_provider_is_pickled_by_value_and_uses_the_standard_library_only():
    """pulumi/dynamic/dynamic.py serialize_provider pickles importable objects by reference;
    the provider host (sdk/python/dist/pulumi-resource-pulumi-python) cannot import stack/."""
    assert setup.ElasticsearchSecurityProvider.__module__ == "__main__"
    assert setup.apply_security.__module__ == "__main__"
    assert not foreign_imports(setup.__file__)


def test_the_stand_in_challenges_a_request_without_credentials(elasticsearch):
    """DefaultAuthenticationFailureHandler.java: 401, security_exception, the Basic challenge."""
    server = elasticsearch()
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"{server.url}/_security/role/x", timeout=5)
    assert answer.value.code == 401
    assert 'Basic realm="security" charset="UTF-8"' in answer.value.headers.get_all(
        "WWW-Authenticate"
    )
    body = json.loads(answer.value.read())
    assert body["error"]["reason"] == (
        "missing authentication credentials for REST request [/_security/role/x]"
    )


def test_the_stand_in_refuses_to_put_a_reserved_user(elasticsearch):
    server = elasticsearch()
    auth = setup.basic_auth("elastic", ELASTIC)
    status, answer = setup.call(
        server.url, "PUT", "/_security/user/kibana_system", {"password": "x" * 8}, auth
    )
    assert status == 400
    assert "is reserved and only the password can be changed" in answer["error"]["reason"]


UNDER_MOCKS = """
import json, pulumi
seen = {}
class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        seen[args.name] = args
        return args.name + "-id", dict(args.inputs, state_hash="h")
    def call(self, args):
        return {}
pulumi.runtime.set_mocks(Mocks(), preview=False)
from stack.elasticsearch_setup import ElasticsearchSecurity
from stack.configs import elasticsearch_security as s
SIG = "4dabf18193072939515e22adb298388d"  # the key under which a secret travels (sig.go Key)
@pulumi.runtime.test
def declare():
    resource = ElasticsearchSecurity("sec", elasticsearch_url="http://e:9200",
        elastic_password="e-pw-1",
        kibana_system_password="k-pw-1", passwords={u.name: "pw" for u in s.USERS},
        **s.setup_inputs("7d"))
    def report(_):
        inputs = seen["sec"].inputs
        print(json.dumps({k: isinstance(v, dict) and SIG in v for k, v in inputs.items()}))
    return resource.state_hash.apply(report)  # after the registration
declare()
"""


def test_every_password_input_is_a_pulumi_secret(tmp_path):
    """pulumi/runtime/rpc.py serialises a secret as an object under the secret signature; the
    engine keeps such inputs encrypted in the state."""
    result = subprocess.run(
        [sys.executable, "-c", UNDER_MOCKS],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    secret = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("elastic_password", "kibana_system_password", "passwords"):
        assert secret[key], key
    for key in ("elasticsearch_url", "roles", "users", "ilm_policies"):
        assert not secret[key], key


def test_the_setup_installs_the_templates_and_the_writer_cannot(elasticsearch):
    """Logstash's writer has no `manage_index_templates` (issue 22): its password cannot
    rewrite a template in the cluster. The setup step, as `elastic`, installs both templates;
    the writer, signed in with its own password, is refused by Elasticsearch's rule
    (ClusterPrivilegeResolver, modelled by the stand-in) where it used to be allowed."""
    server = elasticsearch()
    provider().create(props(server.url))
    assert set(server.index_templates) == {elasticsearch_template.NAME, TEMPLATE_NAME}
    assert server.index_templates[elasticsearch_template.NAME]["index_patterns"] == ["lab-logs-*"]
    writer = security.LOGSTASH_WRITER_USER
    auth = setup.basic_auth(writer, PASSWORDS[writer])
    status, answer = setup.call(
        server.url, "PUT", "/_index_template/anything", {"index_patterns": ["*"]}, auth
    )
    assert status == 403, answer
    assert "manage_index_templates" in answer["error"]["reason"]
    assert "anything" not in server.index_templates
