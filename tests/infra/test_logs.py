"""Log shipping: a function container, with the log settings the program declares when the logs
part is on, sends its ECS lines through the Docker daemon's gelf driver to a UDP listener on
127.0.0.1 that stands in for Logstash; the lines arrive intact.
"""

from __future__ import annotations

import gzip
import json
import zlib

import pytest

from lab.gelf_receiver import GelfReceiver
from lab.support import wait_until
from tests.support.declared import CAPTURE_DIR
from tests.support.ecs_fields import flatten
from tests.support.harness import CONTAINER, Harness
from tests.support.live_lab import LiveLab, declared_with

pytestmark = pytest.mark.live
CHUNK_MAGIC = b"\x1e\x0f"


def decode_gelf(datagrams: list[bytes]) -> list[dict]:
    """GELF messages from UDP datagrams: chunked, gzip, zlib or plain, as the driver sends."""
    chunks: dict[bytes, dict[int, bytes]] = {}
    counts: dict[bytes, int] = {}
    payloads = []
    for datagram in datagrams:
        if datagram.startswith(CHUNK_MAGIC):
            message_id, sequence, count = datagram[2:10], datagram[10], datagram[11]
            chunks.setdefault(message_id, {})[sequence] = datagram[12:]
            counts[message_id] = count
            if len(chunks[message_id]) == count:
                payloads.append(b"".join(chunks[message_id][i] for i in range(count)))
        else:
            payloads.append(datagram)
    messages = []
    for payload in payloads:
        if payload.startswith(b"\x1f\x8b"):
            payload = gzip.decompress(payload)
        elif payload[:1] == b"\x78":
            payload = zlib.decompress(payload)
        messages.append(json.loads(payload))
    return messages


def test_decode_gelf_reassembles_chunks_and_decompresses():
    message = {"version": "1.1", "short_message": "x" * 3000, "host": "h"}
    raw = gzip.compress(json.dumps(message).encode())
    pieces = [raw[i : i + 500] for i in range(0, len(raw), 500)]
    chunked = [
        CHUNK_MAGIC + b"12345678" + bytes([i, len(pieces)]) + p for i, p in enumerate(pieces)
    ]
    plain = json.dumps({"short_message": "y"}).encode()
    decoded = decode_gelf([*reversed(chunked), zlib.compress(plain), plain])
    assert decoded == [message, {"short_message": "y"}, {"short_message": "y"}]


def ecs_lines(messages: list[dict]) -> list[dict]:
    return [flatten(json.loads(m["short_message"])) for m in messages]


def access_line(lines: list[dict], path: str) -> dict | None:
    return next((line for line in lines if line.get("url.path") == path), None)


def test_gelf_driver_ships_ecs_lines_intact(lab: LiveLab, docker_client):
    """The declared replica's log options, over TCP as declared, to a receiver in Logstash's
    place (lab/gelf_receiver.py reads the driver's NUL-framed messages)."""
    messages: list[dict] = []
    with GelfReceiver("tcp", lambda message: messages.append(message) or True) as receiver:
        declared = declared_with(
            lab, **{"lab:logs": True, "lab:ports": {**lab.ports, "gelf": receiver.port}}
        )
        fibonacci = [
            r.inputs
            for r in declared
            if r.type == CONTAINER
            and {"label": "lab.function", "value": "fibonacci"} in r.inputs["labels"]
        ]
        assert fibonacci, "the program declares no fibonacci replica with the logs part on"
        inputs = fibonacci[0]
        assert inputs["logDriver"] == "gelf"
        assert inputs["logOpts"]["gelf-address"] == f"tcp://127.0.0.1:{receiver.port}"

        probe_name = f"{inputs['name']}-gelf-probe"
        # Same settings; only the name changes and the aliases go, so Traefik never routes to
        # it. The image is the running replica's: the app's tag is a hash of app/, which may
        # have moved since the session's stack was applied.
        probe = {
            **inputs,
            "name": probe_name,
            "image": lab.containers[inputs["name"]]["image"],
            "networksAdvanced": [{"name": n["name"]} for n in inputs["networksAdvanced"]],
        }
        harness = lab.harness or Harness(docker_client, CAPTURE_DIR)
        path = "/fibonacci/10/"
        container_id = harness.create_container(probe, {"lab.probe": "gelf"})
        try:
            docker_client.api.start(container_id)
            harness.wait_healthy({probe_name: probe}, timeout=60)
            request = (
                f"import urllib.request; urllib.request.urlopen("
                f"'http://127.0.0.1:8080{path}').read()"
            )
            docker_client.containers.get(container_id).exec_run(["python", "-c", request])
            wait_until(
                lambda: access_line(ecs_lines(list(messages)), path) is not None,
                timeout=20,
                what=f"the access line of {path} at the receiver",
            )
            logged = docker_client.api.logs(container_id).decode().splitlines()
        finally:
            docker_client.api.remove_container(container_id, force=True, v=True)

    lines = ecs_lines(list(messages))
    line = access_line(lines, path)
    assert line is not None, f"no access line for {path} among {lines}"
    assert messages[0]["version"] == "1.1"
    assert {m["_container_name"] for m in messages} == {probe_name}
    # Intact: each shipped line is byte for byte a line the container wrote to stdout.
    assert {m["short_message"] for m in messages} <= set(logged)
    flat = line
    assert flat["http.response.status_code"] == 200
    assert flat["http.request.method"] == "GET"
    assert flat["log.level"] == "info"
    assert flat["service.name"] == "lab-fibonacci"
    assert flat["event.dataset"] == "lab.access"
    assert flat["lab.function"] == "fibonacci"
    assert flat["lab.arguments"] == "10"
    assert flat["ecs.version"]
    assert isinstance(flat["event.duration"], int)
    assert flat["event.duration"] > 0
    starts = [entry for entry in lines if entry.get("event.action") == "service-start"]
    assert starts, "the start-up line (event.action: service-start) was not shipped"
