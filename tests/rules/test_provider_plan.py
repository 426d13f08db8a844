"""What the next `pulumi up` does after one edit, by the docker provider's rules (no Docker).

The program is captured under mocks before and after an edit; the state of the first capture is
what the provider's Create stores (its config with the schema's defaults: tests/live and
tests/swarm prove that the daemon's read-back equals it for the applied lab), and the model in
tests/support/provider_model.py diffs it against the edited inputs with the schema of
terraform-provider-docker v4.5.0 (internal/provider/resource_docker_container.go,
resource_docker_service.go, resource_docker_config.go, resource_docker_secret.go,
resource_docker_volume.go, resource_docker_network.go) and Pulumi's ignore_changes /
replace_on_changes (pkg/resource/deploy/step_generator.go applyReplaceOnChanges). Each row says
what the part needs the edit to do.
"""

from __future__ import annotations

import copy
import functools

import pytest

from stack.swarm_objects import service_duration
from tests.stack.captured import CONTAINER, NETWORK, VOLUME, declared_under
from tests.support import provider_model as model
from tests.support.capture import OPEN_ON_SWARM, capture
from tests.support.swarm_harness import CONFIG, SECRET, SERVICE, nanoseconds

# Every part on, the ports Swarm publishes on every interface accepted (as tests/stack does).
SWARM = {
    "lab:engine": "swarm",
    "lab:swarmStateHost": "10.0.0.2",
    "lab:allowOpenPorts": OPEN_ON_SWARM,
}
# Fixed Docker names: a replacement must delete the old one first (Docker refuses a duplicate
# name). Configs and secrets are named after a hash of their content (stack/swarm_objects.py).
FIXED_NAME_TYPES = (CONTAINER, NETWORK, VOLUME, SERVICE)


@functools.cache
def swarm_declared(replicas: int = 2) -> dict:
    return capture({**SWARM, "lab:replicas": replicas}, stack="swarm")


@functools.cache
def edited_single_host() -> dict:
    """Two edits a user makes in config: Grafana's password and Prometheus' memory."""
    return capture(
        {"lab:grafanaAdminPassword": "another-password", "lab:memoryMb": {"prometheus": 1536}}
    )


def by_name(result: dict, type_token: str) -> dict[str, dict]:
    return {r["inputs"]["name"]: r for r in result["resources"] if r["type"] == type_token}


def plan_after(before: dict, after_inputs: dict) -> model.Plan:
    state = model.created_state(before["type"], before["inputs"])
    return model.plan(before["type"], before["urn"], state, after_inputs, before["options"])


def edited(record: dict, edit) -> dict:
    inputs = copy.deepcopy(record["inputs"])
    edit(inputs)
    return inputs


def _prometheus_config(inputs: dict) -> None:
    for upload in inputs["uploads"]:
        if upload["file"].endswith("prometheus.yml"):
            upload["content"] += "\n# edited\n"


def _label(inputs: dict) -> None:
    inputs["labels"].append({"label": "lab.owner", "value": "me"})


def _health_interval(inputs: dict) -> None:
    inputs["healthcheck"]["interval"] = "7s"


def _tmpfs(inputs: dict) -> None:
    inputs["tmpfs"] = {path: f"{options},mode=1777" for path, options in inputs["tmpfs"].items()}


def _volume_label(inputs: dict) -> None:
    inputs["labels"].append({"label": "lab.owner", "value": "me"})


# (what is edited, container, edit, action, why the part needs that action)
CONTAINER_EDITS = [
    (
        "an uploaded config file",
        "lab-dev-prometheus",
        _prometheus_config,
        model.REPLACE,
        "Prometheus reads its config at start: a new one reaches it only in a new container",
    ),
    (
        "a label",
        "lab-dev-traefik",
        _label,
        model.REPLACE,
        "labels are ForceNew; the fixed name frees up first (delete_before_replace)",
    ),
    (
        "a health check",
        "lab-dev-logstash",
        _health_interval,
        model.REPLACE,
        "the provider neither updates nor replaces for it: replace_on_changes must",
    ),
    (
        "tmpfs",
        "lab-dev-fibonacci-1",
        _tmpfs,
        model.REPLACE,
        "tmpfs is neither ForceNew nor updated: replace_on_changes must (finding 6)",
    ),
]


@pytest.mark.parametrize(("what", "name", "edit", "action", "why"), CONTAINER_EDITS)
def test_a_one_field_edit_of_a_container(what, name, edit, action, why):
    record = by_name(declared_under("default"), CONTAINER)[name]
    plan = plan_after(record, edited(record, edit))
    assert plan.action == action, f"{what}: {plan.describe()} ({why})"


