"""What tests/swarm/test_lab_on_swarm.py runs beside the lab: calls through Traefik, questions
to the Prometheus task, and a stand-in GELF receiver in place of Logstash's input (the Elastic
images cannot run here), with the lines it received."""

from __future__ import annotations

import copy
import json
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from stack.configs import web_config
from tests.support import provider_model as model
from tests.support.live_lab import STANDIN_IMAGES
from tests.support.swarm_harness import CONFIG, NETWORK, SECRET, SERVICE
from tests.support.swarm_nodes import copy_images
from tests.swarm.conftest import report
from tests.swarm.services import HEALTHCHECK, PYTHON_IMAGE

# A GELF input on TCP (NUL-terminated JSON, as Docker's driver frames it: go-gelf
# tcpwriter.go) and UDP (gzip or zlib datagrams, unchunked): one JSON line per message on
# stdout, with the fields the test reads.
GELF_RECEIVER = """
import gzip, json, signal, socketserver, sys, threading, zlib
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
PORT = int(sys.argv[1])
def emit(raw):
    try:
        if raw[:2] == b"\\x1f\\x8b":
            raw = gzip.decompress(raw)
        elif raw[:1] == b"\\x78":
            raw = zlib.decompress(raw)
        message = json.loads(raw)
    except Exception as error:
        print(json.dumps({"error": repr(error)[:200]}), flush=True)
        return
    keys = ("host", "_container_name", "_tag", "short_message")
    print(json.dumps({key: message.get(key) for key in keys}), flush=True)
class Stream(socketserver.StreamRequestHandler):
    def handle(self):
        buffer = b""
        while chunk := self.request.recv(65536):
            *messages, buffer = (buffer + chunk).split(b"\\0")
            for message in messages:
                if message:
                    emit(message)
class Datagram(socketserver.BaseRequestHandler):
    def handle(self):
        emit(self.request[0])
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer.daemon_threads = True
udp = socketserver.ThreadingUDPServer(("", PORT), Datagram)
threading.Thread(target=udp.serve_forever, daemon=True).start()
socketserver.ThreadingTCPServer(("", PORT), Stream).serve_forever()
"""


def gelf_receiver(logstash: dict, port: int) -> dict:
    """The declared Logstash service (its name, state-node constraint, host-mode GELF port,
    network alias and volume) running GELF_RECEIVER from the Python stand-in instead."""
    inputs = copy.deepcopy(logstash)
    task = inputs["taskSpec"]
    spec = task["containerSpec"]
    for key in ("configs", "secrets", "env", "args", "user"):
        spec.pop(key, None)
    spec["image"] = PYTHON_IMAGE
    spec["commands"] = ["python3", "-c", GELF_RECEIVER, str(port)]
    check = HEALTHCHECK["Test"][:3]
    spec["healthcheck"] = {
        "tests": [
            *check,
            f"import socket; socket.create_connection(('127.0.0.1', {port}), 2).close()",
        ],
        "interval": "1s",
        "timeout": "2s",
        "retries": 3,
        "startPeriod": "1s",
    }
    # The JVM's memory is not needed, and its reservation would crowd the state node.
    mib = 64 * 1024 * 1024
    task["resources"] = {"limits": {"memoryBytes": mib}, "reservation": {"memoryBytes": mib}}
    return inputs


def received(container) -> list[dict]:
    """The GELF messages the receiver printed so far."""
    lines = container.logs(stdout=True, stderr=False).decode(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


class Traffic:
    """Calls /fibonacci/10/ through Traefik from a few threads; notes when calls fail."""

    def __init__(self, url: str, threads: int = 4, timeout: float = 10.0) -> None:
        self.url, self.timeout = url, timeout
        self.ok = 0
        self.failures: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=self.timeout) as answer:
                    assert json.load(answer)["result"] == "55"
                self.ok += 1
            except Exception as error:  # every kind of failure counts
                self.failures.append((time.monotonic(), repr(error)[:120]))
                time.sleep(0.05)

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)


def prometheus_api(swarm, service: str, path: str, **params: str):
    """`data` of a Prometheus API answer, asked inside its task on the state node (None if
    it does not answer)."""
    (container,) = swarm.manager.client.containers.list(
        filters={"label": f"com.docker.swarm.service.name={service}"}
    )
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    # Signed in as the lab's monitoring user, the header read from its secret file (issue 22).
    header = f'"Authorization: $(cat {web_config.AUTH_HEADER_FILE})"'
    url = f"'http://localhost:9090{path}{query}'"
    code, output = container.exec_run(["sh", "-c", f"wget -qO- --header {header} {url}"])
    if code:
        return None
    return json.loads(output)["data"]


