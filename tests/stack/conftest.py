"""`declared`: the program's resources under each shared config (tests/stack/captured.py)."""

import pytest

from tests.stack.captured import CONFIGS, declared_under


@pytest.fixture(params=sorted(CONFIGS))
def declared(request) -> dict:
    return declared_under(request.param)
