"""`make dashboards` (lab/export.py): the files the Pulumi program uploads, written to a folder."""

import subprocess
import sys

from dashboards import grafana_overview, grafana_panels, kibana_objects, prometheus_rules
from lab import automation, export
from lab.support import REPO_ROOT


def test_the_command_writes_what_the_program_uploads(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "lab.export", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    written = {path.relative_to(tmp_path): path.read_text() for path in tmp_path.rglob("*.*")}
    assert sorted(str(p) for p in written) == sorted(
        result.stdout.replace(f"{tmp_path}/", "").split()
    )
    slow_call_ms = automation.stack_settings().slow_call_ms
    assert set(written.values()) == {
        grafana_panels.dump(grafana_overview.build()),
        prometheus_rules.render(),
        kibana_objects.render(slow_call_ms=slow_call_ms),
    }


def test_the_slow_call_threshold_comes_from_the_option_or_the_stack(tmp_path, monkeypatch):
    export.main([str(tmp_path / "option"), "--slow-call-ms", "250"])
    assert "250" in (tmp_path / "option" / "kibana" / "lab-saved-objects.ndjson").read_text()
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text("config:\n  lab:slowCallMs: 4321\n")
    monkeypatch.setattr(automation, "STACK_FILE", stack_file)
    assert export.main([str(tmp_path / "stack")]) == 0
    assert "4321" in (tmp_path / "stack" / "kibana" / "lab-saved-objects.ndjson").read_text()
