"""Issue 19 on the Swarm lab: one call followed by its W3C trace id through what the lab on
Swarm keeps of it. `test_trace_id_everywhere` is collected in tests/swarm/test_lab_on_swarm.py,
which imports it (through conftest, so that module stays within the line limit) and so gives
it its deployed `lab`; this module is not a test module itself."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from app.contract import EXEMPLAR_TRACE_LABEL, REQUEST_DURATION, TRACERESPONSE_HEADER
from tests.dashboards.logstash_shape import traefik_trace_id
from tests.support.ecs_fields import flatten
from tests.support.swarm_cluster import wait_for
from tests.support.swarm_harness import SWARM_SERVICE
from tests.swarm.lab_support import prometheus_api, received


def exemplar_trace_ids(swarm, prometheus: str, function: str) -> set[str]:
    """The trace ids of the function's latency exemplars Prometheus stored (the last 2 min)."""
    data = prometheus_api(
        swarm,
        prometheus,
        "/api/v1/query_exemplars",
        query=f'{REQUEST_DURATION}_bucket{{function="{function}"}}',
        start=str(time.time() - 120),
        end=str(time.time() + 1),
    )
    return {
        exemplar["labels"].get(EXEMPLAR_TRACE_LABEL)
        for series in data or ()
        for exemplar in series["exemplars"]
    }


def lines_of_trace(receiver, service: str, trace_id: str) -> list[dict]:
    """Lines of `service`'s tasks at the GELF receiver whose trace id (the replica's
    `trace.id`, or Traefik's header as the Logstash branch maps it) is `trace_id`."""
    found = []
    for message in received(receiver):
        text = message.get("short_message") or ""
        if (message.get("_container_name") or "").startswith(f"{service}.") and text[:1] == "{":
            line = json.loads(text)
            if trace_id in (flatten(line).get("trace.id"), traefik_trace_id(line)):
                found.append(line)
    return found


def follow_one_trace(swarm, url: str, service: Callable[[str], str], function: str) -> str:
    """A call through Traefik with a traceparent: its answer's `traceresponse`, the replica's
    and Traefik's lines at the state node's GELF input and a Prometheus exemplar carry the
    caller's trace id. The call is repeated until it, not a probe's, is the exemplar
    Prometheus stored. `service`: a part's Swarm service name. Returns what to report."""
    trace_id = os.urandom(16).hex()
    request = urllib.request.Request(
        url, headers={"traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01"}
    )
    started = time.monotonic()

    def exemplar_stored() -> bool:
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.headers[TRACERESPONSE_HEADER].split("-")[1] == trace_id
        return trace_id in exemplar_trace_ids(swarm, service("prometheus"), function)

    assert wait_for("the call's exemplar in Prometheus", exemplar_stored, 90, interval=1)
    (receiver,) = swarm.manager.client.containers.list(
        filters={"label": f"{SWARM_SERVICE}={service('logstash')}"}
    )
    parts = (service(function), service("traefik"))
    assert wait_for(
        "the replica's and Traefik's lines of the call at the GELF input",
        lambda: all(lines_of_trace(receiver, part, trace_id) for part in parts),
        30,
    )
    return (
        f"trace on swarm: {trace_id} in the answer, in the replica's and Traefik's lines at "
        f"the GELF input and as a Prometheus exemplar ({time.monotonic() - started:.1f} s)"
    )


def test_trace_id_everywhere(swarm, lab):
    """A call through the Swarm lab's Traefik: follow_one_trace on the deployed services."""
    from tests.swarm.conftest import report  # conftest imports this module

    harness, url = lab

    def service(part: str) -> str:
        return next(name for name in harness.services if name.endswith(f"-{part}"))

    report(follow_one_trace(swarm, url, service, urlsplit(url).path.split("/")[1]))
