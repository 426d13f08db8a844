"""What the live Swarm tests run on the cluster: a tiny HTTP server as a service, a probe that
resolves and calls names from a container on the overlay, and their names and settings."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import docker.types

from tests.support.swarm_cluster import DEFAULT_PREFIX

PYTHON_IMAGE = "lab-standin/python:3.11"
OVERLAY = f"{DEFAULT_PREFIX}-overlay"
WEB = f"{DEFAULT_PREFIX}-web"
REPLICAS = 3
SECOND = 1_000_000_000  # the API's durations are nanoseconds

# A task's HTTP server: GET answers with the task's hostname and its node's (from the
# {{.Node.Hostname}} template in NODE); SIGTERM exits at once.
SERVER = """
import http.server, json, os, signal, socket, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"task": socket.gethostname(), "node": os.environ.get("NODE", "")})
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("", 8080), Handler).serve_forever()
"""
HEALTHCHECK = docker.types.Healthcheck(
    test=[
        "CMD",
        "python3",
        "-c",
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/', timeout=2)",
    ],
    interval=SECOND,
    timeout=2 * SECOND,
    retries=3,
    start_period=SECOND,
)
# Resolves each name given and GETs every address it resolves to: one JSON line per address.
PROBE = """
import json, socket, sys, urllib.request
for name in sys.argv[1:]:
    try:
        infos = socket.getaddrinfo(name, 8080, socket.AF_INET, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        print(json.dumps({"name": name, "error": str(exc)}))
        continue
    for ip in sorted({info[4][0] for info in infos}):
        try:
            answer = urllib.request.urlopen(f"http://{ip}:8080/", timeout=3).read()
            print(json.dumps({"name": name, "ip": ip, "answer": json.loads(answer)}))
        except OSError as exc:
            print(json.dumps({"name": name, "ip": ip, "error": str(exc)}))
"""


def server_service(swarm, name: str, **options):
    """Create a service running SERVER on the overlay, dnsrr unless told otherwise."""
    options.setdefault("endpoint_spec", docker.types.EndpointSpec(mode="dnsrr"))
    options.setdefault("networks", [OVERLAY])
    return swarm.manager.client.services.create(
        PYTHON_IMAGE,
        ["python3", "-c", SERVER],
        name=name,
        env=["NODE={{.Node.Hostname}}", *options.pop("env", [])],
        **options,
    )


def probe(node, *names: str) -> list[dict]:
    """Run PROBE in a plain container attached to the overlay on `node` (attachable)."""
    output = node.client.containers.run(
        PYTHON_IMAGE, ["python3", "-c", PROBE, *names], network=OVERLAY, remove=True
    )
    return [json.loads(line) for line in output.decode().splitlines() if line.strip()]


def http_get(url: str, timeout: float = 3.0) -> dict | str:
    """The JSON answer of a GET, or the error as text."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except (OSError, urllib.error.URLError) as exc:
        return f"error: {exc}"
