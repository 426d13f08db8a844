"""The rejected-requests panel shows a real refusal: a body sent to a replica of the real
service is refused before any handler runs (app/limits.py), and Prometheus' scrape of the
counter makes the panel's query name the function and the reason.

Its own small lab (one function, one replica), so the quiet-alert checks of test_real_data
never see the refusal.
"""

import http.client
import urllib.parse

import pytest

from dashboards import promql
from lab.local import LocalLab
from lab.support import get_json, wait_until
from tests.dashboards import promql_walk

FUNCTION = "fibonacci"
BODY = b"x" * 1_000_000


@pytest.fixture(scope="module")
def lab(prometheus_binary):
    with LocalLab(
        replicas=1, functions=(FUNCTION,), scrape_interval="1s", start_timeout=60
    ) as running:
        running.wait_for_targets(timeout=30)
        yield running


def query(lab: LocalLab, expr: str) -> list[dict]:
    url = f"{lab.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    return get_json(url)["data"]["result"]


@pytest.mark.slow
def test_a_refused_body_shows_on_the_rejected_requests_panel(lab):
    (replica,) = lab.service_urls[FUNCTION]
    connection = http.client.HTTPConnection(urllib.parse.urlsplit(replica).netloc, timeout=10)
    connection.request("GET", f"/{FUNCTION}/10/", body=BODY)
    status = connection.getresponse().status
    connection.close()
    assert status == 413
    panel = promql_walk.grafana_interpolate(
        promql.rejected_rate(promql.PICKED, "$__rate_interval"), (FUNCTION,), "30s"
    )
    seen = {}

    def body_too_large_shows() -> bool:
        nonlocal seen  # the panel's last answer, for the other reasons below
        seen = {
            (s["metric"]["function"], s["metric"]["reason"]): float(s["value"][1])
            for s in query(lab, panel)
        }
        return seen.get((FUNCTION, "body_too_large"), 0) > 0

    wait_until(
        body_too_large_shows,
        timeout=20,
        interval=0.5,
        what=f"a body_too_large rate for {FUNCTION} on the rejected-requests panel",
    )
    # Every other reason is there too, at 0: the counters are pre-created.
    assert all(value == 0 for (_, reason), value in seen.items() if reason != "body_too_large")
    print(f"rejected-requests panel: {seen}")
