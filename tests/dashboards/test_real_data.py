"""Proof against real data: every PromQL query returns data, every Kibana field exists.

One lab for the whole module (lab.local.LocalLab): the real function services, two
replicas each, behind the real Traefik binary, scraped every second by Debian's Prometheus.
Traffic with 200s, 400s and 404s goes through Traefik; then every expression found in the
rendered dashboard and rule file is evaluated over the HTTP API, and the services' own ECS
log lines, shaped as Logstash will shape them, must carry every field the Kibana objects use.
"""

import json
import math
import os
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.contract import FUNCTIONS
from dashboards import grafana_overview, kibana_objects, prometheus_rules, promql
from lab import local_host
from lab.local import LocalLab
from lab.support import wait_until
from stack.configs import elasticsearch_template
from tests.conftest import require_binary
from tests.dashboards import kibana_walk, logstash_shape, promql_walk
from tests.dashboards.proved_elsewhere import proved_elsewhere
from tests.support import index_templates
from tests.support.ecs_fields import flatten

REPLICAS = 2
# Grafana's $__rate_interval is at least four scrape intervals; with 1 s scrapes and a test
# that lasts seconds, 30 s covers all the traffic and always holds two samples or more.
RATE_INTERVAL = "30s"
SLOW_CALL_MS = 5

VALID_CALLS = {
    "fibonacci": ["/fibonacci/0/", "/fibonacci/10/", "/fibonacci/90/", "/fibonacci/400/"],
    "factorial": ["/factorial/0/", "/factorial/10/", "/factorial/400/"],
    "ackermann": ["/ackermann/0/0/", "/ackermann/2/2/", "/ackermann/3/4/"],
}
INVALID_CALLS = {
    "fibonacci": ["/fibonacci/401/", "/fibonacci/-1/", "/fibonacci/x/"],
    "factorial": ["/factorial/999/", "/factorial/abc/"],
    "ackermann": ["/ackermann/4/1/", "/ackermann/1/x/"],
}
ROUNDS = 5

ALL_DASHBOARD_EXPRESSIONS = list(
    promql_walk.dashboard_expressions(grafana_overview.build(FUNCTIONS))
)
ALL_RULE_EXPRESSIONS = list(promql_walk.rule_expressions(prometheus_rules.render(FUNCTIONS)))

DASHBOARD_EXPRESSIONS = [(w, e) for w, e in ALL_DASHBOARD_EXPRESSIONS if not proved_elsewhere(e)]
RULE_EXPRESSIONS = [(n, e) for n, e in ALL_RULE_EXPRESSIONS if not proved_elsewhere(e)]


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def prometheus_query(lab: LocalLab, expr: str) -> list[dict]:
    url = f"{lab.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:
        pytest.fail(f"Prometheus rejected {expr}: {error.read().decode()}")
    assert body["status"] == "success", body
    return body["data"]["result"]


def query_value(lab: LocalLab, expr: str) -> float | None:
    result = prometheus_query(lab, expr)
    return float(result[0]["value"][1]) if result else None


# Traefik creates its per-service and per-code series with their first request, so a rate()
# over them needs a sample taken after that request and another after the rest of the
# traffic: the traffic runs in two parts with a scrape between them.
TRAEFIK_TRAFFIC_METRICS = (
    "traefik_service_requests_total",
    "traefik_service_request_duration_seconds_count",  # its buckets are born with it
    "traefik_entrypoint_requests_total",
)


def wait_for_scrapes(lab: LocalLab, routed: int, samples: int) -> None:
    """Until the app's and Traefik's counters hold `routed` calls and each Traefik series
    born with the traffic has `samples` samples in the rate window."""

    def scraped() -> bool:
        app = query_value(lab, "sum(lab_requests_total)") or 0
        traefik = query_value(lab, 'sum(traefik_service_requests_total{service=~".+@file"})') or 0
        counts = [
            query_value(lab, f"min(count_over_time({name}[{RATE_INTERVAL}]))") or 0
            for name in TRAEFIK_TRAFFIC_METRICS
        ]
        return app >= routed and traefik >= routed and min(counts) >= samples

    wait_until(
        scraped,
        timeout=20,
        interval=0.25,
        what=f"Prometheus scraping the {routed} calls {samples} times",
    )


def call_round(api_url: str) -> list[str]:
    """Every valid and invalid call once, and one path no router matches."""
    paths = [path for table in (VALID_CALLS, INVALID_CALLS) for p in table.values() for path in p]
    return [api_url + path for path in [*paths, "/nowhere/1/"]]


def routed(calls: list[str]) -> int:
    return sum(1 for url in calls if "/nowhere/" not in url)


