"""Each dynamic provider of the program (stack/elasticsearch_setup.py, stack/kibana_import.py),
started as the Pulumi engine starts it and driven over the provider gRPC protocol.

The engine's part is tests/support/engine_launch.py (pulumi/pulumi provider_plugin.go,
plugin.go and the launcher sdk/python/dist/pulumi-resource-pulumi-python): the working
directory is the program directory of Pulumi.yaml's `main`, its runtime options arrive as
PULUMI_RUNTIME_* over the environment lab/automation.py gives the CLI, and the launcher runs
`<virtualenv>/bin/python -u -m pulumi.dynamic <engine address>`, whose first stdout line is the
port. The calls are the engine's (Handshake, GetPluginInfo, Configure, Check, Create, Diff,
Update, Delete) with the SDK's own stubs (pulumi.runtime.proto). The inputs are the program's
(captured under mocks) with the product URL pointed at a stand-in, and `__provider` is pickled
as pulumi/dynamic/dynamic.py Resource.__init__ does it (_serialize(True, serialize_provider)).
The products are the stand-ins: tests/support/elasticsearch_standin.py (Elasticsearch 8.19's
security API) and tests/support/standins.py FakeKibana (Kibana 8.19's saved-objects import).
"""

from __future__ import annotations

import asyncio
import base64
import urllib.parse
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime._serialization import _serialize
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from dashboards import kibana_objects
from lab import automation
from lab.support import REPO_ROOT
from stack import elasticsearch_setup, kibana_import
from tests.rules.conftest import NUMBERS
from tests.stack.captured import DYNAMIC, by_type, declared_under
from tests.support import engine_launch
from tests.support.elasticsearch_standin import ElasticsearchStandIn
from tests.support.standins import start_kibana

PROJECT = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
PWD = engine_launch.working_directory(REPO_ROOT, PROJECT["main"])
CALL_TIMEOUT_SECONDS = 60


def declared(type_name: str) -> dict:
    """The program's dynamic resource whose URN ends in `type_name`'s resource name."""
    (resource,) = [
        r for r in by_type(declared_under("default"), DYNAMIC) if r["name"].endswith(type_name)
    ]
    return resource


def pickled(provider: Any) -> str:
    """`__provider` as pulumi.dynamic.Resource.__init__ builds it from the provider object."""
    serialized, _contains_secrets = _serialize(True, serialize_provider, provider)
    return serialized


def struct(props: dict) -> Any:
    return asyncio.run(rpc.serialize_properties(props, {}))


def plain(value: Any) -> dict:
    return rpc.deserialize_properties(value)


class Engine:
    """The engine's side of one provider connection; counts every call it makes."""

    def __init__(self, port: int, urn: str) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self.channel).result(timeout=CALL_TIMEOUT_SECONDS)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        self.urn = urn
        self.calls = 0

    def call(self, method: str, request: Any) -> Any:
        self.calls += 1
        return getattr(self.stub, method)(request, timeout=CALL_TIMEOUT_SECONDS)

    def start(self) -> None:
        """Handshake (Unimplemented: an older provider, plugin.go goes on), plugin info,
        Configure; the dynamic provider declines secrets, so the engine sends plain values."""
        try:
            self.call(
                "Handshake",
                provider_pb2.ProviderHandshakeRequest(
                    engine_address="", root_directory=str(PWD), program_directory=str(PWD)
                ),
            )
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
        assert self.call("GetPluginInfo", empty_pb2.Empty()).version
        configured = self.call(
            "Configure",
            provider_pb2.ConfigureRequest(
                args=struct({}), acceptSecrets=True, acceptResources=True, urn=self.urn
            ),
        )
        assert configured.acceptSecrets is False

    def check(self, news: dict, olds: dict | None = None) -> dict:
        answer = self.call(
            "Check",
            provider_pb2.CheckRequest(urn=self.urn, olds=struct(olds or {}), news=struct(news)),
        )
        assert not answer.failures, answer.failures
        return plain(answer.inputs)

    def create(self, inputs: dict) -> tuple[str, dict]:
        answer = self.call(
            "Create", provider_pb2.CreateRequest(urn=self.urn, properties=struct(inputs))
        )
        assert answer.id
        return answer.id, plain(answer.properties)

    def diff(self, id_: str, olds: dict, news: dict) -> int:
        request = provider_pb2.DiffRequest(
            id=id_, urn=self.urn, olds=struct(olds), news=struct(news), old_inputs=struct(olds)
        )
        return self.call("Diff", request).changes

    def update(self, id_: str, olds: dict, news: dict) -> dict:
        request = provider_pb2.UpdateRequest(
            id=id_, urn=self.urn, olds=struct(olds), news=struct(news), old_inputs=struct(olds)
        )
        return plain(self.call("Update", request).properties)

    def delete(self, id_: str, outputs: dict) -> None:
        request = provider_pb2.DeleteRequest(id=id_, urn=self.urn, properties=struct(outputs))
        self.call("Delete", request)


