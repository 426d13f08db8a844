"""scripts/lab.py: the missing-CLI path, the passphrase file and the pre-flight checks."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from scripts import lab
from stack import defaults

DEFAULT_SETTINGS = lab.stack_settings()


def test_missing_cli_ends_in_one_clear_line_without_traceback(tmp_path):
    env = {
        **os.environ,
        "PATH": str(tmp_path),  # no `pulumi` here
        # The installer's download must fail deterministically, even with internet access.
        "https_proxy": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    if (lab.CLI_ROOT / "bin" / "pulumi").exists():
        pytest.skip("a Pulumi CLI is installed in .pulumi-cli/")
    result = subprocess.run(
        [sys.executable, "-m", "scripts.lab", "up"],
        cwd=lab.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"lab: {lab.INSTALL_HINT}"], result.stderr


def test_usage_errors_exit_non_zero_without_traceback(capsys):
    assert lab.main([]) == 2
    assert lab.main(["sideways"]) == 1
    assert "unknown command 'sideways'" in capsys.readouterr().err


def test_find_cli_prefers_project_then_path_then_installs(tmp_path):
    tried = []

    def factory(root=None):
        tried.append(root)
        raise FileNotFoundError("pulumi")

    installed = object()
    assert lab.find_cli(tmp_path, command_factory=factory, installer=lambda root: installed) is (
        installed
    )
    assert tried == [str(tmp_path), None]

    def broken_installer(root):
        raise OSError("no route to get.pulumi.com")

    with pytest.raises(lab.LabError, match="install it"):
        lab.find_cli(tmp_path, command_factory=factory, installer=broken_installer)
    found = object()
    assert lab.find_cli(tmp_path, command_factory=lambda root=None: found) is found


def test_passphrase_is_created_once_and_private(tmp_path):
    path = lab.ensure_passphrase(tmp_path / "state" / "passphrase")
    first = path.read_text()
    assert len(first.strip()) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert lab.ensure_passphrase(path).read_text() == first


def test_backend_and_home_stay_inside_the_project():
    env = lab.pulumi_env()
    assert env["PULUMI_BACKEND_URL"] == f"file://{lab.REPO_ROOT / '.pulumi-state'}"
    assert Path(env["PULUMI_HOME"]).parent == lab.REPO_ROOT
    assert Path(env["PULUMI_CONFIG_PASSPHRASE_FILE"]).is_relative_to(lab.STATE_DIR)
    ignored = (lab.REPO_ROOT / ".gitignore").read_text().splitlines()
    for directory in (".pulumi-state/", ".pulumi-home/", ".pulumi-cli/"):
        assert directory in ignored, directory


def test_required_memory_follows_the_enabled_parts():
    memory = defaults.MEMORY_MB
    functions_and_traefik = 3 * 2 * memory["function"] + memory["traefik"]
    assert lab.required_memory_mb({**DEFAULT_SETTINGS, "metrics": False, "logs": False}) == (
        functions_and_traefik
    )
    full = lab.required_memory_mb(DEFAULT_SETTINGS)
    no_logs = lab.required_memory_mb({**DEFAULT_SETTINGS, "logs": False})
    assert full - no_logs == memory["elasticsearch"] + memory["logstash"] + memory["kibana"]
    no_grafana = lab.required_memory_mb({**DEFAULT_SETTINGS, "grafana": False})
    assert full - no_grafana == memory["grafana"]
    assert lab.required_memory_mb({**DEFAULT_SETTINGS, "replicas": 3}) - full == (
        3 * memory["function"]
    )


class FakeDocker:
    def __init__(self, answers=True, running_limits_mb=()):
        self.answers = answers
        self.containers = SimpleNamespace(
            list=lambda filters: [
                SimpleNamespace(attrs={"HostConfig": {"Memory": mb * 1024 * 1024}})
                for mb in running_limits_mb
            ]
        )

    def ping(self):
        if not self.answers:
            raise ConnectionRefusedError("docker.sock")
        return True


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_preflight_says_how_to_fix_each_problem(tmp_path):
    low_map = write(tmp_path / "max_map_count", "65530\n")
    good_map = write(tmp_path / "max_map_count_ok", "262144\n")
    plenty = write(tmp_path / "meminfo", "MemTotal: 32000000 kB\nMemAvailable: 16000000 kB\n")
    scarce = write(tmp_path / "meminfo_low", "MemAvailable: 2000000 kB\n")

    with pytest.raises(lab.LabError, match="Docker daemon does not answer"):
        lab.preflight(DEFAULT_SETTINGS, client_factory=lambda: FakeDocker(answers=False))
    with pytest.raises(lab.LabError, match=r"sysctl -w vm.max_map_count=262144"):
        lab.preflight(
            DEFAULT_SETTINGS, client_factory=FakeDocker, sysctl_path=low_map, meminfo_path=plenty
        )
    # Without the Elastic stack the kernel setting does not matter.
    lab.preflight(
        {**DEFAULT_SETTINGS, "logs": False},
        client_factory=FakeDocker,
        sysctl_path=low_map,
        meminfo_path=plenty,
    )
    with pytest.raises(lab.LabError, match="MB of memory but 1953 MB are free"):
        lab.preflight(
            DEFAULT_SETTINGS, client_factory=FakeDocker, sysctl_path=good_map, meminfo_path=scarce
        )
    # A running lab's own containers count as available to the `up` that replaces them.
    running = lambda: FakeDocker(running_limits_mb=[4000])  # noqa: E731
    lab.preflight(
        DEFAULT_SETTINGS, client_factory=running, sysctl_path=good_map, meminfo_path=scarce
    )


@pytest.mark.live
def test_preflight_docker_check_against_the_real_daemon(docker_client):
    assert lab.check_docker() is not None


def test_outputs_is_empty_without_a_cli(monkeypatch):
    def no_cli(**_kwargs):
        raise lab.LabError(lab.INSTALL_HINT)

    monkeypatch.setattr(lab, "find_cli", no_cli)
    assert lab.outputs() == {}


def test_stack_settings_read_the_committed_defaults():
    assert DEFAULT_SETTINGS["replicas"] == defaults.REPLICAS
    assert DEFAULT_SETTINGS["images"] == dict(defaults.IMAGES)
    assert DEFAULT_SETTINGS["ports"] == dict(defaults.PORTS)
    assert DEFAULT_SETTINGS["memoryMb"] == dict(defaults.MEMORY_MB)
    assert "grafanaAdminPassword" not in DEFAULT_SETTINGS
