"""Every container input is in the harness table (tests/support/harness_table.py), so a new
argument cannot be translated, or ignored, without a stated provider behaviour.

The provider side cites kreuzwerker/terraform-provider-docker v4.5.0
internal/provider/resource_docker_container_funcs.go (create/update/read).
"""

from tests.stack.captured import CONFIGS, containers, declared_under
from tests.support.harness_inputs import CONTAINER, KNOWN_INPUTS
from tests.support.harness_table import CONTAINER_INPUTS


def test_the_table_covers_exactly_what_the_harness_translates():
    assert set(CONTAINER_INPUTS) == set(KNOWN_INPUTS[CONTAINER])


def test_every_declared_container_input_is_in_the_table():
    for config in CONFIGS:
        for name, container in containers(declared_under(config)).items():
            missing = set(container["inputs"]) - set(CONTAINER_INPUTS)
            assert not missing, f"{config} {name}: inputs not in the harness table {missing}"


def test_every_row_states_both_sides():
    for key, (provider, harness, _difference) in CONTAINER_INPUTS.items():
        assert provider, key
        assert harness, key
