"""The Kibana saved-objects import against a local HTTP server that checks each request as the
Kibana 8.19 API reference specifies it: POST /api/saved_objects/_import?overwrite=true, a
kbn-xsrf header, and a multipart/form-data body whose `file` part carries the NDJSON.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from dashboards import kibana_objects
from stack import kibana_import

NDJSON = kibana_objects.render(slow_call_ms=5)


class FakeKibana(BaseHTTPRequestHandler):
    """Answers 503 `unready` times, then validates the import like Kibana does."""

    def do_POST(self):
        server = self.server
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server.requests.append((self.path, dict(self.headers), body))
        if server.unready > 0:
            server.unready -= 1
            return self._answer(503, {"statusCode": 503, "error": "Service Unavailable"})
        problem = self._problem(body)
        if problem:
            return self._answer(400, {"statusCode": 400, "message": problem})
        lines = [line for line in server.received.splitlines() if line.strip()]
        return self._answer(200, {"success": True, "successCount": len(lines)})

    def _problem(self, body: bytes) -> str | None:
        url = urlsplit(self.path)
        if url.path != "/kibana/api/saved_objects/_import":
            return f"path {url.path}"
        if parse_qs(url.query) != {"overwrite": ["true"]}:
            return f"query {url.query}"
        if "kbn-xsrf" not in {key.lower() for key in self.headers}:
            return "missing kbn-xsrf"
        content_type = self.headers["Content-Type"]
        if not content_type.startswith("multipart/form-data; boundary="):
            return f"content type {content_type}"
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        parts = list(message.iter_parts())
        if len(parts) != 1:
            return f"{len(parts)} parts"
        (part,) = parts
        if part.get_param("name", header="content-disposition") != "file":
            return "part is not named file"
        if not part.get_filename().endswith(".ndjson"):
            return f"filename {part.get_filename()}"
        self.server.received = part.get_payload(decode=True).decode()
        return None

    def _answer(self, status: int, document: dict):
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def start_kibana(unready: int = 0, port: int = 0) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), FakeKibana)
    server.unready, server.requests, server.received = unready, [], ""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


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
    result = subprocess.run(
        [sys.executable, "-c", PICKLED_CREATE, blob, base_url(server), NDJSON],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["id"] == kibana_import.RESOURCE_ID
    assert created["outs"]["content_hash"] == kibana_import.content_hash(NDJSON)
    assert created["outs"]["success_count"] == len(NDJSON.strip().splitlines())
    assert "ndjson" in created["outs"]
    assert base64.b64decode(blob)  # the provider really travelled as bytes
