"""`make credentials` (lab/credentials.py): every generated login with its user, use, container
file and config key; the passwords only with --show, read from the stack's secret config."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from lab import automation, credentials
from stack import settings
from stack.settings import parse
from stack.settings_tables import SECRETS

# A password as a user may set it by hand: quotes, spaces, a backslash, a dollar.
AWKWARD = 'it\'s "a" pass $word \\ 1'


class FakeStack:
    """The Automation API's stack as `config get` answers it (no Pulumi CLI here)."""

    def __init__(self, values: dict[str, str] | None = None, error: str | None = None):
        self.values, self.error, self.asked = values or {}, error, []

    def get_config(self, key: str):
        self.asked.append(key)
        if self.error:
            raise RuntimeError(self.error)
        return SimpleNamespace(value=self.values[key], secret=True)


@pytest.fixture
def stack(monkeypatch, tmp_path):
    """Pretend a CLI and a state exist; select_stack hands out the fake stack."""
    fake = FakeStack({f"lab:{key}": f"{key}-{AWKWARD}" for key in SECRETS})
    monkeypatch.setattr(automation, "cli_present", lambda: True)
    monkeypatch.setattr(automation, "STATE_DIR", tmp_path)
    monkeypatch.setattr(automation, "STACK_FILE", tmp_path / "Pulumi.dev.yaml")  # no secrets yet
    monkeypatch.setattr(automation, "select_stack", lambda install=True: fake)
    return fake


def test_every_secret_of_the_settings_is_a_described_login():
    """A new secret in settings_tables.SECRETS must say whose login (or which part's key) it
    is, or this fails."""
    keys = [key.key for key in credentials.KEYS]
    assert [login.key for login in credentials.LOGINS] + keys == list(SECRETS)
    assert set(SECRETS) == set(settings.SECRET_KEYS)
    users = [login.user for login in credentials.LOGINS]
    assert users == [
        "admin",
        "elastic",
        "kibana_system",
        "lab_logstash_writer",
        "lab_kibana_importer",
        "lab",
        "lab_monitor",
        "admin",
        "lab_alertmanager",
        "lab_monitoring",
        "lab_logstash_api",
    ]


def test_default_shows_every_login_and_no_password(stack):
    out = io.StringIO()
    assert credentials.print_credentials(parse({}), out) == 0
    text = out.getvalue()
    assert stack.asked == []  # nothing decrypted without --show
    assert AWKWARD not in text
    assert text.count(credentials.HIDDEN) == len(credentials.LOGINS)
    for key in credentials.KEYS:
        assert f"key: lab:{key.key}," in text
        assert SECRETS[key.key] in text
    for login in credentials.LOGINS:
        assert f"key: lab:{login.key}\n" in text
        assert f"user {login.user} " in text
        assert SECRETS[login.key] in text
    for path, uid in (
        ("/run/secrets/grafana-admin-password", "472"),
        ("/run/secrets/elastic-password", "1000"),
        ("/usr/share/kibana/config/kibana.yml", "1000"),
        ("/usr/share/logstash/pipeline/logstash.conf", "1000"),
        ("/run/secrets/traefik-users", "65534"),
    ):
        assert f"in the container: {path} (0400, uid {uid})" in text
    assert "http://127.0.0.1:8080/dashboard/" in text  # where Traefik's admin signs in
    assert (
        "also signs in at http://127.0.0.1:8000/prometheus/, http://127.0.0.1:8000/alertmanager/"
        in text
    )
    assert "published on 127.0.0.1 only" in text
    assert "allowOpenPorts" not in text


def test_show_prints_each_password_as_stored(stack):
    out = io.StringIO()
    assert credentials.print_credentials(parse({}), out, show=True) == 0
    text = out.getvalue()
    assert sorted(stack.asked) == sorted(f"lab:{login.key}" for login in credentials.LOGINS)
    for key in (login.key for login in credentials.LOGINS):
        assert f"password: {key}-{AWKWARD}\n" in text  # quotes and spaces untouched
    assert credentials.HIDDEN not in text


def test_show_that_cannot_decrypt_says_why_in_one_line(stack, capsys):
    stack.error = "error: could not read config\n  lab:grafanaAdminPassword: bad value"
    out = io.StringIO()
    assert credentials.print_credentials(parse({}), out, show=True) == 1
    reason = "(not read: could not read them: lab:grafanaAdminPassword: bad value)"
    assert out.getvalue().count(f"password: {reason}") == len(credentials.LOGINS)
    stack.error = "error: getting secrets manager: incorrect passphrase"  # Pulumi's own words
    out = io.StringIO()
    assert credentials.print_credentials(parse({}), out, show=True) == 1
    assert f"(not read: {automation.PASSPHRASE_FILE} does not decrypt" in out.getvalue()


