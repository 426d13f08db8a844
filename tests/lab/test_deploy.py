"""`make up/preview/down` (lab/deploy.py): invalid config stops before Pulumi, the missing-CLI
path, and pre-flight checks that say how to fix each problem."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.contract import FUNCTIONS
from lab import automation, deploy
from lab.support import REPO_ROOT, LabError
from stack.settings import MEMORY_MB, LabSettings

DEFAULTS = LabSettings()


def test_missing_cli_ends_in_one_clear_line_without_traceback(tmp_path):
    env = {
        **os.environ,
        "PATH": str(tmp_path),  # no `pulumi` here
        # The installer's download must fail deterministically, even with internet access.
        "https_proxy": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    if (automation.CLI_ROOT / "bin" / "pulumi").exists():
        pytest.skip("a Pulumi CLI is installed in .pulumi-cli/")
    result = subprocess.run(
        [sys.executable, "-m", "lab.deploy", "up"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"lab: {automation.INSTALL_HINT}"], result.stderr


def test_usage_errors_exit_non_zero_without_traceback(capsys):
    assert deploy.main([]) == 2
    assert deploy.main(["sideways"]) == 1
    assert "unknown command 'sideways'" in capsys.readouterr().err


class Recorder:
    """Stands in for the Automation API: records every call, so a test sees none was made."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        def record(*args, **kwargs):
            self.calls.append(name)
            raise AssertionError(f"Pulumi was touched: {name}")

        return record


INVALID_CONFIGS = {
    "replicas: 0": (
        "  lab:replicas: 0\n",
        "lab:replicas = 0 is invalid: expected an integer from 1 to 20",
    ),
    "a switch that is not a boolean": (
        '  lab:logs: "no"\n',
        "lab:logs = 'no' is invalid: expected true or false",
    ),
    "a port out of range": (
        "  lab:ports:\n    api: 70000\n",
        "lab:ports.api = 70000 is invalid: expected an integer from 1 to 65535",
    ),
    "a port taken twice": (
        "  lab:ports:\n    grafana: 8000\n",
        "lab:ports.grafana = 8000 is invalid: port 8000 is already taken by lab:ports.api",
    ),
    "an unknown key": (
        "  lab:replica: 3\n",
        "unknown key lab:replica; did you mean lab:replicas? (known: ",
    ),
    "memory below a part's minimum": (
        "  lab:memoryMb:\n    grafana: 256\n",
        "lab:memoryMb.grafana = 256 is invalid: expected at least 512"
        " (the part's documented minimum)",
    ),
    "ports without a login on a reachable address (issue 11)": (
        "  lab:bindAddress: 0.0.0.0\n",
        "lab:bindAddress = '0.0.0.0' publishes ports that answer without a login to every"
        " machine that reaches it: gelf 12201/tcp: ",
    ),
}


@pytest.mark.parametrize("command", ["up", "preview"])
@pytest.mark.parametrize("case", list(INVALID_CONFIGS))
def test_invalid_config_stops_before_pulumi_with_one_line(
    case, command, tmp_path, monkeypatch, capsys
):
    yaml_lines, message = INVALID_CONFIGS[case]
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text("config:\n" + yaml_lines)
    pulumi = Recorder()
    monkeypatch.setattr(automation, "STACK_FILE", stack_file)
    monkeypatch.setattr(automation, "find_cli", pulumi.find_cli)
    monkeypatch.setattr(automation, "select_stack", pulumi.select_stack)
    monkeypatch.setattr(deploy, "check_docker", pulumi.check_docker)

    assert deploy.main([command]) == 1
    assert pulumi.calls == []
    err = capsys.readouterr().err
    assert err.startswith(f"lab: Pulumi.dev.yaml: {message}"), err
    assert err.count("\n") == 1, err


def test_down_does_not_need_valid_config(tmp_path, monkeypatch, capsys):
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text("config:\n  lab:replicas: 0\n")
    destroyed = []
    monkeypatch.setattr(automation, "STACK_FILE", stack_file)
    monkeypatch.setattr(
        automation,
        "select_stack",
        lambda: SimpleNamespace(destroy=lambda on_output: destroyed.append(True)),
    )
    monkeypatch.setattr(deploy, "check_docker", lambda: FakeDocker())
    assert deploy.main(["down"]) == 0
    assert destroyed == [True]


# What lab:logs switches on: the Elastic stack and, with metrics, its two exporters.
LOGS_PARTS = ("elasticsearch", "logstash", "kibana", "elasticsearch_exporter", "logstash_exporter")


def needed(settings: LabSettings) -> int:
    return settings.memory_needed_mb(len(FUNCTIONS))


def test_required_memory_follows_the_enabled_parts():
    functions_and_traefik = len(FUNCTIONS) * 2 * MEMORY_MB["function"] + MEMORY_MB["traefik"]
    bare = dataclasses.replace(DEFAULTS, metrics=False, logs=False)
    assert needed(bare) == functions_and_traefik
    full = needed(DEFAULTS)
    no_logs = needed(dataclasses.replace(DEFAULTS, logs=False))
    logs_parts = (
        "elasticsearch",
        "logstash",
        "kibana",
        "elasticsearch_exporter",
        "logstash_exporter",
    )
    assert full - no_logs == sum(MEMORY_MB[part] for part in logs_parts)
    assert full - needed(dataclasses.replace(DEFAULTS, grafana=False)) == MEMORY_MB["grafana"]
    assert needed(dataclasses.replace(DEFAULTS, replicas=3)) - full == (
        len(FUNCTIONS) * MEMORY_MB["function"]
    )


