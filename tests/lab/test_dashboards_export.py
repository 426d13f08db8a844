"""`make dashboards-export UID=...` (lab/dashboards_export.py) against a stand-in that answers
as Grafana's /api/dashboards/uid/:uid does (tests/support/grafana_standin.py): a dashboard made
in the UI is written as JSON, without its database id; an unknown uid, a wrong login or a bad
uid is a clear error that writes nothing."""

from __future__ import annotations

import json

import pytest

from lab import automation, dashboards_export
from stack.settings import parse
from tests.lab.test_makefile import dry_run
from tests.support.grafana_standin import GrafanaStandIn

PASSWORD = "grafana-admin-pw"
MADE_IN_UI = {
    "id": 17,
    "uid": "my-latency",
    "title": "My latency",
    "version": 3,
    "panels": [{"type": "timeseries", "title": "p99", "targets": [{"expr": "up"}]}],
}


@pytest.fixture
def grafana():
    server = GrafanaStandIn(PASSWORD).start()
    server.add(dict(MADE_IN_UI))
    yield server
    server.close()


def test_make_target_runs_the_export():
    recipe = dry_run("dashboards-export", "UID=my-latency").split()
    assert recipe[-3:] == ["my-latency", "--out", "build/dashboards/exported"]


def test_a_ui_dashboard_is_written_without_its_database_id(grafana, tmp_path):
    path = dashboards_export.export(grafana.url, "my-latency", PASSWORD, tmp_path)
    assert path == tmp_path / "my-latency.json"
    written = json.loads(path.read_text())
    assert written == {k: v for k, v in MADE_IN_UI.items() if k != "id"}
    assert grafana.requests == ["/grafana/api/dashboards/uid/my-latency"]
    # Sorted and indented, so a second export of the same dashboard diffs clean.
    assert path.read_text() == json.dumps(written, indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize(
    ("uid", "password", "message"),
    [
        ("nope", PASSWORD, "no dashboard with uid 'nope'"),
        ("my-latency", "wrong", "refused the admin login (HTTP 401)"),
        ("../admin", PASSWORD, "is not a dashboard uid"),
        ("x" * 41, PASSWORD, "is not a dashboard uid"),
    ],
)
def test_errors_are_clear_and_write_nothing(grafana, tmp_path, uid, password, message):
    with pytest.raises(
        dashboards_export.ExportError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        dashboards_export.export(grafana.url, uid, password, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_main_reads_the_admin_password_and_the_stack_url(grafana, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(automation, "stack_settings", lambda: parse({}))
    monkeypatch.setattr(dashboards_export, "read_secrets", lambda keys: ({keys[0]: PASSWORD}, None))
    monkeypatch.setattr(
        dashboards_export, "configured_urls", lambda settings: {"grafana": grafana.url}
    )
    out = tmp_path / "exported"
    assert dashboards_export.main(["my-latency", "--out", str(out)]) == 0
    assert (out / "my-latency.json").exists()
    assert dashboards_export.main(["nope", "--out", str(out)]) == 1
    assert "no dashboard with uid 'nope'" in capsys.readouterr().err


def test_a_provisioned_dashboard_is_written_with_a_note(grafana, tmp_path, capsys):
    grafana.add({"uid": "lab-overview", "title": "Lab overview", "id": 1}, provisioned=True)
    dashboards_export.export(grafana.url, "lab-overview", PASSWORD, tmp_path)
    assert "provisioned by the lab" in capsys.readouterr().err