def test_show_without_cli_or_state_explains_why(monkeypatch, tmp_path):
    monkeypatch.setattr(automation, "cli_present", lambda: False)
    assert credentials.read_secrets(["grafanaAdminPassword"]) == (
        {},
        "the Pulumi CLI is not installed here",
    )
    monkeypatch.setattr(automation, "cli_present", lambda: True)
    monkeypatch.setattr(automation, "STATE_DIR", tmp_path / "absent")
    assert "no Pulumi state yet" in credentials.read_secrets(["grafanaAdminPassword"])[1]


def test_only_the_logins_of_running_parts(stack):
    out = io.StringIO()
    credentials.print_credentials(parse({"logs": False, "grafana": False}), out, show=True)
    text = out.getvalue()
    assert stack.asked == [
        "lab:traefikAdminPassword",
        "lab:alertWebhookPassword",
        "lab:monitoringApiPassword",
    ]
    assert "lab:elasticPassword" not in text
    assert "also signs in at http://127.0.0.1:8000/prometheus/, http" in text
    out = io.StringIO()
    credentials.print_credentials(parse({"metrics": False}), out)
    assert "also signs in" not in out.getvalue()
    assert "Switched off, so no login: elasticsearch, elasticsearch_exporter, grafana," in text


def test_invalid_config_is_one_line(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "Pulumi.dev.yaml"
    bad.write_text("config:\n  lab:bindAdress: 0.0.0.0\n")
    monkeypatch.setattr(automation, "STACK_FILE", bad)
    assert credentials.main([]) == 1
    error = capsys.readouterr().err
    assert error.startswith(
        "lab: Pulumi.dev.yaml: unknown key lab:bindAdress; did you mean lab:bindAddress?"
    )
    assert error.count("\n") == 1


def test_the_files_credentials_name_are_where_the_program_puts_them():
    """lab/ may not import components, so the paths are stated twice: this keeps them one."""
    from stack import elasticsearch, elasticsearch_exporter, grafana

    by_key = {login.key: login for login in credentials.LOGINS}
    assert by_key["grafanaAdminPassword"].file == grafana.ADMIN_PASSWORD_FILE
    assert by_key["grafanaAdminPassword"].uid == grafana.GRAFANA_UID
    assert by_key["elasticPassword"].file == elasticsearch.PASSWORD_FILE
    assert by_key["elasticPassword"].uid == elasticsearch.ES_UID
    assert by_key["elasticPassword"].user == elasticsearch.ELASTIC_USER
    assert by_key["monitorPassword"].file == elasticsearch_exporter.PASSWORD_FILE
    assert by_key["monitorPassword"].uid == elasticsearch_exporter.EXPORTER_UID
    keys = {key.key: key for key in credentials.KEYS}
    assert keys["grafanaSecretKey"].file == grafana.SECRET_KEY_FILE
    assert keys["grafanaSecretKey"].uid == grafana.GRAFANA_UID


def test_credentials_say_when_open_ports_were_allowed():
    out = io.StringIO()
    lab = parse(
        {"bindAddress": "0.0.0.0", "allowOpenPorts": ["prometheus", "gelf", "alertmanager"]}
    )
    credentials.print_credentials(lab, out)
    assert (
        "lab:allowOpenPorts names prometheus, gelf, alertmanager: these answer anyone there"
        in out.getvalue()
    )


def test_credentials_on_swarm_say_every_port_is_on_every_interface():
    """Issue 22: a host-mode port has no host address, so lab:bindAddress does not hold there."""
    out = io.StringIO()
    lab = parse(
        {"engine": "swarm", "logs": False, "allowOpenPorts": ["prometheus", "alertmanager"]}
    )
    credentials.print_credentials(lab, out)
    assert "On Swarm every port is published on every interface of its node." in out.getvalue()
    assert "published on 127.0.0.1 only" not in out.getvalue()


# Rows whose container file the program does not declare yet (the Elasticsearch security work
# adds kibana.yml and the writer's password in the pipeline); strict: drop the mark when it does.
NOT_DECLARED_YET: set[str] = set()


@pytest.mark.parametrize(
    "login",
    [
        pytest.param(
            login,
            id=login.key,
            marks=[pytest.mark.xfail(strict=True, reason="no 0400 file for uid 1000 declared yet")]
            if login.key in NOT_DECLARED_YET
            else [],
        )
        for login in credentials.LOGINS
        if login.file
    ],
)
def test_each_file_credentials_name_is_uploaded_there_0400_for_that_uid(login):
    from tests.stack.captured import containers, declared_under

    declared = containers(declared_under("default"))
    (container,) = [c for name, c in declared.items() if name == f"lab-dev-{login.part}"]
    uploads = {u["file"]: u for u in container["inputs"].get("uploads", [])}
    assert login.file in uploads, f"{container['urn']}: no upload at {login.file}"
    item = uploads[login.file]
    assert (item["permissions"], item.get("owner")) == ("0400", login.uid), container["urn"]
