"""lab/automation.py: the stack's settings, the CLI search, the passphrase, the project-local
environment, and outputs when nothing can be read."""

import stat
from pathlib import Path

import pytest

from lab import automation
from lab.support import REPO_ROOT, LabError
from stack.settings import LabSettings, SettingsError


def test_find_cli_prefers_project_then_path_then_installs(tmp_path):
    tried = []

    def factory(root=None):
        tried.append(root)
        raise FileNotFoundError("pulumi")

    installed = object()
    found = automation.find_cli(tmp_path, command_factory=factory, installer=lambda root: installed)
    assert found is installed
    assert tried == [str(tmp_path), None]

    def broken_installer(root):
        raise OSError("no route to get.pulumi.com")

    with pytest.raises(LabError, match="install it"):
        automation.find_cli(tmp_path, command_factory=factory, installer=broken_installer)
    present = object()
    assert automation.find_cli(tmp_path, command_factory=lambda root=None: present) is present


def test_passphrase_is_created_once_and_private(tmp_path):
    path = automation.ensure_passphrase(tmp_path / "state" / "passphrase")
    first = path.read_text()
    assert len(first.strip()) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert automation.ensure_passphrase(path).read_text() == first


def test_backend_and_home_stay_inside_the_project():
    env = automation.pulumi_env()
    assert env["PULUMI_BACKEND_URL"] == f"file://{REPO_ROOT / '.pulumi-state'}"
    assert Path(env["PULUMI_HOME"]).parent == REPO_ROOT
    assert Path(env["PULUMI_CONFIG_PASSPHRASE_FILE"]).is_relative_to(automation.STATE_DIR)
    ignored = (REPO_ROOT / ".gitignore").read_text().splitlines()
    for directory in (".pulumi-state/", ".pulumi-home/", ".pulumi-cli/"):
        assert directory in ignored, directory


def test_outputs_is_empty_without_a_cli(monkeypatch):
    def no_cli(**_kwargs):
        raise LabError(automation.INSTALL_HINT)

    monkeypatch.setattr(automation, "find_cli", no_cli)
    assert automation.outputs() == {}


def test_the_committed_dev_stack_is_valid_and_holds_only_what_differs_from_the_defaults():
    assert automation.stack_settings() == LabSettings()


def test_settings_errors_name_the_stack_file_once(tmp_path):
    bad = tmp_path / "Pulumi.dev.yaml"
    bad.write_text("config:\n  lab:replica: 3\n")
    with pytest.raises(SettingsError) as raised:
        automation.stack_settings(bad)
    assert str(raised.value).startswith(
        "Pulumi.dev.yaml: unknown key lab:replica; did you mean lab:replicas?"
    )
    bad.write_text("config: [\n")
    with pytest.raises(SettingsError) as raised:
        automation.stack_settings(bad)
    assert str(raised.value).count("Pulumi.dev.yaml") == 1
