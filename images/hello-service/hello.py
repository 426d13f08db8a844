"""A person's own HTTP service, as small as it gets: `/` greets, `/health` answers 200,
`/metrics` counts the calls in Prometheus' text format, and every call is one JSON line on
stdout. Standard library only; listens on $PORT (8081)."""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = os.environ.get("HELLO_NAME", "hello")
calls: dict[str, int] = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            with lock:
                lines = [
                    f'hello_requests_total{{path="{p}"}} {n}' for p, n in sorted(calls.items())
                ]
            body = "# TYPE hello_requests_total counter\n" + "\n".join(lines) + "\n"
            self._answer(200, body.encode(), "text/plain; version=0.0.4")
            return
        with lock:
            calls[path] = calls.get(path, 0) + 1
        if path in ("/", "/health"):
            self._answer(200, json.dumps({"service": NAME, "path": path}).encode())
        else:
            self._answer(404, json.dumps({"error": f"no {path}"}).encode())

    def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        line = {"message": format % args, "url.path": self.path, "service": NAME}
        sys.stdout.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8081"))), Handler)
    print(json.dumps({"message": "listening", "service": NAME}), flush=True)
    server.serve_forever()
