"""`make credentials ROTATE=<user>` (lab/credentials.py --rotate): one login gets a new
generated password as its Pulumi secret; on the next `make up` the parts that use it take it and
the old one stops working. Proved on what runs here: the real traefik binary with the users file
the program renders, and the Elasticsearch security setup step against the stand-in that
answers as Elasticsearch 8.19's security API does. An unknown user changes nothing."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from lab import automation, credentials
from stack import elasticsearch_setup as setup
from stack.configs import elasticsearch_security as security
from stack.configs import traefik_yaml
from stack.settings_tables import SECRETS
from tests.lab.test_makefile import dry_run
from tests.stack.test_configs_traefik import backend  # noqa: F401 (fixture)
from tests.support.elasticsearch_standin import ElasticsearchStandIn
from tests.support.real_traefik import api_answers, running_traefik

# secrets.token_urlsafe(18): 18 bytes in URL-safe base64 without padding (Python's docs).
GENERATED = re.compile(r"[A-Za-z0-9_-]{24}")


class ConfigStack:
    """The stack's config as the Automation API sets and gets it (no Pulumi CLI here)."""

    def __init__(self) -> None:
        self.values = {f"lab:{key}": f"old-{key}" for key in SECRETS}
        self.set_calls: list[str] = []

    def get_config(self, key: str):
        return SimpleNamespace(value=self.values[key], secret=True)

    def set_config(self, key: str, value) -> None:
        assert value.secret, key
        self.set_calls.append(key)
        self.values[key] = value.value


@pytest.fixture
def stack(monkeypatch, tmp_path):
    fake = ConfigStack()
    monkeypatch.setattr(automation, "cli_present", lambda: True)
    monkeypatch.setattr(automation, "STATE_DIR", tmp_path)
    monkeypatch.setattr(automation, "check_secrets", lambda: None)
    monkeypatch.setattr(automation, "select_stack", lambda install=True: fake)
    return fake


def test_make_credentials_rotate_runs_the_rotation():
    assert dry_run("credentials", "ROTATE=lab").split()[-2:] == ["--rotate", "lab"]
    assert "--rotate" not in dry_run("credentials")


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("lab", "labUserPassword"),
        ("lab_logstash_writer", "logstashWriterPassword"),
        ("grafana", "grafanaAdminPassword"),
        ("traefik", "traefikAdminPassword"),
        ("elastic", "elasticPassword"),
    ],
)
def test_one_login_gets_a_new_generated_secret_and_only_it(stack, capsys, name, key):
    before = dict(stack.values)
    assert credentials.main(["--rotate", name]) == 0
    assert stack.set_calls == [f"lab:{key}"]
    new = stack.values[f"lab:{key}"]
    assert GENERATED.fullmatch(new), new
    assert new != before[f"lab:{key}"]
    assert {k: v for k, v in stack.values.items() if k != f"lab:{key}"} == {
        k: v for k, v in before.items() if k != f"lab:{key}"
    }
    assert "make up" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["bob", "admin", "", "labUser"])
def test_an_unknown_or_ambiguous_user_is_refused_and_changes_nothing(stack, capsys, name):
    before = dict(stack.values)
    assert credentials.main(["--rotate", name]) == 2
    assert stack.set_calls == []
    assert stack.values == before
    err = capsys.readouterr().err
    assert "nothing was changed" in err
    assert "grafana" in err


def test_before_the_first_make_up_nothing_is_rotated(stack, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(automation, "STATE_DIR", tmp_path / "no-state")
    assert credentials.main(["--rotate", "lab"]) == 1
    assert stack.set_calls == []
    assert "first `make up` generates" in capsys.readouterr().err


def test_a_broken_passphrase_rotates_nothing(stack, monkeypatch, capsys):
    def broken() -> None:
        raise automation.LabError("passphrase does not decrypt Pulumi.dev.yaml")

    monkeypatch.setattr(automation, "check_secrets", broken)
    assert credentials.main(["--rotate", "lab"]) == 1
    assert stack.set_calls == []
    assert "not rotated: passphrase does not decrypt" in capsys.readouterr().err


def test_the_security_setup_takes_the_rotated_password_and_the_old_one_stops(stack):
    """What the next `make up` does with Elasticsearch: the setup step's inputs change, so its
    diff re-runs it, and it sets the new password on the running node (as in
    stack/elasticsearch_setup.py, against the stand-in)."""
    server = ElasticsearchStandIn("elastic-pw").start()
    try:
        provider = setup.ElasticsearchSecurityProvider(deadline_seconds=5, retry_delay_seconds=0)

        def props() -> dict:
            passwords = {u.name: stack.values[f"lab:{u.secret}"] for u in security.USERS}
            return {
                "elasticsearch_url": server.url,
                "elastic_password": "elastic-pw",
                "kibana_system_password": stack.values["lab:kibanaSystemPassword"],
                "passwords": passwords,
                **security.setup_inputs("7d"),
            }

        first = provider.create(props())
        old = stack.values["lab:labUserPassword"]
        assert server.authenticates(security.LAB_USER, old)
        assert credentials.main(["--rotate", security.LAB_USER]) == 0
        new = stack.values["lab:labUserPassword"]
        assert provider.diff(setup.RESOURCE_ID, first.outs, props()).changes is True
        provider.update(setup.RESOURCE_ID, first.outs, props())
        assert server.authenticates(security.LAB_USER, new)
        assert not server.authenticates(security.LAB_USER, old)
    finally:
        server.stop()


def _traefik_answers(tmp_path: Path, backend_url: str, password: str, tries: list[str]) -> list:
    """The status of a guarded route for each password in `tries`, on the real traefik binary
    started with the users file the program renders for `password` (a replaced container)."""
    directory = tmp_path / f"traefik-{len(password)}-{password[:4]}"
    directory.mkdir()
    users = directory / "users"
    users.write_text(traefik_yaml.basic_auth_users(password, "a-lab-salt"))
    dynamic = traefik_yaml.dynamic(
        {"fibonacci": [backend_url]}, prometheus_url=backend_url, users_file=str(users)
    )
    login = (traefik_yaml.ADMIN_USER, password)
    with running_traefik(
        directory,
        dynamic,
        api_answers(login),
        what="traefik up",
    ) as traefik:
        return [
            requests.get(
                f"{traefik.api}/dashboard/", auth=(traefik_yaml.ADMIN_USER, tried), timeout=5
            ).status_code
            for tried in tries
        ]


@pytest.mark.slow
def test_traefik_takes_the_rotated_password_and_the_old_one_stops(stack, tmp_path, backend):  # noqa: F811
    old = stack.values["lab:traefikAdminPassword"]
    assert _traefik_answers(tmp_path, backend, old, [old]) == [200]
    assert credentials.main(["--rotate", "traefik"]) == 0
    new = stack.values["lab:traefikAdminPassword"]
    # The users file is an upload of Traefik's container: a new password is a new file, so
    # `make up` replaces the container, which starts with it.
    assert traefik_yaml.basic_auth_users(new, "s") != traefik_yaml.basic_auth_users(old, "s")
    assert _traefik_answers(tmp_path, backend, new, [old, new]) == [401, 200]