def instances_up(swarm, service: str, job: str) -> set[str]:
    """Instances of `up{job=...} == 1`."""
    data = prometheus_api(swarm, service, "/api/v1/query", query=f'up{{job="{job}"}} == 1')
    return {r["metric"]["instance"] for r in data["result"]} if data else set()


def unhealthy(swarm, services) -> list[str]:
    """Task containers of these services, on any node, not (yet) healthy."""
    found = []
    for node in swarm.nodes:
        for container in node.client.containers.list(
            filters={"label": "com.docker.swarm.service.name"}
        ):
            if container.labels["com.docker.swarm.service.name"] not in services:
                continue
            health = container.attrs["State"].get("Health", {}).get("Status", "none")
            if health not in ("healthy", "none"):
                found.append(f"{node.name}:{container.name}:{health}")
    return found


def load_lab_images(swarm, app_image: str) -> dict[str, float]:
    """The images of the Swarm lab on its nodes, one archive per set (the stand-ins share their
    Debian layers), both sets at once: what may run on any node goes to every node, the
    manager's (it is the state node) to it only. Returns each node's load time."""
    anywhere = [app_image, STANDIN_IMAGES["blackbox"], STANDIN_IMAGES["node_exporter"]]
    state = [STANDIN_IMAGES[part] for part in ("traefik", "prometheus", "alertmanager")]
    with ThreadPoolExecutor(2) as pool:
        on_manager = pool.submit(copy_images, swarm.host, [swarm.manager], state)
        loads = swarm.load_images(anywhere)
        on_manager.result()
    return loads


def declared_root_read_only(swarm, harness, name: str, container) -> bool:
    """Whether the service `name` declares a read-only root; its task `container` must have
    the root it declares."""
    service = swarm.manager.client.services.get(harness.services[name]).attrs
    declared = service["Spec"]["TaskTemplate"]["ContainerSpec"].get("ReadOnly", False)
    assert container.attrs["HostConfig"]["ReadonlyRootfs"] == declared, (container.name, name)
    return declared


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except Exception:
        return False


def alive(node) -> bool:
    try:
        return bool(node.client.ping())
    except Exception:
        return False


def _as_applied(inputs: dict, harness) -> dict:
    """A service's declared inputs as the harness applied them: the mocks' ids of networks,
    configs and secrets as their real ids, the app image as the stand-in loaded on the nodes."""
    inputs = harness.with_real_ids(inputs)
    spec = inputs["taskSpec"]["containerSpec"]
    spec["image"] = harness.images.get(spec["image"], spec["image"])
    for key, id_key in (("configs", "configId"), ("secrets", "secretId")):
        for reference in spec.get(key) or []:
            reference[id_key] = harness.ids.get(reference[id_key], reference[id_key])
    return inputs


def second_plan(api, harness) -> str:
    """The docker provider's plan for every network, config, secret and service the harness
    applied, from what the manager answers (tests/support/provider_model.py: Read rules of
    terraform-provider-docker v4.5.0 resource_docker_service_funcs.go
    resourceDockerServiceReadRefreshFunc with resource_docker_service_structures.go's flatten*
    and shortDur; the schema's diff). Reports the numbers; returns what would change ("" when
    the second plan is empty), so test_lab_on_swarm.py runs it before it drains and rolls."""
    plans = []
    for resource in harness.applied:
        inputs = resource.inputs
        name = inputs["name"]
        if resource.type == SERVICE:
            inputs = _as_applied(inputs, harness)
        prior = model.created_state(resource.type, inputs)
        if resource.type == NETWORK:
            state = model.read_network(api.inspect_network(name), prior)
        elif resource.type == CONFIG:
            state = model.read_config(api.inspect_config(name), prior)
        elif resource.type == SECRET:
            state = model.read_secret(api.inspect_secret(name), prior)
        else:
            state = model.read_service(api.inspect_service(name), prior)
        plan = model.plan(resource.type, resource.urn, state, inputs, resource.options)
        plans.append((resource.type, plan))
    kinds = Counter(type_token.split(":")[-1] for type_token, _ in plans)
    actions = Counter(plan.action for _, plan in plans)
    assert kinds["Service"] >= 8
    assert kinds["Network"] >= 1
    report(
        f"second plan, swarm: {len(plans)} resources read back from the manager and diffed "
        f"({', '.join(f'{n} {kind}' for kind, n in sorted(kinds.items()))}): "
        f"{actions[model.UPDATE]} updates, {actions[model.REPLACE]} replacements"
    )
    return "\n".join(plan.describe() for _, plan in plans if plan.action != model.NONE)
