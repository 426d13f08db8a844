"""Test helpers: a service instance in-process with its metrics and log lines at hand."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from tornado.testing import AsyncHTTPTestCase

from app.access_log import make_formatter
from app.contract import EXPECTED_CODES, REQUESTS_TOTAL
from app.handlers import make_app
from tests.support.ecs_fields import flatten

# The codes the service pre-creates in lab_requests_total, as /metrics shows them.
CODES = tuple(str(code) for code in EXPECTED_CODES)


def counted(case: ServiceCase, code: str) -> float | None:
    return case.sample(REQUESTS_TOTAL, function=case.function, code=code)


def counts(case: ServiceCase) -> dict[str, float | None]:
    return {code: counted(case, code) for code in CODES}


class ServiceCase(AsyncHTTPTestCase):
    """One application instance; used through `running_service`, not collected itself."""

    function = "fibonacci"
    tracing = True

    def get_app(self):
        self.registry = CollectorRegistry()
        self.log_stream = io.StringIO()
        handler = logging.StreamHandler(self.log_stream)
        handler.setFormatter(make_formatter(self.function))
        # A logger outside logging's registry: no global state shared between tests.
        self.logger = logging.Logger(f"test.{self.function}")
        self.logger.addHandler(handler)
        self.logger.setLevel(logging.INFO)
        return make_app(
            self.function, registry=self.registry, logger=self.logger, tracing=self.tracing
        )

    def runTest(self) -> None:  # unittest wants one; the tests drive the case themselves
        pass

    def request(self, path: str, method: str = "GET"):
        body = b"" if method in ("POST", "PUT", "PATCH") else None
        return self.fetch(path, method=method, body=body, allow_nonstandard_methods=True)

    def log_lines(self) -> list[dict]:
        return [flatten(json.loads(line)) for line in self.log_stream.getvalue().splitlines()]

    def sample(self, name: str, **labels: str) -> float | None:
        """A sample of /metrics, read the way Prometheus reads it."""
        text = self.request("/metrics").body.decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return None


@contextmanager
def running_service(function: str, *, tracing: bool = True) -> Iterator[ServiceCase]:
    attributes = {"function": function, "tracing": tracing}
    case = type(f"{function.title()}Case", (ServiceCase,), attributes)()
    case.setUp()
    try:
        yield case
    finally:
        case.tearDown()