def test_a_new_password_replaces_the_container_that_reads_it():
    """Grafana reads its admin password file at first start (docs/product-rules.md G6): only
    a new container (fresh database) takes the new one."""
    before = by_name(declared_under("default"), CONTAINER)["lab-dev-grafana"]
    after = by_name(edited_single_host(), CONTAINER)["lab-dev-grafana"]
    plan = plan_after(before, after["inputs"])
    assert plan.action == model.REPLACE, plan.describe()
    assert {c.path.split(".")[0] for c in plan.changes} == {"upload"}


def test_more_memory_is_an_update_in_place_that_raises_the_swap_limit_too():
    """resourceDockerContainerUpdate (resource_docker_container_funcs.go) sends memory and
    memory_swap in one ContainerUpdate; the daemon refuses a memory limit above the swap limit
    ("update the memoryswap at the same time"), so both must change together (finding 3)."""
    before = by_name(declared_under("default"), CONTAINER)["lab-dev-prometheus"]
    after = by_name(edited_single_host(), CONTAINER)["lab-dev-prometheus"]
    plan = plan_after(before, after["inputs"])
    assert plan.action == model.UPDATE, plan.describe()
    assert {c.path for c in plan.changes} == {"memory", "memory_swap"}
    assert after["inputs"]["memorySwap"] == after["inputs"]["memory"] == 1536


def test_a_data_volume_s_label_edit_keeps_the_volume():
    """resource_docker_volume.go: labels are ForceNew, so a replacement would destroy the
    data; the program ignores label changes (stack/containers.data_volume)."""
    (record,) = [
        r for r in by_name(declared_under("default"), VOLUME).values() if "prometheus" in r["name"]
    ]
    plan = plan_after(record, edited(record, _volume_label))
    assert plan.action == model.NONE, plan.describe()


def test_swarm_replicas_scale_the_service_in_place():
    """resource_docker_service.go: `mode` is ForceNew, but the SDK's diffList gives the parent's
    ForceNew to the block count only (helper/schema/schema.go countSchema); `replicas` itself is
    not ForceNew, so the service is updated (scaled), not replaced."""
    before = by_name(swarm_declared(2), SERVICE)["lab-swarm-fibonacci"]
    after = by_name(swarm_declared(3), SERVICE)["lab-swarm-fibonacci"]
    plan = plan_after(before, after["inputs"])
    assert plan.action == model.UPDATE, plan.describe()
    assert [c.path for c in plan.changes] == ["mode.0.replicated.0.replicas"]


def test_a_new_swarm_config_is_a_new_object_and_a_rolling_update():
    """Configs are immutable (resource_docker_config.go: name, data_raw ForceNew): new content
    is a new config under a new name (the content hash), created before the old one goes, and
    the service moves to it by an in-place update (configs' config_id/config_name are not
    ForceNew), which Swarm rolls start-first."""
    declared = swarm_declared(2)
    config = next(
        r
        for r in by_name(declared, CONFIG).values()
        if r["inputs"]["name"].startswith("lab-swarm-prometheus-prometheus-yml")
    )
    new_config = copy.deepcopy(config["inputs"])
    new_config["dataRaw"] += "\n# edited\n"
    new_config["name"] = config["inputs"]["name"][:-12] + "0" * 12
    assert plan_after(config, new_config).action == model.REPLACE
    assert not config["options"]["delete_before_replace"]  # in use until the service moves
    service = by_name(declared, SERVICE)["lab-swarm-prometheus"]
    inputs = copy.deepcopy(service["inputs"])
    for reference in inputs["taskSpec"]["containerSpec"]["configs"]:
        if reference["configName"] == config["inputs"]["name"]:
            reference["configName"], reference["configId"] = new_config["name"], "new-id"
    plan = plan_after(service, inputs)
    assert plan.action == model.UPDATE, plan.describe()


def test_a_new_swarm_password_is_a_new_secret_and_a_rolling_update():
    """resource_docker_secret.go: name and data ForceNew; the program names a secret after its
    content's hash (stack/swarm_objects.secret_files), so a new password is a new secret and
    the service's reference changes in place."""
    declared = swarm_declared(2)
    service = by_name(declared, SERVICE)["lab-swarm-grafana"]
    inputs = copy.deepcopy(service["inputs"])
    reference = inputs["taskSpec"]["containerSpec"]["secrets"][0]
    reference["secretName"], reference["secretId"] = reference["secretName"] + "x", "new-id"
    plan = plan_after(service, inputs)
    assert plan.action == model.UPDATE, plan.describe()
    secret = next(iter(by_name(declared, SECRET).values()))
    new_secret = {**secret["inputs"], "name": secret["inputs"]["name"] + "x", "data": "eA=="}
    assert plan_after(secret, new_secret).action == model.REPLACE
    assert not secret["options"]["delete_before_replace"]


