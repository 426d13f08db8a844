"""The way in (lab/way_in.py): `make up` ends with, and `make status` of a healthy lab shows,
each UI's URL, its user and the command that prints that user's password; the command really
prints it (lab/credentials.py --show PLACE, `make credentials SHOW=<place>`)."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from lab import automation, credentials, deploy, status, way_in
from stack.settings import parse
from stack.settings_tables import SECRETS
from tests.lab.test_makefile import dry_run


class FakeStack:
    def __init__(self) -> None:
        self.values = {f"lab:{key}": f"secret-of-{key}" for key in SECRETS}

    def get_config(self, key: str):
        return SimpleNamespace(value=self.values[key], secret=True)

    def up(self, on_output):
        return SimpleNamespace(outputs={"api_url": SimpleNamespace(value="u", secret=False)})


@pytest.fixture
def stack(monkeypatch, tmp_path):
    fake = FakeStack()
    monkeypatch.setattr(automation, "cli_present", lambda: True)
    monkeypatch.setattr(automation, "STATE_DIR", tmp_path)
    monkeypatch.setattr(automation, "select_stack", lambda install=True: fake)
    return fake


def test_every_login_a_person_uses_is_in_the_way_in_and_its_command_prints_it(stack, capsys):
    settings = parse({})
    table = way_in.rows(settings)
    for login in credentials.LOGINS:
        if login.place is None:
            continue
        (row,) = [r for r in table if r[3] == way_in.show_command(login.place)][:1]
        assert row[2] == login.user
        place = row[3].split("SHOW=")[1]
        # The command as make runs it, then that module's main with those arguments.
        recipe = dry_run("credentials", f"SHOW={place}").split()
        assert recipe[-2:] == ["--show", place]
        assert credentials.main(recipe[3:]) == 0
        assert capsys.readouterr().out == f"secret-of-{login.key}\n"
    urls = {r[0]: r[1] for r in table}
    assert urls["Grafana"] == settings.urls()["grafana_url"]
    assert urls["Kibana"] == settings.urls()["kibana_url"]
    assert urls["Prometheus"] == settings.url("api", "/prometheus/")


def test_a_part_switched_off_has_no_row_and_no_password(stack, capsys):
    settings = parse({"logs": False})
    opened = [row[0] for row in way_in.rows(settings)]
    assert "Kibana" not in opened
    assert "Elasticsearch API" not in opened
    assert credentials.print_password(settings, "kibana") == 2
    assert "no login at 'kibana'" in capsys.readouterr().err


def test_make_up_ends_with_the_way_in(stack, monkeypatch, capsys):
    monkeypatch.setattr(automation, "stack_settings", lambda: parse({}))
    monkeypatch.setattr(automation, "check_secrets", lambda: None)
    monkeypatch.setattr(automation, "ensure_secrets", lambda stack, settings=None: None)
    monkeypatch.setattr(deploy, "preflight", lambda settings: None)
    assert deploy.run("up") == 0
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1].split()[0] in {"Function", "Your"}
    assert "The way in" in out
    assert "make credentials SHOW=grafana" in out


def test_status_shows_the_way_in_only_when_the_lab_is_up(monkeypatch, capsys):
    monkeypatch.setattr(automation, "stack_settings", lambda: parse({}))
    monkeypatch.setattr(status, "stack_outputs", lambda settings: ({"api": "http://x"}, None))
    for code in (0, 1):
        monkeypatch.setattr(status, "print_status", lambda urls, note, code=code, **_: code)
        assert status.main([]) == code
        shown = "The way in" in capsys.readouterr().out
        assert shown is (code == 0)


def test_the_table_prints_one_aligned_line_per_row():
    out = io.StringIO()
    settings = parse({})
    way_in.print_way_in(settings, out)
    lines = out.getvalue().strip().splitlines()[1:]
    assert len(lines) == len(way_in.rows(settings)) + 1
    columns = {line.index("http") for line in lines[1:]}
    assert len(columns) == 1
