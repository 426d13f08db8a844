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


# A stand-in `pulumi` binary: answers `version`, and for every other command writes the
# passphrase source the real CLI would pick, by readPassphrase's rule in pulumi/pulumi
# pkg/secrets/passphrase/manager.go: PULUMI_CONFIG_PASSPHRASE when set at all (even empty),
# else the file named by a non-empty PULUMI_CONFIG_PASSPHRASE_FILE.
FAKE_CLI = """#!/bin/sh
if [ "$1" = version ]; then echo v3.272.0; exit 0; fi
if [ "${PULUMI_CONFIG_PASSPHRASE+set}" = set ]; then
    echo "env:$PULUMI_CONFIG_PASSPHRASE" >> "$LAB_FAKE_CLI_LOG"
elif [ -n "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    echo "file:$PULUMI_CONFIG_PASSPHRASE_FILE" >> "$LAB_FAKE_CLI_LOG"
else
    echo "prompt" >> "$LAB_FAKE_CLI_LOG"
fi
"""


@pytest.mark.parametrize("users_passphrase", ["", "the user's own"])
def test_a_users_passphrase_never_reaches_the_cli(tmp_path, monkeypatch, users_passphrase):
    """The stack is encrypted with .pulumi-state/passphrase whatever the user's shell holds."""
    from pulumi.automation import PulumiCommand

    (tmp_path / "bin").mkdir()
    cli_file = tmp_path / "bin" / "pulumi"
    cli_file.write_text(FAKE_CLI)
    cli_file.chmod(0o755)
    log = tmp_path / "cli.log"
    monkeypatch.setenv("LAB_FAKE_CLI_LOG", str(log))
    for name in automation.pulumi_env():  # select_stack exports these; restore them after
        monkeypatch.setenv(name, "before")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", users_passphrase)
    monkeypatch.setattr(automation, "PULUMI_HOME", tmp_path / "home")
    monkeypatch.setattr(automation, "PASSPHRASE_FILE", tmp_path / "state" / "passphrase")
    create_passphrase = automation.ensure_passphrase
    monkeypatch.setattr(
        automation, "ensure_passphrase", lambda: create_passphrase(automation.PASSPHRASE_FILE)
    )
    automation.select_stack(PulumiCommand(root=str(tmp_path), skip_version_check=True))
    sources = set(log.read_text().splitlines())
    assert sources == {f"file:{automation.PASSPHRASE_FILE}"}


def test_the_cli_environment_drops_a_users_passphrase_and_keeps_the_rest():
    env = automation.cli_environ({"PULUMI_CONFIG_PASSPHRASE": "", "HOME": "/home/u"})
    assert "PULUMI_CONFIG_PASSPHRASE" not in env
    assert env["HOME"] == "/home/u"
    assert env["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(automation.PASSPHRASE_FILE)


def test_the_by_hand_command_make_credentials_prints_reads_the_passphrase_file(
    tmp_path, monkeypatch
):
    """The line `make credentials` prints for running pulumi by hand, run by a real shell with
    a user's PULUMI_CONFIG_PASSPHRASE set: the CLI still reads the passphrase file."""
    import io
    import subprocess

    from lab import credentials

    (tmp_path / "pulumi").write_text(FAKE_CLI)
    (tmp_path / "pulumi").chmod(0o755)
    out = io.StringIO()
    credentials.print_credentials(automation.stack_settings(), out)
    (line,) = [x for x in out.getvalue().splitlines() if "pulumi config get" in x]
    log = tmp_path / "cli.log"
    env = {
        "PATH": f"{tmp_path}:/usr/bin:/bin",
        "PULUMI_CONFIG_PASSPHRASE": "",
        "LAB_FAKE_CLI_LOG": str(log),
    }
    command = line.strip().replace("<key>", "grafanaAdminPassword")
    subprocess.run(["/bin/sh", "-c", command], env=env, check=True, timeout=30)
    assert log.read_text().splitlines() == [f"file:{automation.PASSPHRASE_FILE}"]
