"""Logstash 8.19's monitoring API, as a local server: Logstash cannot run on the build machines,
so its health check, exporter and probe are run against this instead."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from tests.support.standins import json_answer


class FakeLogstash(BaseHTTPRequestHandler):
    """Logstash 8.19's monitoring API in one pipeline state (`server.state`).

    `GET /` answers 200 from the moment the API is up, whatever the pipelines do
    (elastic/logstash logstash-core/lib/logstash/api/modules/root.rb). `GET /_health_report`
    answers 200 too, with each pipeline's `details.status.state` and an indicator colour
    (logstash-core/src/main/java/org/logstash/health/PipelineIndicator.java: RUNNING green,
    LOADING and FINISHED yellow, TERMINATED red, UNKNOWN unknown; the top status is the worst).
    `GET /_node/stats/pipelines` answers `server.pipeline_stats` under `pipelines`, in the shape
    of logstash-core/lib/logstash/api/commands/stats.rb PluginsStats.report (`events`, `queue`,
    `dead_letter_queue` only when the DLQ is on).

    With `server.login` (`(user, password)`), every path asks it first, as `api.auth.type:
    basic` does (logstash-core/lib/logstash/webserver.rb wraps the whole app in
    `Rack::Auth::Basic.new(app, "logstash-api")`; rack 3.1 lib/rack/auth/basic.rb: no
    Authorization header or a wrong login 401 with the challenge and an empty body, another
    scheme 400). `server.logins` records the user each request signed in as.
    """

    COLOURS: ClassVar[dict[str, str]] = {
        "RUNNING": "green",
        "LOADING": "yellow",
        "FINISHED": "yellow",
        "TERMINATED": "red",
        "UNKNOWN": "unknown",
    }

    REALM = "logstash-api"

    def _refused(self) -> bool:
        """Rack::Auth::Basic#call: answered (True) unless the request's login is the one."""
        login = getattr(self.server, "login", None)
        if login is None:
            return False
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        decoded = base64.b64decode(token).decode(errors="replace")
        if not scheme:
            status = 401
        elif scheme.lower() != "basic" or ":" not in decoded:  # `basic?`: scheme and user:pw
            status = 400
        else:
            user, _, password = decoded.partition(":")
            self.server.logins.append(user)
            if (user, password) == tuple(login):
                return False
            status = 401
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "0")
        if status == 401:
            self.send_header("WWW-Authenticate", f'Basic realm="{self.REALM}"')
        self.end_headers()
        return True

    def do_GET(self):
        if self._refused():
            return
        state = self.server.state
        if self.path == "/":
            return self._compact(200, {"host": "logstash", "version": "8.19.4"})
        if self.path == "/_node/stats/pipelines":
            body = {"host": "logstash", "pipelines": getattr(self.server, "pipeline_stats", {})}
            return self._compact(200, body)
        if self.path != "/_health_report":
            return self._compact(404, {"path": self.path, "status": 404})
        colour = self.COLOURS[state] if state else "green"
        pipelines = (
            {"main": {"status": colour, "details": {"status": {"state": state}}}} if state else {}
        )
        indicators = {"pipelines": {"status": colour, "indicators": pipelines}}
        body = {"host": "logstash", "version": "8.19.4", "status": colour, "indicators": indicators}
        return self._compact(200, body)

    def _compact(self, status: int, document: object) -> None:
        """Logstash's API writes compact JSON (`"state":"RUNNING"`), which a check may grep."""
        json_answer(self, status, document, separators=(",", ":"))

    def log_message(self, *args):
        pass


def start_logstash(
    state: str | None = "RUNNING", login: tuple[str, str] | None = None
) -> ThreadingHTTPServer:
    """A FakeLogstash whose one pipeline `main` is in `state` (None: no pipeline loaded yet);
    with `login`, its API asks that user and password (api.auth.type basic)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLogstash)
    server.state, server.login, server.logins = state, login, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
