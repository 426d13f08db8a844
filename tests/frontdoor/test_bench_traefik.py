"""`make bench`'s Traefik scenario: the arithmetic, and one short real run through Traefik."""

import json

import pytest

from scripts import bench


def measurement(target, connections, rps, p50):
    return bench.Measurement(target, bench.TRAEFIK_PATH, connections, rps, p50, p50 * 3, 0)


def test_overhead_is_traefik_minus_direct_at_each_connection_count():
    results = [
        measurement("service-fibonacci", 1, 4000.0, 0.20),
        measurement(bench.TRAEFIK_TARGET, 1, 3000.0, 0.45),
        measurement("service-fibonacci", 32, 7000.0, 4.0),
        measurement(bench.TRAEFIK_TARGET, 32, 5600.0, 5.0),
        measurement("bare", 32, 9000.0, 3.0),
    ]
    overhead = bench.traefik_overhead(results, "service-fibonacci")
    assert set(overhead) == {1, 32}
    assert overhead[1]["added_p50_ms"] == pytest.approx(0.25)
    assert overhead[1]["throughput_ratio"] == pytest.approx(0.75)
    assert overhead[32]["added_p50_ms"] == pytest.approx(1.0)
    assert overhead[32]["throughput_ratio"] == pytest.approx(0.8)


def test_results_page_states_the_numbers_the_machine_and_the_verdicts(tmp_path):
    overhead = bench.traefik_overhead(
        [
            measurement("service-fibonacci", 32, 7000.0, 4.0),
            measurement(bench.TRAEFIK_TARGET, 32, 3500.0, 8.0),
        ],
        "service-fibonacci",
    )
    page = tmp_path / "results.md"
    bench.write_results_md(page, overhead, {"rounds": 3, "seconds": 3}, bench.machine_note())
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
        (bench.TRAEFIK_TARGET, 1),
        (bench.TRAEFIK_TARGET, 4),
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
