"""A stand-in for Grafana's dashboard API under its sub-path, answering as grafana/grafana
pkg/api/dashboard.go does at 11.x: `GET /api/dashboards/uid/:uid` is 200 with
`{"dashboard": <model with its database id>, "meta": {..., "provisioned": bool}}`, 404 with
`{"message": "Dashboard not found"}` (getDashboardHelper), and 401 with
`{"message": "Invalid username or password"}` to a wrong basic-auth login. Standard library."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.standins import json_answer


class GrafanaStandIn:
    def __init__(self, password: str, sub_path: str = "/grafana") -> None:
        self.dashboards: dict[str, tuple[dict, dict]] = {}  # uid -> (model, meta)
        self.requests: list[str] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self, status: int, body: dict) -> None:
                json_answer(self, status, body)

            def do_GET(self) -> None:
                standin.requests.append(self.path)
                expected = base64.b64encode(f"admin:{password}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self.answer(401, {"message": "Invalid username or password"})
                    return
                prefix = f"{sub_path}/api/dashboards/uid/"
                if not self.path.startswith(prefix):
                    self.answer(404, {"message": "Not found"})
                    return
                found = standin.dashboards.get(self.path.removeprefix(prefix))
                if found is None:
                    self.answer(404, {"message": "Dashboard not found"})
                    return
                model, meta = found
                self.answer(200, {"dashboard": model, "meta": meta})

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{sub_path}/"

    def add(self, model: dict, *, provisioned: bool = False) -> None:
        meta = {
            "type": "db",
            "canSave": True,
            "slug": model["title"].lower(),
            "provisioned": provisioned,
        }
        self.dashboards[model["uid"]] = (model, meta)

    def start(self) -> GrafanaStandIn:
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
