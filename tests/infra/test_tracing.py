"""One trace id, followed everywhere in the running lab (issue 19): calls through Traefik with
and without a W3C `traceparent`; for a call, the answer's `traceresponse`, the replica's ECS
access line, Traefik's JSON access line (as Logstash maps it onto `trace.id`) and an exemplar
read back from the real Prometheus (`/api/v1/query_exemplars`, prometheus/prometheus v2.42
web/api/v1/api.go queryExemplars) carry the same id.

The blackbox probes call each function every scrape, and a histogram bucket keeps only its
latest exemplar, so a call's exemplar can be replaced before Prometheus scrapes it: the test
calls until one of its own calls is the exemplar Prometheus stored, then follows that call.
"""

from __future__ import annotations

import json
import os
import time

import pytest
import requests

from app.contract import EXEMPLAR_TRACE_LABEL, REQUEST_DURATION, TRACERESPONSE_HEADER
from lab.gelf_receiver import GelfReceiver
from lab.support import wait_until
from stack.settings import TRAEFIK_WEB_PORT
from tests.dashboards.logstash_shape import traefik_trace_id
from tests.support.declared import CAPTURE_DIR
from tests.support.ecs_fields import flatten
from tests.support.harness import CONTAINER, Harness
from tests.support.live_lab import LiveLab, declared_with

pytestmark = pytest.mark.live
FUNCTION = "fibonacci"
PATH = "/fibonacci/30/"


def stored_exemplar_ids(lab: LiveLab, since: float) -> set[str]:
    response = requests.get(
        lab.url("prometheus") + "/api/v1/query_exemplars",
        params={
            "query": f'{REQUEST_DURATION}_bucket{{function="{FUNCTION}"}}',
            "start": since - 1,
            "end": time.time() + 1,
        },
        auth=lab.monitoring_login,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {
        exemplar["labels"].get(EXEMPLAR_TRACE_LABEL)
        for series in response.json()["data"]
        for exemplar in series["exemplars"]
    }


def json_lines(lab: LiveLab, container: str) -> list[dict]:
    text = lab.client.containers.get(container).logs(stdout=True, stderr=False).decode()
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.parts("prometheus")
@pytest.mark.parametrize("caller_sends", [True, False], ids=["traceparent", "no-header"])
def test_one_trace_id_on_answer_lines_and_exemplar(lab: LiveLab, caller_sends):
    since = time.time()
    trace_id = os.urandom(16).hex()
    answered: dict[str, str] = {}  # trace id of each call -> its traceresponse
    found: set[str] = set()

    def call_until_exemplar() -> bool:
        headers = {"traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01"} if caller_sends else {}
        response = requests.get(lab.url("api") + PATH, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        answer = response.headers[TRACERESPONSE_HEADER]
        answered[answer.split("-")[1]] = answer
        # Give Prometheus one scrape (5 s) to pick the call's exemplar up.
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            found.update(stored_exemplar_ids(lab, since) & set(answered))
            if found:
                return True
            time.sleep(0.5)
        return False

    wait_until(call_until_exemplar, timeout=90, what="one of the calls as an exemplar")
    followed = sorted(found)[0]
    if caller_sends:
        assert set(answered) == {trace_id}, "the replica kept the caller's trace"
        assert followed == trace_id
    version, _, span_id, flags = answered[followed].split("-")
    assert version == "00"
    assert int(flags, 16) & 0x01

    def replica_lines() -> list[dict]:
        return [
            line
            for name in lab.replicas(FUNCTION)
            for line in map(flatten, json_lines(lab, name))
            if line.get("trace.id") == followed
        ]

    def traefik_lines() -> list[dict]:
        return [
            line
            for line in json_lines(lab, lab.the_container("traefik"))
            if line.get("RequestPath") == PATH and traefik_trace_id(line) == followed
        ]

    wait_until(replica_lines, timeout=20, what=f"the replica's line of trace {followed}")
    wait_until(traefik_lines, timeout=20, what=f"Traefik's line of trace {followed}")
    spans = {line["span.id"] for line in replica_lines()}
    assert span_id in spans, (span_id, spans)
    for line in replica_lines():
        assert line["url.path"] == PATH
        assert line["transaction.id"] == line["span.id"]
    assert {line["DownstreamStatus"] for line in traefik_lines()} == {200}


@pytest.mark.parts("traefik")
def test_traefik_line_through_the_gelf_driver_maps_onto_the_trace_id(lab: LiveLab, docker_client):
    """Traefik as declared with the logs part on (its log options, over TCP, to a receiver in
    Logstash's place, as tests/infra/test_logs.py does for a replica): a call with a
    traceparent, sent from a replica to this Traefik on the lab network, arrives as a GELF
    message whose line the Logstash branch maps onto the caller's trace id."""
    messages: list[dict] = []
    with GelfReceiver("tcp", lambda message: messages.append(message) or True) as receiver:
        declared = declared_with(
            lab, **{"lab:logs": True, "lab:ports": {**lab.ports, "gelf": receiver.port}}
        )
        [inputs] = [
            r.inputs
            for r in declared
            if r.type == CONTAINER and LiveLab.labels_of(r.inputs).get("lab.part") == "traefik"
        ]
        assert inputs["logDriver"] == "gelf"
        probe_name = f"{inputs['name']}-trace-probe"
        # Same settings; the name changes, the aliases and host ports go, so nothing else
        # reaches it. The image is the running Traefik's.
        probe = {
            **inputs,
            "name": probe_name,
            "image": lab.containers[inputs["name"]]["image"],
            "ports": [],
            "networksAdvanced": [{"name": n["name"]} for n in inputs["networksAdvanced"]],
        }
        harness = lab.harness or Harness(docker_client, CAPTURE_DIR)
        trace_id = os.urandom(16).hex()
        traceparent = f"00-{trace_id}-{os.urandom(8).hex()}-01"
        container_id = harness.create_container(probe, {"lab.probe": "trace"})
        try:
            docker_client.api.start(container_id)
            harness.wait_healthy({probe_name: probe}, timeout=60)
            call = (
                "import urllib.request; urllib.request.urlopen(urllib.request.Request("
                f"'http://{probe_name}:{TRAEFIK_WEB_PORT}{PATH}', "
                f"headers={{'Host': 'localhost', 'traceparent': '{traceparent}'}})).read()"
            )
            replica = docker_client.containers.get(lab.replicas(FUNCTION)[0])
            result = replica.exec_run(["python", "-c", call])
            assert result.exit_code == 0, result.output.decode(errors="replace")

            def shipped() -> list[dict]:
                lines = []
                for message in list(messages):
                    text = message.get("short_message", "")
                    if text.startswith("{"):
                        line = json.loads(text)
                        if line.get("RequestPath") == PATH:
                            lines.append(line)
                return lines

            wait_until(shipped, timeout=20, what="the probe Traefik's access line at the receiver")
        finally:
            docker_client.api.remove_container(container_id, force=True, v=True)
    [line] = shipped()
    assert line["DownstreamStatus"] == 200
    assert line["request_Traceparent"] == traceparent
    assert traefik_trace_id(line) == trace_id
