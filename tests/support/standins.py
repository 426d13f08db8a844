"""Local HTTP servers that answer as Grafana, Elasticsearch and Kibana document (Logstash:
logstash_standin.py).

Those products cannot run on the build machines, so the checks written against their APIs
run against these instead: `running_api()` answers whatever routes a test declares and
records every request; `FakeKibana` validates a saved-objects import as Kibana 8.19 does.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: object


@dataclass
class FakeApi:
    """Routes (method, path) -> handler(request) -> (status, JSON-able body)."""

    url: str = ""
    routes: dict[tuple[str, str], Callable[[Request], tuple[int, object]]] = field(
        default_factory=dict
    )
    requests: list[Request] = field(default_factory=list)

    def answer(self, method: str, path: str, status: int, body: object) -> None:
        self.routes[(method, path)] = lambda _request: (status, body)

    def asked(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if (r.method, r.path) == (method, path)]


def json_answer(
    handler: BaseHTTPRequestHandler, status: int, document: object, separators=None
) -> None:
    """Answer `document` as JSON with `status` (compact with `separators=(",", ":")`)."""
    payload = json.dumps(document, separators=separators).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


@contextlib.contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    """Serve in a background thread until the block ends."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def running_api() -> Iterator[FakeApi]:
    """A FakeApi on a free loopback port; an undeclared route answers 404 as the products do."""
    fake = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = Request(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
                json.loads(raw) if raw else None,
            )
            fake.requests.append(request)
            route = fake.routes.get((self.command, parts.path))
            status, body = route(request) if route else (404, {"message": "Not found"})
            json_answer(self, status, body)

        do_GET = do_POST = _serve

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    with serving(server):
        yield fake


class FakeKibana(BaseHTTPRequestHandler):
    """Answers 503 `unready` times, each of `refusals` once, then validates the import as
    Kibana 8.19 documents it:
    POST /api/saved_objects/_import?overwrite=true, a kbn-xsrf header, and a
    multipart/form-data body whose `file` part carries the NDJSON."""

    def do_POST(self):
        server = self.server
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server.requests.append((self.path, dict(self.headers), body))
        if server.unready > 0:
            server.unready -= 1
            return json_answer(self, 503, {"statusCode": 503, "error": "Service Unavailable"})
        if server.refusals:
            status = server.refusals.pop(0)
            return json_answer(self, status, refusal(status, self.path))
        problem = self._problem(body)
        if problem:
            return json_answer(self, 400, {"statusCode": 400, "message": problem})
        return json_answer(self, 200, import_answer(server.received, server.existing))

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

    def log_message(self, *args):
        pass


def import_answer(ndjson: str, existing: frozenset = frozenset()) -> dict:
    """The import's answer as Kibana 8.19 builds it, HTTP 200 either way.

    elastic/kibana src/core/packages/saved-objects/import-export-server-internal/src/import/
    import_saved_objects.ts: `success` is `errors.length === 0`, `successCount` counts the
    objects written, and each object whose references resolve neither in the file nor among
    existing objects is left out with `error: {type: "missing_references", references}`
    (lib/validate_references.ts).
    """
    objects = [json.loads(line) for line in ndjson.splitlines() if line.strip()]
    known = set(existing) | {(o["type"], o["id"]) for o in objects}
    errors, written = [], []
    for saved in objects:
        missing = [
            {"type": ref["type"], "id": ref["id"]}
            for ref in saved.get("references", [])
            if (ref["type"], ref["id"]) not in known
        ]
        if missing:
            errors.append(
                {
                    "id": saved["id"],
                    "type": saved["type"],
                    "title": saved["attributes"].get("title", ""),
                    "meta": {"title": saved["attributes"].get("title", "")},
                    "error": {"type": "missing_references", "references": missing},
                }
            )
        else:
            written.append({"type": saved["type"], "id": saved["id"], "meta": {}})
    answer = {"success": not errors, "successCount": len(written), "warnings": []}
    if written:
        answer["successResults"] = written
    if errors:
        answer["errors"] = errors
    return answer


def refusal(status: int, path: str) -> dict:
    """Kibana 8.19's refusals: 401 from authentication, 403 from the API privilege check
    (x-pack/platform/plugins/shared/security/server/authorization/api_authorization.ts)."""
    if status == 401:
        return {"statusCode": 401, "error": "Unauthorized", "message": "[security_exception]"}
    message = (
        f"API [POST {path}] is unauthorized for user, this action is granted by the Kibana"
        " privileges [savedObjectsManagement]"
    )
    return {"statusCode": 403, "error": "Forbidden", "message": message}


def start_kibana(
    unready: int = 0, port: int = 0, refusals: tuple[int, ...] = ()
) -> ThreadingHTTPServer:
    """A FakeKibana serving in the background; the caller shuts it down. It answers 503
    `unready` times, then each status of `refusals` (401/403) once, then as Kibana does."""
    server = ThreadingHTTPServer(("127.0.0.1", port), FakeKibana)
    server.unready, server.requests, server.received = unready, [], ""
    server.refusals = list(refusals)
    server.existing = frozenset()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class FakeStatus(BaseHTTPRequestHandler):
    """Health endpoints of Kibana, Grafana and Elasticsearch in the state `server.level`.

    - Kibana `GET <basePath>/api/status` (elastic/kibana core status route `routes/status.ts`):
      503 only when the overall level is `unavailable` or `critical`; `available` and
      `degraded` both answer 200, so `curl -f` passes on a degraded Kibana.
    - Grafana `GET <sub path>/api/health` (grafana/grafana pkg/api/health.go): 200 with
      `database: ok`, 503 with `database: failing` when the database check fails.
    - Elasticsearch `GET /_cluster/health?wait_for_status=yellow&timeout=2s`
      (elastic/elasticsearch RestClusterHealthAction / ClusterHealthResponse): 200 once the
      status is reached, 408 with `timed_out: true` when it is not (red).
    """

    def do_GET(self):
        level, path = self.server.level, urlsplit(self.path).path
        if path.endswith("/api/status"):
            code = 503 if level in ("unavailable", "critical") else 200
            body = {"status": {"overall": {"level": level, "summary": f"Kibana is {level}"}}}
            return json_answer(self, code, body)
        if path.endswith("/api/health"):
            healthy = level == "available"
            body = {"database": "ok" if healthy else "failing", "version": "11.6.5"}
            return json_answer(self, 200 if healthy else 503, body)
        if path == "/_cluster/health":
            login = getattr(self.server, "login", None)
            if login and self.headers.get("Authorization") != _basic(login):
                # Elasticsearch with security on: 401 and its Basic challenge.
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="security", charset="UTF-8"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            colour = {"available": "green", "degraded": "yellow"}.get(level, "red")
            wanted = parse_qs(urlsplit(self.path).query).get("wait_for_status", ["green"])[0]
            reached = ["red", "yellow", "green"].index(colour) >= ["red", "yellow", "green"].index(
                wanted
            )
            body = {"status": colour, "timed_out": not reached, "number_of_nodes": 1}
            return json_answer(self, 200 if reached else 408, body)
        return json_answer(self, 404, {"statusCode": 404})

    def log_message(self, *args):
        pass


def _basic(login: str) -> str:
    return "Basic " + base64.b64encode(login.encode()).decode()


def start_status(level: str = "available", login: str | None = None) -> ThreadingHTTPServer:
    """A FakeStatus at `level`: available, degraded, unavailable or critical; with `login`
    (`user:password`), Elasticsearch's health answers only to that Basic login."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeStatus)
    server.level = level
    server.login = login
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
