"""`make credentials`: where each login comes from, for the parts the settings switch on."""

import io

from lab import automation, credentials
from stack.settings import parse


def test_credentials_say_where_each_login_comes_from():
    out = io.StringIO()
    assert credentials.print_credentials(parse({}), out, show=False) == 0
    text = out.getvalue()
    assert "lab:grafanaAdminPassword" in text
    assert "user: admin" in text
    assert "security is off" in text
    assert "(not read: --no-show)" in text
    assert "published on 127.0.0.1 only" in text
    assert "in the container: /run/secrets/grafana-admin-password (0400, uid 472)" in text
    assert "allowOpenPorts" not in text

    out = io.StringIO()
    credentials.print_credentials(parse({"logs": False, "grafana": False}), out)
    assert "Grafana        switched off" in out.getvalue()
    assert "Kibana, Elasticsearch: switched off" in out.getvalue()


def test_credentials_without_cli_explain_why_the_password_is_not_shown(monkeypatch):
    monkeypatch.setattr(automation, "cli_present", lambda: False)
    password, why = credentials.grafana_password()
    assert password is None
    assert "Pulumi CLI" in why


def test_invalid_config_is_one_line(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "Pulumi.dev.yaml"
    bad.write_text("config:\n  lab:bindAdress: 0.0.0.0\n")
    monkeypatch.setattr(automation, "STACK_FILE", bad)
    assert credentials.main(["--no-show"]) == 1
    error = capsys.readouterr().err
    assert error.startswith(
        "lab: Pulumi.dev.yaml: unknown key lab:bindAdress; did you mean lab:bindAddress?"
    )
    assert error.count("\n") == 1


def test_the_file_credentials_name_is_where_the_program_puts_the_password():
    """lab/ may not import stack/grafana.py, so the path is stated twice: this keeps them one."""
    from stack import grafana

    assert credentials.GRAFANA_PASSWORD_FILE == grafana.ADMIN_PASSWORD_FILE


def test_credentials_say_when_open_ports_were_allowed():
    out = io.StringIO()
    lab = parse({"bindAddress": "0.0.0.0", "allowOpenPorts": True})
    credentials.print_credentials(lab, out, show=False)
    assert "lab:allowOpenPorts is true" in out.getvalue()