@pytest.fixture(scope="module")
def lab():
    """The running lab, after traffic, once Prometheus has scraped all of it."""
    with LocalLab(
        replicas=REPLICAS, with_prometheus=None, scrape_interval="1s", start_timeout=60
    ) as running:
        if running.prometheus_url:
            # A sample from before the traffic, or rate() sees two equal samples after it.
            running.wait_for_targets(timeout=30)
        first = call_round(running.api_url)
        rest = [url for _ in range(ROUNDS - 1) for url in call_round(running.api_url)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(get_status, first))
            if running.prometheus_url:
                wait_for_scrapes(running, routed(first), samples=1)
            statuses += pool.map(get_status, rest)
        assert statuses.count(200) == ROUNDS * sum(map(len, VALID_CALLS.values()))
        assert statuses.count(400) == ROUNDS * sum(map(len, INVALID_CALLS.values()))
        assert statuses.count(404) == ROUNDS
        if running.prometheus_url:
            wait_for_scrapes(running, routed(first + rest), samples=2)
        yield running


@pytest.fixture(scope="module")
def lab_with_prometheus(lab, prometheus_binary):
    assert lab.prometheus_url, "prometheus is installed but LocalLab did not start it"
    return lab


def assert_has_data(lab: LocalLab, expr: str, where: str) -> list[dict]:
    result = prometheus_query(lab, expr)
    assert result, f"{where}: no data for {expr}"
    values = [float(sample["value"][1]) for sample in result]
    assert any(not math.isnan(v) for v in values), f"{where}: only NaN for {expr}"
    return result


@pytest.mark.slow
@pytest.mark.parametrize(
    ("where", "expr"), DASHBOARD_EXPRESSIONS, ids=[w for w, _ in DASHBOARD_EXPRESSIONS]
)
def test_dashboard_query_returns_data(lab_with_prometheus, where, expr):
    if "node_" in expr:
        # The Host row: node-exporter runs in LocalLab when Debian's package is installed.
        require_binary(local_host.BINARIES[0])
    query = promql_walk.grafana_interpolate(expr, FUNCTIONS, RATE_INTERVAL)
    assert_has_data(lab_with_prometheus, query, where)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "expr"), RULE_EXPRESSIONS, ids=[n for n, _ in RULE_EXPRESSIONS])
def test_alert_expression_returns_data_and_is_quiet(lab_with_prometheus, name, expr):
    """The condition, turned into `bool`, returns a 0/1 per series: 0 on a healthy lab."""
    result = assert_has_data(lab_with_prometheus, promql_walk.as_bool(expr), name)
    firing = [s["metric"] for s in result if float(s["value"][1]) == 1]
    assert not firing, f"{name} would fire on a healthy lab for {firing}"


@pytest.mark.slow
def test_per_function_series_cover_every_function(lab_with_prometheus):
    """The "All" queries of the summary row return one series per function, not just some."""
    for where, expr in DASHBOARD_EXPRESSIONS:
        if "$function" not in expr or "by (function" not in expr:
            continue
        query = promql_walk.grafana_interpolate(expr, FUNCTIONS, RATE_INTERVAL)
        result = prometheus_query(lab_with_prometheus, query)
        seen = {sample["metric"].get("function") for sample in result}
        assert seen == set(FUNCTIONS), f"{where}: series for {seen} only"


@pytest.mark.slow
def test_function_variable_lists_every_function(lab_with_prometheus):
    """The variable's `label_values(lab_requests_total, function)`, as Grafana asks for it."""
    (variable,) = grafana_overview.build(FUNCTIONS)["templating"]["list"]
    metric, label = variable["query"].removeprefix("label_values(").rstrip(")").split(", ")
    url = f"{lab_with_prometheus.prometheus_url}/api/v1/label/{label}/values?" + (
        urllib.parse.urlencode({"match[]": metric})
    )
    with urllib.request.urlopen(url, timeout=10) as response:
        values = json.load(response)["data"]
    assert sorted(values) == sorted(FUNCTIONS)


@pytest.mark.slow
def test_traefik_overhead_is_plausible(lab_with_prometheus):
    """The overhead panel shows a number per function, and a small one: on loopback the
    proxy adds well under 100 ms (a loose bound, so a busy CI machine does not flake)."""
    expr = promql_walk.grafana_interpolate(
        promql.traefik_overhead(0.5, promql.PICKED, "$__rate_interval"),
        FUNCTIONS,
        RATE_INTERVAL,
    )
    values = [float(s["value"][1]) for s in prometheus_query(lab_with_prometheus, expr)]
    assert len(values) == len(FUNCTIONS)
    assert all(abs(v) < 0.1 for v in values), values


# -- Kibana fields against real log lines ---------------------------------------------------


@pytest.fixture(scope="module")
def documents(lab) -> list[dict]:
    """Every stdout line of every replica, as the document Logstash would index."""
    documents = []
    for function in FUNCTIONS:
        for replica in range(1, REPLICAS + 1):
            name = f"{function}-{replica}"
            log = (lab.workdir / "logs" / f"{name}.log").read_text()
            for line in log.splitlines():
                if line.startswith("{"):
                    message = logstash_shape.gelf_message(line, container=f"lab-dev-{name}")
                    documents.append(logstash_shape.shape(message))
    access = [d for d in documents if logstash_shape.lookup(d, "event.dataset")[1] == "lab.access"]
    assert len(access) >= len(INVALID_CALLS) * ROUNDS, "too few access lines in the logs"
    return documents


