"""promtool scenarios of the per-replica alerts (the incident drills' alerts), one sample every
5 s as the lab scrapes: fibonacci-1 goes bad at 65 s, fibonacci-2 stays good and must not be
named. test_prometheus_rules.py runs them with the other alerts' scenarios."""

_DURATION = "lab_request_duration_seconds"
_F1 = 'job="fibonacci",instance="fibonacci-1:8080"'
_F2 = 'job="fibonacci",instance="fibonacci-2:8080"'
_F1_LABELS = {"job": "fibonacci", "instance": "fibonacci-1:8080", "function": "fibonacci"}

SCENARIOS = {
    "LabReplicaSlow": {
        "interval": "5s",
        "input_series": [
            # 2 calls a second; their mean time goes from 1 ms to 200 ms at 65 s.
            {"series": f"{_DURATION}_sum{{{_F1}}}", "values": "0+0.01x12 2.12+2x20"},
            {"series": f"{_DURATION}_count{{{_F1}}}", "values": "0+10x32"},
            {"series": f"{_DURATION}_sum{{{_F2}}}", "values": "0+0.01x32"},
            {"series": f"{_DURATION}_count{{{_F2}}}", "values": "0+10x32"},
        ],
        "checks": [("60s", []), ("70s", []), ("90s", [_F1_LABELS])],
    },
    "LabReplicaErrors": {
        "interval": "5s",
        "input_series": [
            {"series": f'lab_requests_total{{{_F1},code="200"}}', "values": "0+10x32"},
            {"series": f'lab_requests_total{{{_F1},code="500"}}', "values": "0x12 5+5x20"},
            {"series": f'lab_requests_total{{{_F2},code="200"}}', "values": "0+10x32"},
            {"series": f'lab_requests_total{{{_F2},code="500"}}', "values": "0x32"},
        ],
        "checks": [("60s", []), ("65s", []), ("90s", [_F1_LABELS])],
    },
    "LabReplicaMemoryHigh": {
        "interval": "5s",
        # 128 MiB limit; fibonacci-1 grows 8 MB per scrape from 65 s and passes 80 % at 105 s.
        "input_series": [
            {"series": f"process_resident_memory_bytes{{{_F1}}}", "values": "4e7x12 4.8e7+8e6x20"},
            {"series": f"process_resident_memory_bytes{{{_F2}}}", "values": "4e7x32"},
            {
                "series": f'lab_memory_limit_bytes{{{_F1},function="fibonacci"}}',
                "values": "134217728x32",
            },
            {
                "series": f'lab_memory_limit_bytes{{{_F2},function="fibonacci"}}',
                "values": "134217728x32",
            },
        ],
        "checks": [("60s", []), ("100s", []), ("130s", [_F1_LABELS])],
    },
}
