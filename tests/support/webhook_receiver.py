"""A stand-in for Logstash's HTTP input: an HTTP server that keeps every JSON body POSTed to it.

In-process (tests/stack/): `Webhook()` listens on 127.0.0.1 and holds the notifications.
In a container on the lab network (tests/live/): `python3 webhook_receiver.py PORT` prints each
one to stdout as a JSON line `{"received": <unix time>, "path": ..., "body": ...}`, which the
test reads back with `docker logs`. Standard library only, so it runs in the lab's python
stand-in image as it is.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Webhook:
    """Keeps every notification; `on_receive(record)` is called with each one as well."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        on_receive: Callable[[dict], None] | None = None,
    ) -> None:
        self.notifications: list[dict] = []
        self.authorizations: list[str | None] = []  # each notification's Authorization header
        self.changed = threading.Condition()
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                record = {"received": time.time(), "path": self.path, "body": json.loads(body)}
                with webhook.changed:
                    webhook.authorizations.append(self.headers.get("Authorization"))
                    webhook.notifications.append(record["body"])
                    webhook.changed.notify_all()
                if on_receive is not None:
                    on_receive(record)
                # Logstash's HTTP input answers 200 with "ok" once the event is queued.
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.url = f"http://{host}:{self.server.server_port}/alerts"

    def start(self) -> Webhook:
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def wait_for(self, found: Callable[[list[dict]], bool], timeout: float = 20) -> list[dict]:
        with self.changed:
            self.changed.wait_for(lambda: found(self.notifications), timeout=timeout)
            return list(self.notifications)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _print_record(record: dict) -> None:
    print(json.dumps(record, sort_keys=True), flush=True)


def main(argv: list[str]) -> None:
    webhook = Webhook(host="0.0.0.0", port=int(argv[1]), on_receive=_print_record)
    print(json.dumps({"listening": webhook.server.server_port}), flush=True)
    webhook.server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
