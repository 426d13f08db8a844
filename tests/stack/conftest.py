"""`declared`: the program's resources under each shared config (tests/stack/captured.py)."""

import pytest

from tests.stack.captured import CONFIGS, declared_under
from tests.support.standins import start_kibana


@pytest.fixture(params=sorted(CONFIGS))
def declared(request) -> dict:
    return declared_under(request.param)


@pytest.fixture
def kibana():
    """A local server answering as Kibana's saved-objects import API does (standins.py)."""
    server = start_kibana()
    yield server
    server.shutdown()
    server.server_close()
