"""Grafana's start script (stack/grafana.py START_COMMAND) run by a real `sh`: with a kept
database the admin's password is set from the secret file through `grafana cli admin
reset-admin-password --password-from-stdin` (the password on stdin, never on the command line),
and the image's entrypoint starts Grafana whether or not an admin existed yet. `grafana` and
run.sh are stand-ins that record what they were given."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stack import grafana

PASSWORD = "rotated-Pw_1"


def _stub(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


@pytest.fixture
def image(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    secret = tmp_path / "grafana-admin-password"
    secret.write_text(PASSWORD)
    run_sh = tmp_path / "run.sh"
    _stub(run_sh, f'echo "run.sh $GF_PATHS_HOME" > {tmp_path}/started\n')

    def start(cli_exit: int) -> tuple[subprocess.CompletedProcess, Path]:
        _stub(
            bin_dir / "grafana",
            f'printf "%s\\n" "$@" > {tmp_path}/argv\ncat > {tmp_path}/stdin\nexit {cli_exit}\n',
        )
        script = grafana.start_script(password_file=str(secret), run_sh=str(run_sh))
        env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "GF_PATHS_HOME": "/usr/share/grafana",
            "GF_PATHS_CONFIG": "/etc/grafana/grafana.ini",
        }
        done = subprocess.run(
            ["sh", "-c", script, "grafana-start"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return done, tmp_path

    return start


def test_a_kept_database_gets_the_password_from_the_file_then_grafana_starts(image):
    done, where = image(cli_exit=0)
    assert done.returncode == 0, done.stderr
    argv = (where / "argv").read_text().split()
    assert argv[-3:] == ["admin", "reset-admin-password", "--password-from-stdin"]
    assert argv[:5] == [
        "cli",
        "--homepath",
        "/usr/share/grafana",
        "--config",
        "/etc/grafana/grafana.ini",
    ]
    assert PASSWORD not in " ".join(argv)
    assert (where / "stdin").read_text() == PASSWORD
    assert (where / "started").read_text() == "run.sh /usr/share/grafana\n"
    assert "admin password set" in done.stdout


def test_a_new_database_starts_grafana_all_the_same(image):
    done, where = image(cli_exit=1)
    assert done.returncode == 0, done.stderr
    assert (where / "started").exists()
    assert "Grafana creates it from the secret file" in done.stdout


def test_the_declared_command_is_this_script_on_the_images_paths():
    assert grafana.START_COMMAND[:2] == ("sh", "-c")
    assert grafana.START_COMMAND[2] == grafana.start_script()
    assert f"< {grafana.ADMIN_PASSWORD_FILE} " in grafana.START_COMMAND[2]
    assert grafana.START_COMMAND[2].rstrip().endswith('exec /run.sh "$@"')
