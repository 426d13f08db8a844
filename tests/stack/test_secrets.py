"""Secrets never in a container's environment, command, entrypoint or labels (what `docker
inspect` shows), and every password the program hands a container is a Pulumi secret, in a
file only the part's process user can read (issue 11)."""

from __future__ import annotations

import json

import pytest

from tests.stack.captured import CONFIGS, containers, declared_under
from tests.support.capture import MOCK_SECRETS, TEST_GRAFANA_PASSWORD

# Every password and key the mocks feed the program (stack/settings_tables.SECRETS).
PASSWORDS = tuple(MOCK_SECRETS.values())
INSPECTED = ("envs", "command", "entrypoints", "labels")


def _holds_password(value) -> bool:
    text = json.dumps(value)
    return any(password in text for password in PASSWORDS)


def _marked_secret(path: str, secret_paths: list[str]) -> bool:
    """Whether a value is secret: marked itself or inside a value marked whole (the engine
    marks a list secret when one of its items is)."""
    return any(path == p or path.startswith((f"{p}.", f"{p}[")) for p in secret_paths)


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_no_password_in_what_docker_inspect_shows(config_name):
    for name, container in containers(declared_under(config_name)).items():
        for key in INSPECTED:
            assert not _holds_password(container["inputs"].get(key)), (
                f"{container['urn']}: a password sits in {key} of {name}"
            )


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_every_password_is_a_secret_file_for_the_process_user_only(config_name):
    for container in containers(declared_under(config_name)).values():
        for index, entry in enumerate(container["inputs"].get("uploads", [])):
            if not _holds_password(entry):
                continue
            where = f"{container['urn']} upload {entry['file']}"
            assert _marked_secret(f"uploads[{index}].content", container["secret_inputs"]), (
                f"{where}: the password is not a Pulumi secret"
            )
            assert entry["permissions"] == "0400", where
            assert entry.get("owner"), f"{where}: root-owned, unreadable by the process user"


def test_grafana_password_file_is_owned_by_grafanas_uid():
    grafana = containers(declared_under("default"))["lab-dev-grafana"]
    (entry,) = [u for u in grafana["inputs"]["uploads"] if TEST_GRAFANA_PASSWORD in json.dumps(u)]
    # Grafana's image runs as uid 472; run.sh reads the file as that user (product-rules G5).
    assert (entry["owner"], entry["permissions"]) == ("472", "0400"), grafana["urn"]
