"""The service's metrics as Prometheus reads them: every series exists at 0 before traffic,
with the contract's names and buckets, and each application instance counts on its own."""

from app.contract import (
    COMPUTE_DURATION,
    HISTOGRAM_BUCKETS,
    REJECTED_TOTAL,
    REJECTION_REASONS,
    REQUEST_DURATION,
    REQUESTS_IN_FLIGHT,
)
from tests.app.helpers import CODES, counted, counts, running_service


def test_every_series_exists_before_the_first_call():
    with running_service("factorial") as case:
        response = case.request("/metrics")
        assert response.code == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        assert counts(case) == dict.fromkeys(CODES, 0.0)
        labels = {"function": "factorial"}
        assert case.sample(REQUESTS_IN_FLIGHT, **labels) == 0
        for histogram in (REQUEST_DURATION, COMPUTE_DURATION):
            assert case.sample(f"{histogram}_count", **labels) == 0
            for bound in HISTOGRAM_BUCKETS:
                assert case.sample(f"{histogram}_bucket", le=str(float(bound)), **labels) == 0


def test_two_instances_keep_separate_metrics():
    with running_service("fibonacci") as first, running_service("fibonacci") as second:
        assert first.request("/fibonacci/3/").code == 200
        assert counted(first, "200") == 1
        assert counted(second, "200") == 0


def test_every_rejection_reason_is_counted_from_0():
    with running_service("ackermann") as case:
        for reason in REJECTION_REASONS:
            assert case.sample(REJECTED_TOTAL, function="ackermann", reason=reason) == 0, reason
