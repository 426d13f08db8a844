"""The benchmark's wrk parsing, and one short real run when wrk is installed."""

import json

from lab import bench

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
    for path in bench.FUNCTION_PATHS:
        row = rows[(f"service-{path.split('/')[1]}", path)]
        assert row["non_2xx"] == 0
        assert row["requests_per_second"] > 0
        assert row["ratio_to_baseline"] > 0


def test_ackermann_is_compared_with_the_fibonacci_service_not_with_traefik(capsys):
    targets = [
        bench.Target("bare", "http://b", ("/",)),
        bench.Target("service-fibonacci", "http://f", ("/fibonacci/10/",), "bare"),
        bench.Target("service-ackermann", "http://a", ("/ackermann/3/4/",), "bare"),
        bench.Target("traefik-fibonacci", "http://t", ("/fibonacci/10/",), "service-fibonacci"),
    ]

    def measured(target: str, path: str, rate: float) -> bench.Measurement:
        return bench.Measurement(target, path, 1, rate, 0.2, 0.4, 0)

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
