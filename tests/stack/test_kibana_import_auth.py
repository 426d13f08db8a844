"""stack/kibana_import.py with security on: the import signs in as the importer user (HTTP basic),
a refused login fails at once naming the user, and the password never becomes an output."""

from __future__ import annotations

import base64
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dashboards import kibana_objects
from stack import kibana_import
from stack.configs import elasticsearch_security as security
from tests.support.standins import json_answer, serving, start_kibana

NDJSON = kibana_objects.render(slow_call_ms=5)
PASSWORD = 'imp "orter" pw'


def test_the_import_signs_in_as_the_importer(kibana):
    answer = kibana_import.import_saved_objects(
        f"http://127.0.0.1:{kibana.server_port}/kibana",
        NDJSON,
        username=security.KIBANA_IMPORTER_USER,
        password=PASSWORD,
    )
    assert answer["success"] is True
    (_path, headers, _body) = kibana.requests[0]
    scheme, token = headers["Authorization"].split(" ", 1)
    assert scheme == "Basic"
    assert base64.b64decode(token).decode() == f"{security.KIBANA_IMPORTER_USER}:{PASSWORD}"


class Refusing(BaseHTTPRequestHandler):
    """Kibana's answer to a wrong login: 401 with its JSON error (security plugin)."""

    def do_POST(self):
        self.server.count += 1
        refusal = {"statusCode": 401, "error": "Unauthorized", "message": "[security_exception]"}
        json_answer(self, 401, refusal)

    def log_message(self, *args):
        pass


def test_a_persistent_refusal_fails_within_the_bound_naming_the_user():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    server.count = 0
    bound = 0.5
    started = time.monotonic()
    with serving(server), pytest.raises(RuntimeError) as failure:
        kibana_import.import_saved_objects(
            f"http://127.0.0.1:{server.server_port}/kibana",
            NDJSON,
            username=security.KIBANA_IMPORTER_USER,
            password="wrong",
            retry_delay_seconds=0.05,
            auth_retry_seconds=bound,
        )
    elapsed = time.monotonic() - started
    assert f"as {security.KIBANA_IMPORTER_USER}: HTTP 401" in str(failure.value)
    assert "[security_exception]" in str(failure.value)
    assert server.count > 1  # retried ...
    assert elapsed < bound + 5  # ... within the bound, not until the 300 s deadline


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_while_kibana_registers_its_privileges_is_retried(status):
    """Kibana registers its feature privileges with Elasticsearch asynchronously after start
    (elastic/kibana 8.19 x-pack/platform/plugins/shared/security/server/authorization/
    authorization_service.tsx start()); the first imports may be refused, then succeed."""
    server = start_kibana(refusals=(status,) * 3)
    try:
        answer = kibana_import.import_saved_objects(
            f"http://127.0.0.1:{server.server_port}/kibana",
            NDJSON,
            username=security.KIBANA_IMPORTER_USER,
            password=PASSWORD,
            retry_delay_seconds=0.05,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert answer["success"] is True
    assert len(server.requests) == 4
    assert server.received == NDJSON


def test_an_error_other_than_unready_or_refused_fails_at_once(kibana):
    """A 400 (a malformed import) is not retried."""
    with pytest.raises(RuntimeError, match="HTTP 400"):
        kibana_import.import_saved_objects(
            f"http://127.0.0.1:{kibana.server_port}/not-kibana",
            NDJSON,
            retry_delay_seconds=0.05,
        )
    assert len(kibana.requests) == 1


def test_the_password_is_no_output_and_a_new_password_alone_does_not_reimport():
    props = {
        "kibana_url": "http://k",
        "ndjson": NDJSON,
        "trigger": "t",
        "username": security.KIBANA_IMPORTER_USER,
        "password": PASSWORD,
    }
    outputs = kibana_import._outputs(props, {"successCount": 1})
    assert PASSWORD not in json.dumps(outputs)
    provider = kibana_import.KibanaSavedObjectsProvider()
    assert provider.diff("id", outputs, {**props, "password": "other"}).changes is False
