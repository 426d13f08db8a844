"""The docker provider's rules over the containers the program declares (under mocks).

pulumi-docker 5.2.0 bridges kreuzwerker/terraform-provider-docker v4.5.0; the facts below come
from its internal/provider/resource_docker_container.go (schema), resource_docker_container_funcs.go
(create/update/read) and validators.go, as docs/product-rules.md (D1-D4) records them with lines.
"""

import re

import pytest

from tests.stack.captured import CONFIGS, containers, declared_under

# resource_docker_container_funcs.go, resourceDockerContainerUpdate: the only attributes updated
# in place; every other argument is ForceNew in resource_docker_container.go (replace).
UPDATED_IN_PLACE = {
    *("restart", "maxRetryCount", "cpuShares", "memory", "memoryReservation", "cpuSet"),
    "memorySwap",
}
# Neither ForceNew nor in the update list: a change is a no-op update of the running container.
NEITHER_REPLACED_NOR_UPDATED = {"healthcheck", "tmpfs"}
# What the program relies on replacing the container (a new image, config file, env or check
# must reach the running container; docs/architecture.md, stack/containers.py).
RELIED_ON_TO_REPLACE = {"image", "uploads", "envs", "command", "ports", "volumes", "labels"}
# Create: `time.ParseDuration(raw)` with the error dropped, so a non-Go duration becomes 0.
GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
# Schema ValidateFunc of `restart`.
RESTART_VALUES = {"no", "on-failure", "always", "unless-stopped"}
# Create: `hostConfig.Memory = memory * 1024 * 1024` (MB); Docker refuses under 6 MB.
DOCKER_MIN_MEMORY_MB = 6


@pytest.fixture(params=sorted(CONFIGS))
def declared_containers(request) -> dict[str, dict]:
    return containers(declared_under(request.param))


def test_arguments_the_program_relies_on_force_replacement():
    """resource_docker_container_funcs.go resourceDockerContainerUpdate (in-place list)."""
    assert not RELIED_ON_TO_REPLACE & (UPDATED_IN_PLACE | NEITHER_REPLACED_NOR_UPDATED)


def test_logstash_replaces_on_a_health_check_change():
    """resource_docker_container.go: `healthcheck` is not ForceNew and not updated, so the
    pipeline-aware check (issue 10) reaches an existing Logstash only through
    replace_on_changes (Pulumi's step_generator.go applyReplaceOnChanges)."""
    for name, container in containers(declared_under("default")).items():
        if name.endswith("logstash"):
            assert "healthcheck" in container["options"]["replace_on_changes"], name


def test_every_health_check_change_reaches_its_container():
    """As above, for every container with a healthcheck."""
    for name, container in containers(declared_under("default")).items():
        if container["inputs"].get("healthcheck"):
            assert "healthcheck" in container["options"]["replace_on_changes"], name


def test_healthcheck_durations_are_go_durations(declared_containers):
    """resource_docker_container_funcs.go create: healthcheck interval/timeout/start_period
    through time.ParseDuration, errors ignored."""
    for name, container in declared_containers.items():
        check = container["inputs"].get("healthcheck")
        if not check:
            continue
        assert check["tests"][0] in ("CMD", "CMD-SHELL", "NONE"), name
        for key in ("interval", "timeout", "startPeriod"):
            if key in check:
                assert GO_DURATION.match(check[key]), f"{name}: {key} {check[key]!r}"


def test_memory_is_whole_megabytes(declared_containers):
    """resource_docker_container_funcs.go create: memory is an int in MB times 1024*1024."""
    for name, container in declared_containers.items():
        memory = container["inputs"].get("memory")
        if memory is not None:
            assert float(memory).is_integer(), f"{name}: memory {memory}"
            assert memory >= DOCKER_MIN_MEMORY_MB, f"{name}: memory {memory} MB"


def test_restart_log_opts_and_uploads_have_the_provider_s_forms(declared_containers):
    """resource_docker_container.go: restart's ValidateFunc, log_opts a map of strings
    (mapTypeMapValsToString), each upload with exactly one of content/content_base64/source
    and an octal permission string."""
    for name, container in declared_containers.items():
        inputs = container["inputs"]
        if "restart" in inputs:
            assert inputs["restart"] in RESTART_VALUES, f"{name}: restart {inputs['restart']}"
        for key, value in inputs.get("logOpts", {}).items():
            assert isinstance(value, str), f"{name}: log_opts {key}={value!r}"
        for upload in inputs.get("uploads", []):
            sources = [k for k in ("content", "contentBase64", "source") if upload.get(k)]
            assert len(sources) == 1, f"{name}: upload {upload['file']} sources {sources}"
            if "permissions" in upload:  # validators: ^0[0-7]{3}$, parsed base 8
                assert re.fullmatch(r"0[0-7]{3}", upload["permissions"]), (name, upload)


def test_wait_has_a_healthcheck_and_time_for_it(declared_containers):
    """resource_docker_container.go schema and funcs (create): `wait` waits for *healthy*
    state after creation, up to `wait_timeout` seconds (default 60); without a healthcheck
    there is no health to wait for."""
    for name, container in declared_containers.items():
        inputs = container["inputs"]
        if not inputs.get("wait"):
            continue
        check = inputs.get("healthcheck")
        assert check, f"{name}: wait without a healthcheck"
        seconds = {"s": 1, "m": 60, "h": 3600}
        start = check.get("startPeriod", "0s")
        start_s = sum(int(n) * seconds[u] for n, u in re.findall(r"(\d+)([smh])", start))
        assert inputs.get("waitTimeout", 60) > start_s, f"{name}: wait_timeout under start_period"


def _go_duration_string(text: str) -> str:
    """Go's time.Duration.String() of a whole-second duration (`60s` -> `1m0s`)."""
    units = {"s": 1, "m": 60, "h": 3600}
    total = sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", text))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


def test_durations_are_written_as_the_provider_reads_them_back():
    """resource_docker_container_funcs.go resourceDockerContainerRead stores
    Healthcheck.*.String() (`1m0s`) with no DiffSuppressFunc: another form diffs every run."""
    for name, container in containers(declared_under("default")).items():
        check = container["inputs"].get("healthcheck") or {}
        for key in ("interval", "timeout", "startPeriod"):
            if key in check:
                assert check[key] == _go_duration_string(check[key]), f"{name}: {key}"
