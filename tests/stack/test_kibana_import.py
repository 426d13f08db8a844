"""stack/kibana_import.py against a local server that checks each request as the Kibana 8.19
API reference specifies it (tests/support/standins.py, FakeKibana).
"""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from dashboards import kibana_objects
from stack import kibana_import
from tests.support.dynamic_providers import run_pickled
from tests.support.standins import start_kibana

NDJSON = kibana_objects.render(slow_call_ms=5)


@pytest.fixture
def kibana():
    servers = []

    def start(unready: int = 0, port: int = 0):
        servers.append(start_kibana(unready, port))
        return servers[-1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def base_url(server) -> str:
    return f"http://127.0.0.1:{server.server_port}/kibana"


def test_import_sends_exactly_what_kibana_documents(kibana):
    server = kibana()
    answer = kibana_import.import_saved_objects(base_url(server), NDJSON, retry_delay_seconds=0.05)
    assert answer["success"] is True
    assert server.received == NDJSON
    assert answer["successCount"] == len(NDJSON.strip().splitlines())
    (path, headers, _body) = server.requests[0]
    assert path == "/kibana/api/saved_objects/_import?overwrite=true"
    assert {key.lower(): value for key, value in headers.items()}["kbn-xsrf"]


def test_import_waits_through_503_then_succeeds(kibana):
    server = kibana(unready=3)
    answer = kibana_import.import_saved_objects(base_url(server), NDJSON, retry_delay_seconds=0.05)
    assert answer["success"] is True
    assert len(server.requests) == 4


def test_import_waits_while_the_connection_is_refused(kibana):
    probe = start_kibana()
    port = probe.server_port
    probe.shutdown()
    probe.server_close()  # nothing listens on `port` now
    threading.Timer(0.5, lambda: kibana(port=port)).start()
    started = time.monotonic()
    answer = kibana_import.import_saved_objects(
        f"http://127.0.0.1:{port}/kibana", NDJSON, retry_delay_seconds=0.1, deadline_seconds=10
    )
    assert answer["success"] is True
    assert time.monotonic() - started >= 0.4


def test_import_gives_up_within_its_deadline(kibana):
    server = kibana(unready=1000)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="not ready after"):
        kibana_import.import_saved_objects(
            base_url(server), NDJSON, retry_delay_seconds=0.05, deadline_seconds=0.5
        )
    assert time.monotonic() - started < 2


def test_a_rejected_request_fails_at_once(kibana):
    server = kibana()
    with pytest.raises(RuntimeError, match="HTTP 400"):
        kibana_import.import_saved_objects(
            f"http://127.0.0.1:{server.server_port}/elsewhere", NDJSON, retry_delay_seconds=0.05
        )
    assert len(server.requests) == 1


def test_diff_reimports_only_when_the_content_changes():
    provider = kibana_import.KibanaSavedObjectsProvider()
    olds = {
        "kibana_url": "http://127.0.0.1:5601/kibana",
        "trigger": "container-1",
        "content_hash": kibana_import.content_hash(NDJSON),
    }
    same = {"kibana_url": olds["kibana_url"], "trigger": "container-1", "ndjson": NDJSON}
    assert provider.diff("id", olds, same).changes is False
    changed = {**same, "ndjson": kibana_objects.render(slow_call_ms=50)}
    assert changed["ndjson"] != NDJSON
    assert provider.diff("id", olds, changed).changes is True
    assert provider.diff("id", olds, {**same, "trigger": "container-2"}).changes is True


PICKLED_CREATE = """
import base64, json, sys
import dill
provider = dill.loads(base64.b64decode(sys.argv[1]))
result = provider.create({"kibana_url": sys.argv[2], "ndjson": sys.argv[3], "trigger": "t"})
print(json.dumps({"id": result.id, "outs": result.outs}))
"""


def test_the_pickled_provider_runs_where_stack_cannot_be_imported(kibana, tmp_path):
    """Pulumi runs dynamic providers in a host process that cannot import stack/."""
    server = kibana(unready=1)
    blob = serialize_provider(kibana_import.KibanaSavedObjectsProvider(deadline_seconds=10))
    result = run_pickled(PICKLED_CREATE, blob, base_url(server), NDJSON, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["id"] == kibana_import.RESOURCE_ID
    assert created["outs"]["content_hash"] == kibana_import.content_hash(NDJSON)
    assert created["outs"]["success_count"] == len(NDJSON.strip().splitlines())
    assert "ndjson" in created["outs"]
    assert base64.b64decode(blob)  # the provider really travelled as bytes