class FakeDocker:
    """A daemon's answers: `info`, and the output of the preflight's one-shot container as a
    Debian shell gives it (`cat`, `grep`, POSIX `df -Pk`)."""

    def __init__(
        self,
        answers=True,
        running_limits_mb=(),
        version="28.0.1",
        *,
        max_map_count=262144,
        available_kb=16000000,
        disk_kb=(100_000_000, 60_000_000),  # total, available
        operating_system="Debian GNU/Linux 12 (bookworm)",
        kernel="6.1.0-18-amd64",
    ):
        self.answers = answers
        self.version = lambda: {"Version": version}
        self.volumes = SimpleNamespace(list=lambda filters: [])
        self.runs: list[dict] = []
        total, available = disk_kb
        probe = (
            f"{max_map_count}\nMemAvailable:   {available_kb} kB\n"
            f"/dev/sda1 {total} {total - available} {available} 40% /lab-probe\n"
        )
        self.info = lambda: {
            "MemTotal": 32 * 1024**3,
            "OperatingSystem": operating_system,
            "KernelVersion": kernel,
            "DockerRootDir": "/var/lib/docker",
        }
        self.containers = SimpleNamespace(
            list=lambda filters: [
                SimpleNamespace(attrs={"HostConfig": {"Memory": mb * 1024 * 1024}})
                for mb in running_limits_mb
            ],
            run=lambda image, command, **options: (
                self.runs.append({"image": image, "command": command, **options}) or probe.encode()
            ),
        )

    def ping(self):
        if not self.answers:
            raise ConnectionRefusedError("docker.sock")
        return True


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_preflight_says_how_to_fix_each_problem():
    """Every value comes from the daemon (FakeDocker), whatever this machine's /proc says."""
    with pytest.raises(LabError, match="Docker daemon does not answer"):
        deploy.preflight(DEFAULTS, client_factory=lambda: FakeDocker(answers=False))
    low_map = lambda: FakeDocker(max_map_count=65530)  # noqa: E731
    with pytest.raises(LabError, match=r"sysctl -w vm.max_map_count=262144"):
        deploy.preflight(DEFAULTS, client_factory=low_map)
    # Without the Elastic stack the kernel setting does not matter.
    deploy.preflight(dataclasses.replace(DEFAULTS, logs=False), client_factory=low_map)
    logs_cost = sum(MEMORY_MB[part] for part in LOGS_PARTS)
    scarce = lambda **kw: FakeDocker(available_kb=2000000, **kw)  # noqa: E731
    with pytest.raises(LabError, match=f"but 1953 MB are free.*saves {logs_cost} MB"):
        deploy.preflight(DEFAULTS, client_factory=scarce)
    # A running lab's own containers count as available to the `up` that replaces them.
    deploy.preflight(DEFAULTS, client_factory=lambda: scarce(running_limits_mb=[5000]))


@pytest.mark.live
def test_preflight_docker_check_against_the_real_daemon(docker_client, monkeypatch):
    # The client it hands on talks to the daemon that answers here (same engine ID) ...
    assert deploy.check_docker().info()["ID"] == docker_client.info()["ID"]
    # ... and a daemon that does not answer is a LabError with what to do, not a traceback.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(LabError, match=r"the Docker daemon does not answer.*start it"):
        deploy.check_docker()


@pytest.mark.parametrize(
    ("version", "warned"),
    [("20.10.24+dfsg1", True), ("27.5.1", True), ("", True), ("28.0.0", False), ("29.1.2", False)],
)
def test_engines_before_28_get_a_warning_with_what_to_do(version, warned):
    """moby issues 45610 and 41872: before Engine 28, a LAN host reaches 127.0.0.1 ports."""
    warnings: list[str] = []
    deploy.preflight(
        DEFAULTS, client_factory=lambda: FakeDocker(version=version), warn=warnings.append
    )
    assert bool(warnings) is warned, warnings
    if warned:
        (line,) = warnings
        print(f"\n{line}")
        assert line == (
            (
                f"warning: Docker Engine {version} is older than"
                if version
                else "warning: the Docker Engine does not say its version, so it may be older than"
            )
            + " 28: hosts on the same LAN can reach ports published on 127.0.0.1"
            " (moby issues 45610 and 41872). Upgrade the engine to 28 or later, or drop such"
            " packets yourself:"
            " `sudo iptables -t raw -I PREROUTING ! -i lo -d 127.0.0.0/8 -j DROP`"
        )


def test_no_loopback_warning_where_nothing_is_published_on_loopback():
    reachable = dataclasses.replace(
        DEFAULTS, bind_address="0.0.0.0", allow_open_ports=("prometheus",)
    )
    assert deploy.engine_warning(reachable, "20.10.24") is None
    swarm = dataclasses.replace(DEFAULTS, engine="swarm", logs=False, grafana=False)
    assert deploy.engine_warning(swarm, "20.10.24") is None


@pytest.mark.live
def test_the_real_daemon_reports_a_version_the_check_reads(docker_client):
    version = deploy.engine_version(docker_client)
    warning = deploy.engine_warning(DEFAULTS, version)
    print(f"\nengine {version}: {warning or 'no warning'}")
    assert re.match(r"\d+\.\d+", version), version
    assert (warning is None) == (int(version.split(".")[0]) >= deploy.SAFE_LOOPBACK_ENGINE)
