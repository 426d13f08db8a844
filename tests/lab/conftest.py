"""Fixtures of the front-door tests: one LocalLab for the package, and the stand-in function API."""

from collections.abc import Iterator

import pytest

from lab.local import LocalLab
from tests.support.function_api import FunctionApi


@pytest.fixture(scope="package")
def local_lab() -> Iterator[LocalLab]:
    """One LocalLab (real app replicas and Traefik, no Prometheus) shared by the tests."""
    with LocalLab(replicas=2, with_prometheus=False) as lab:
        yield lab


@pytest.fixture
def fake_api() -> Iterator[FunctionApi]:
    with FunctionApi() as api:
        yield api