@pytest.mark.parametrize("target", ["single host", "swarm"])
def test_every_fixed_name_resource_that_can_be_replaced_deletes_first(target):
    """A replacement creates the new resource before deleting the old one unless
    delete_before_replace (pulumi/pulumi step_generator.go); with a fixed Docker name the
    create fails on the duplicate. pulumi-docker forces it for containers only
    (provider/resources.go), so networks, volumes and services must declare it."""
    declared = declared_under("default") if target == "single host" else swarm_declared(2)
    fixed = [r for r in declared["resources"] if r["type"] in FIXED_NAME_TYPES]
    assert {r["type"] for r in fixed} >= {NETWORK, SERVICE if target == "swarm" else CONTAINER}
    missing = [r["urn"] for r in fixed if not r["options"]["delete_before_replace"]]
    assert not missing


def test_services_join_their_network_by_id():
    """flattenTaskNetworksAdvanced (resource_docker_service_structures.go) reads back the
    attachment's Target as `id`; a declared `name` (ForceNew) then differs on every plan and
    replaces the service (finding 2; the SDK's docstring: "will lead to constant
    replacements")."""
    networks = {r["id"] for r in swarm_declared(2)["resources"] if r["type"] == NETWORK}
    for service in by_name(swarm_declared(2), SERVICE).values():
        for attachment in service["inputs"]["taskSpec"]["networksAdvanceds"]:
            assert "name" not in attachment, service["urn"]
            assert attachment["id"] in networks, service["urn"]


def test_swarm_durations_are_written_as_the_provider_reads_them_back():
    """The provider reads service durations back through shortDur (finding 5): a declared
    `60s` becomes `1m` in the state and diffs on every plan. Every declared duration must
    already be in that form."""
    keys = {"interval", "timeout", "startPeriod", "delay", "window", "monitor"}
    found = []

    def walk(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                if key in keys and isinstance(item, str):
                    found.append((path + key, item))
                walk(item, f"{path}{key}.")
        elif isinstance(value, list):
            for item in value:
                walk(item, path)

    for service in by_name(swarm_declared(2), SERVICE).values():
        walk(service["inputs"], f"{service['inputs']['name']}: ")
    assert len(found) > 20
    wrong = [(path, text) for path, text in found if model.short_dur(nanoseconds(text)) != text]
    assert not wrong


@pytest.mark.parametrize(
    ("nanoseconds_", "text"),
    [
        # Go's time.Duration.String doc (src/time/time.go): "72h3m0.5s".
        ((72 * 3600 + 3 * 60) * 10**9 + 5 * 10**8, "72h3m0.5s"),
        (90 * 10**9, "1m30s"),
        (60 * 10**9, "1m0s"),
        (5 * 10**6, "5ms"),
        (0, "0s"),
    ],
)
def test_go_duration_strings(nanoseconds_, text):
    assert model.go_duration(nanoseconds_) == text


@pytest.mark.parametrize(
    ("declared", "read_back"),
    [
        # resource_docker_service_test.go (v4.5.0) l.879-881: rollback_config delay/monitor
        # read back as "5ms" and "10h"; l.842: stop_grace_period "10s".
        ("5ms", "5ms"),
        ("10h", "10h"),
        ("10s", "10s"),
        # shortDur's own rule on Duration.String(): "1m0s" -> "1m", "1m30s" stays.
        ("60s", "1m"),
        ("90s", "1m30s"),
        ("3600s", "1h"),
    ],
)
def test_service_duration_formats_as_short_dur(declared, read_back):
    assert model.short_dur(nanoseconds(declared)) == read_back
    assert service_duration(declared) == read_back


@pytest.mark.parametrize("config_name", ["default", "three-replicas", "logs-off"])
def test_every_container_s_swap_limit_reads_back_as_declared(config_name):
    """The daemon stores a swap limit of twice the memory when none is given (moby
    daemon/daemon_unix.go adaptContainerSettings; seen on the real daemon by
    tests/live/test_second_plan.py), and Read stores it in `memory_swap` (Optional, not
    Computed): every container, Elastic and Grafana ones too, must plan nothing on it."""
    for name, record in by_name(declared_under(config_name), CONTAINER).items():
        inputs = record["inputs"]
        state = model.created_state(CONTAINER, inputs)
        state["memory_swap"] = inputs.get("memorySwap") or 2 * inputs["memory"]
        assert plan_after_state(record, state).action == model.NONE, name


def plan_after_state(record: dict, state: dict) -> model.Plan:
    return model.plan(record["type"], record["urn"], state, record["inputs"], record["options"])