@pytest.fixture
def launched():
    """launched(urn) -> an Engine connected to a freshly launched provider process."""
    started: list[tuple[engine_launch.LaunchedProvider, Engine]] = []
    with engine_launch.FakeEngine() as fake_engine:

        def launch(urn: str) -> Engine:
            process = engine_launch.launch(
                PROJECT, automation.cli_environ(), PWD, fake_engine.address
            )
            engine = Engine(process.port, urn)
            started.append((process, engine))
            engine.start()
            return engine

        yield launch
        for process, engine in started:
            engine.channel.close()
            process.stop()


def with_url(url: str, base: str) -> str:
    """`url` moved to the stand-in at `base`, its path kept (Kibana serves under /kibana)."""
    return base.rstrip("/") + urllib.parse.urlsplit(url).path


def test_the_security_step_runs_in_the_launched_provider(launched):
    resource = declared("elasticsearch-security")
    inputs = {k: v for k, v in resource["inputs"].items() if k != "__provider"}
    server = ElasticsearchStandIn(inputs["elastic_password"]).start()
    try:
        inputs["elasticsearch_url"] = server.url
        inputs["__provider"] = pickled(
            elasticsearch_setup.ElasticsearchSecurityProvider(
                elasticsearch_setup.DEFAULT_DEADLINE_SECONDS
            )
        )
        engine = launched(resource["urn"])
        checked = engine.check(inputs)
        id_, outputs = engine.create(checked)
        for user, password in inputs["passwords"].items():
            assert server.authenticates(user, password), user
        assert server.authenticates("kibana_system", inputs["kibana_system_password"])
        assert set(inputs["ilm_policies"]) <= set(server.policies)

        writes = len(server.writes())
        assert engine.diff(id_, outputs, checked) == provider_pb2.DiffResponse.DIFF_NONE
        assert len(server.writes()) == writes  # a diff sends nothing

        user = sorted(inputs["passwords"])[0]
        changed = engine.check(
            {**inputs, "passwords": {**inputs["passwords"], user: "a-new-password-2"}}, checked
        )
        assert engine.diff(id_, outputs, changed) == provider_pb2.DiffResponse.DIFF_SOME
        updated = engine.update(id_, outputs, changed)
        assert server.authenticates(user, "a-new-password-2")
        assert not server.authenticates(user, inputs["passwords"][user])
        assert engine.diff(id_, updated, changed) == provider_pb2.DiffResponse.DIFF_NONE

        requests = len(server.requests)
        engine.delete(id_, updated)
        assert len(server.requests) == requests  # what it wrote lives in Elasticsearch's data
    finally:
        server.stop()
    NUMBERS.append(f"elasticsearch security provider: {engine.calls} gRPC calls")


def test_the_saved_objects_import_runs_in_the_launched_provider(launched):
    resource = declared("kibana-saved-objects")
    inputs = {k: v for k, v in resource["inputs"].items() if k != "__provider"}
    server = start_kibana()
    try:
        inputs["kibana_url"] = with_url(
            inputs["kibana_url"], f"http://127.0.0.1:{server.server_port}"
        )
        inputs["__provider"] = pickled(
            kibana_import.KibanaSavedObjectsProvider(kibana_import.DEFAULT_DEADLINE_SECONDS)
        )
        engine = launched(resource["urn"])
        checked = engine.check(inputs)
        id_, outputs = engine.create(checked)
        assert server.received == inputs["ndjson"]
        assert login(server.requests[-1]) == f"{inputs['username']}:{inputs['password']}"

        assert engine.diff(id_, outputs, checked) == provider_pb2.DiffResponse.DIFF_NONE
        # A new importer password alone leaves the imported objects as they are
        # (stack/kibana_import.py's contract): no change, nothing sent.
        new_login = engine.check({**inputs, "password": "a-new-password-2"}, checked)
        assert engine.diff(id_, outputs, new_login) == provider_pb2.DiffResponse.DIFF_NONE
        assert len(server.requests) == 1

        # New objects with the new password: a change, imported signed in with it.
        other = kibana_objects.render(slow_call_ms=4321)
        assert other != inputs["ndjson"]
        changed = engine.check({**inputs, "password": "a-new-password-2", "ndjson": other}, checked)
        assert engine.diff(id_, outputs, changed) == provider_pb2.DiffResponse.DIFF_SOME
        updated = engine.update(id_, outputs, changed)
        assert server.received == other
        assert login(server.requests[-1]) == f"{inputs['username']}:a-new-password-2"
        assert engine.diff(id_, updated, changed) == provider_pb2.DiffResponse.DIFF_NONE

        engine.delete(id_, updated)
        assert len(server.requests) == 2
    finally:
        server.shutdown()
        server.server_close()
    NUMBERS.append(f"kibana saved-objects provider: {engine.calls} gRPC calls")


def login(request: tuple[str, dict, bytes]) -> str:
    _path, headers, _body = request
    scheme, token = headers["Authorization"].split(" ", 1)
    assert scheme == "Basic"
    return base64.b64decode(token).decode()
