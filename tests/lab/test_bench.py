"""`make bench` (lab/bench.py, lab/bench_results.py): wrk's output parsed, the ratios and
Traefik's overhead computed right, and short real runs when wrk is installed."""

import json

import pytest

from lab import bench, bench_results
from lab.bench_results import Measurement

WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:8080/fibonacci/10/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.10ms  512.00us  12.00ms   90.00%
  Latency Distribution
     50%  850.00us
     75%    4.20ms
     90%    4.50ms
     99%    1.20s
  22000 requests in 3.00s, 4.00MB read
  Non-2xx or 3xx responses: 7
Requests/sec:   7333.21
Transfer/sec:      1.33MB
"""


def test_parse_wrk_reads_rate_percentiles_in_ms_and_errors():
    assert bench.parse_wrk(WRK_OUTPUT) == (7333.21, 0.85, 1200.0, 7)


def test_a_short_bench_run_writes_every_target_and_ratio(wrk, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "BUILD", tmp_path)
    output = tmp_path / "bench.json"
    code = bench.main(
        ["--seconds", "1", "--rounds", "1", "--connections", "2", "--output", str(output)]
    )
    assert code == 0
    summary = json.loads(output.read_text())
    rows = {(row["target"], row["path"]): row for row in summary["results"]}
    assert set(rows) == {("bare", "/")} | {
        (f"service-{path.split('/')[1]}", path) for path in bench.FUNCTION_PATHS
    }
    bare = rows[("bare", "/")]
    assert bare["ratio_to_baseline"] is None  # the baseline has none of its own
    for row in rows.values():
        assert row["non_2xx"] == 0, row
        assert row["connections"] == 2, row
        # wrk's percentiles are latencies of the same run: 0 < p50 <= p99.
        assert 0 < row["p50_ms"] <= row["p99_ms"], row
        # Little's law for wrk's closed loop (each connection sends its next request when
        # the answer arrives): mean latency = connections / rate, and at least half the
        # calls take p50 or more, so mean >= p50 / 2. A rate or a latency read in the wrong
        # unit (k, us vs ms) breaks this bound.
        assert row["requests_per_second"] <= 2 * row["connections"] / (row["p50_ms"] / 1000), row
    for path in bench.FUNCTION_PATHS:
        row = rows[(f"service-{path.split('/')[1]}", path)]
        assert row["baseline"] == "bare", row
        assert row["ratio_to_baseline"] == pytest.approx(
            row["requests_per_second"] / bare["requests_per_second"]
        ), row


def test_ackermann_is_compared_with_the_fibonacci_service_not_with_traefik(capsys):
    targets = [
        bench.Target("bare", "http://b", ("/",)),
        bench.Target("service-fibonacci", "http://f", ("/fibonacci/10/",), "bare"),
        bench.Target("service-ackermann", "http://a", ("/ackermann/3/4/",), "bare"),
        bench.Target("traefik-fibonacci", "http://t", ("/fibonacci/10/",), "service-fibonacci"),
    ]

    def measured(target: str, path: str, rate: float) -> Measurement:
        return Measurement(target, path, 1, rate, 0.2, 0.4, 0)

    results = [
        measured("bare", "/", 1000),
        measured("service-fibonacci", "/fibonacci/10/", 800),
        measured("service-ackermann", "/ackermann/3/4/", 760),
        measured("traefik-fibonacci", "/fibonacci/10/", 400),
    ]
    summary = bench.report(targets, results)
    assert summary["ackermann_vs_fibonacci"] == {1: 760 / 800}
    ratios = {r["target"]: r["ratio_to_baseline"] for r in summary["results"]}
    assert ratios == {
        "bare": None,
        "service-fibonacci": 0.8,
        "service-ackermann": 0.76,
        "traefik-fibonacci": 0.5,
    }
    assert "ackermann/3/4 vs fibonacci/10 at c=1: 95.0%" in capsys.readouterr().out


def measurement(target, connections, rps, p50):
    return Measurement(target, bench_results.TRAEFIK_PATH, connections, rps, p50, p50 * 3, 0)


def test_overhead_is_traefik_minus_direct_at_each_connection_count():
    results = [
        measurement("service-fibonacci", 1, 4000.0, 0.20),
        measurement(bench_results.TRAEFIK_TARGET, 1, 3000.0, 0.45),
        measurement("service-fibonacci", 32, 7000.0, 4.0),
        measurement(bench_results.TRAEFIK_TARGET, 32, 5600.0, 5.0),
        measurement("bare", 32, 9000.0, 3.0),
    ]
    overhead = bench_results.traefik_overhead(results, "service-fibonacci")
    assert set(overhead) == {1, 32}
    assert overhead[1]["added_p50_ms"] == pytest.approx(0.25)
    assert overhead[1]["throughput_ratio"] == pytest.approx(0.75)
    assert overhead[32]["added_p50_ms"] == pytest.approx(1.0)
    assert overhead[32]["throughput_ratio"] == pytest.approx(0.8)


def test_results_page_states_the_numbers_the_machine_and_the_verdicts(tmp_path):
    overhead = bench_results.traefik_overhead(
        [
            measurement("service-fibonacci", 32, 7000.0, 4.0),
            measurement(bench_results.TRAEFIK_TARGET, 32, 3500.0, 8.0),
        ],
        "service-fibonacci",
    )
    page = tmp_path / "results.md"
    bench_results.write_results_md(
        page, overhead, {"rounds": 3, "seconds": 3}, bench_results.machine_note()
    )
    text = page.read_text()
    assert "| 32 | 7000 | 3500 | 50% | 4.000 | 8.000 | 4.000 |" in text
    assert "CPUs" in text
    assert "added p50 4.000 ms (missed), throughput 50% (missed)" in text


def test_a_short_run_measures_the_same_service_direct_and_through_traefik(
    wrk, tmp_path, monkeypatch
):
    monkeypatch.setattr(bench, "BUILD", tmp_path)
    output, page = tmp_path / "bench.json", tmp_path / "bench-results.md"
    short = ["--seconds", "1", "--rounds", "1", "--connections", "1,4"]
    code = bench.main(
        ["--traefik-only", *short, "--output", str(output), "--results-md", str(page)]
    )
    assert code == 0
    summary = json.loads(output.read_text())
    targets = {(row["target"], row["connections"]) for row in summary["results"]}
    assert targets == {
        ("service-fibonacci", 1),
        ("service-fibonacci", 4),
        (bench_results.TRAEFIK_TARGET, 1),
        (bench_results.TRAEFIK_TARGET, 4),
    }
    overhead = summary["traefik"]["overhead"]
    assert set(overhead) == {"1", "4"}
    for row in overhead.values():
        assert row["non_2xx"] == 0
        assert row["traefik_rps"] > 0
        assert row["direct_rps"] > 0
        # A proxy hop cannot make the same call faster by more than noise.
        assert row["traefik_p50_ms"] > 0.5 * row["direct_p50_ms"]
    assert "| 4 |" in page.read_text()