# The objects over the log lines (the alert events' are checked against their own template in
# test_kibana_objects.py).
KIBANA_OBJECTS = kibana_walk.on_data_view(
    kibana_walk.parse_objects(kibana_objects.render(slow_call_ms=SLOW_CALL_MS)),
    kibana_objects.DATA_VIEW_ID,
)
FIELDS = sorted({field for field, _ in kibana_walk.fields_used(KIBANA_OBJECTS)})
TEMPLATE_TYPES = index_templates.template_types(elasticsearch_template.template())


@pytest.mark.slow
@pytest.mark.parametrize("field", FIELDS)
def test_kibana_field_exists_in_real_documents_with_its_mapped_type(documents, field):
    uses = [where for f, where in kibana_walk.fields_used(KIBANA_OBJECTS) if f == field]
    assert field in TEMPLATE_TYPES, f"{field} (used by {uses}) is not in the index template"
    mapped = TEMPLATE_TYPES[field]
    values = [v for found, v in (logstash_shape.lookup(d, field) for d in documents) if found]
    assert values, f"{field} (used by {uses}) is in no real document"
    wrong = [v for v in values if not logstash_shape.value_fits(v, mapped)]
    assert not wrong, f"{field} is mapped {mapped} but real documents hold {wrong[:3]}"


@pytest.mark.slow
def test_saved_search_queries_select_the_right_documents(documents):
    """Each saved search's query, run over the real documents, finds what its title promises."""
    searches = {o["id"]: o for o in KIBANA_OBJECTS if o["type"] == "search"}

    def matching(search_id: str) -> list[dict]:
        kuery = kibana_walk.search_source(searches[search_id])["query"]["query"]
        return [d for d in documents if kibana_walk.kql_matches(kuery, d)]

    def status(document: dict) -> int:
        return logstash_shape.lookup(document, "http.response.status_code")[1]

    calls, errors = matching("lab-calls"), matching("lab-errors")
    routed = ROUNDS * sum(len(p) for t in (VALID_CALLS, INVALID_CALLS) for p in t.values())
    # Traefik's readiness probes add a few calls of their own.
    assert len(calls) >= routed
    assert {status(d) for d in calls} == {200, 400}
    assert errors
    assert all(status(d) >= 400 for d in errors)
    assert len(errors) == sum(1 for d in calls if status(d) >= 400)
    slow_ns = SLOW_CALL_MS * 1_000_000
    slow = matching("lab-slow-calls")
    expected_slow = [d for d in calls if logstash_shape.lookup(d, "event.duration")[1] > slow_ns]
    assert len(slow) == len(expected_slow)


@pytest.mark.slow
def test_visualization_aggregations_have_values_per_function(documents):
    """Each aggregated field has values for every function, so no chart has an empty series."""
    for saved in KIBANA_OBJECTS:
        if saved["type"] != "visualization":
            continue
        for agg in json.loads(saved["attributes"]["visState"])["aggs"]:
            field = agg["params"].get("field")
            if field is None or field == "@timestamp":
                continue
            for function in FUNCTIONS:
                found = [
                    d
                    for d in documents
                    if logstash_shape.lookup(d, "lab.function")[1] == function
                    and logstash_shape.lookup(d, field)[0]
                ]
                assert found, f"{saved['id']}: no {field} for {function}"


@pytest.mark.slow
def test_every_indexed_field_is_mapped_by_the_template(documents):
    """Nothing reaches Elasticsearch's dynamic mapping: each field of each real document (app
    fields and the GELF metadata the pipeline keeps) has its type in the index template."""
    seen = set().union(*(flatten(d) for d in documents))
    unmapped = sorted(seen - set(TEMPLATE_TYPES))
    assert not unmapped, f"fields the template does not map: {unmapped}"


@pytest.mark.slow
def test_host_row_matches_the_host(lab_with_prometheus):
    """node-exporter's numbers are this machine's: its CPUs, and the filesystem the Docker
    disk panel picks is the deepest mount point above Docker's data directory."""
    require_binary(local_host.BINARIES[0])
    cpus = query_value(lab_with_prometheus, 'count(node_cpu_seconds_total{mode="idle"})')
    assert cpus == os.cpu_count()
    path = promql.DOCKER_DATA_DIR
    # The mount table node-exporter reads (filesystem_linux.go: procfs 1/mounts); a bind
    # mount of the same disk is a mount point that os.path.ismount cannot see.
    with open("/proc/1/mounts") as table:
        mounted = {line.split()[1] for line in table}
    expected = next(m for m in promql.mountpoint_of(path) if m in mounted)
    (sample,) = prometheus_query(lab_with_prometheus, promql.disk_available(path))
    assert sample["metric"]["mountpoint"] == expected
    free = os.statvfs(expected).f_bavail * os.statvfs(expected).f_frsize
    assert abs(float(sample["value"][1]) - free) < 0.05 * free + 2**30
    print(f"host: {cpus:g} CPUs; {expected} holds {path} with {free / 2**30:.1f} GiB free")
