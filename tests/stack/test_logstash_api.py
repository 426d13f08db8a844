"""Logstash's monitoring API behind a login (issue 22, item 3), as the program declares it on one
host and on Swarm, and its clients signing in against a stand-in that asks the login Logstash
reads from the declared logstash.yml.

Rules from elastic/logstash v8.19.4:
- logstash-core/lib/logstash/webserver.rb: with `api.auth.type: basic` every path is wrapped in
  `Rack::Auth::Basic` (realm "logstash-api"); `api.auth.basic.username` and `.password` are then
  required; the password is checked against a policy (`Setting::ValidatedPassword`).
- logstash-core/lib/logstash/environment.rb l.80-88: `api.auth.type` is `none` or `basic`; the
  policy's mode `WARN` or `ERROR`, length.minimum 8, upper, lower and digit REQUIRED.
- logstash-core/src/test/java/org/logstash/secret/password/PasswordValidatorTest.java:
  "Password123$" passes, "password123" lacks an upper case.
- docker/data/logstash/env2yaml/env2yaml.go: the image's entrypoint rewrites logstash.yml when
  an environment variable names a setting (case, dots and underscores ignored); the lab's file
  is 0400, so no variable may name one.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request

import pytest
import yaml

from lab import automation
from lab.support import free_port, wait_until
from stack.configs import logstash_api
from tests.stack.captured import containers, declared_api_login, declared_under, upload
from tests.support.capture import MOCK_SECRETS, ProgramFailed, capture
from tests.support.logstash_standin import start_logstash
from tests.support.swarm_tls import config_files, secret_files, service

SETTINGS_FILE = "/usr/share/logstash/config/logstash.yml"
APP_UID = "10001"  # app/Dockerfile's user, which the exporter's image runs as
LOGSTASH_UID = "1000"  # the Logstash image's user
# env2yaml.go validSettings (l.29-30, 79-87): the API's settings an environment could set.
API_SETTINGS = (
    "api.http.host",
    "api.http.port",
    "api.auth.type",
    "api.auth.basic.username",
    "api.auth.basic.password",
    "api.auth.basic.password_policy.mode",
)


def _part(name: str) -> dict:
    (found,) = (c for n, c in containers(declared_under("default")).items() if n.endswith(name))
    return found


def _squash(setting: str) -> str:
    """env2yaml.go squashSetting: lower case, without dots and underscores."""
    return setting.lower().replace(".", "").replace("_", "")


def test_one_host_logstash_yml_asks_the_generated_login_and_is_a_secret_file():
    logstash = _part("-logstash")
    (entry,) = [u for u in logstash["inputs"]["uploads"] if u["file"] == SETTINGS_FILE]
    assert (entry["permissions"], entry["owner"]) == ("0400", LOGSTASH_UID)
    settings = yaml.safe_load(entry["content"])
    user, password = declared_api_login(declared_under("default"))
    assert user
    assert password == MOCK_SECRETS["lab:logstashApiPassword"]
    assert settings["api.auth.basic.password_policy.mode"] in ("WARN", "ERROR")
    # The password is in that file only: not in an environment, command or label.
    inputs = {k: v for k, v in logstash["inputs"].items() if k != "uploads"}
    assert password not in repr(inputs)


def test_swarm_logstash_yml_is_a_secret_not_a_config():
    files = secret_files("logstash")
    assert SETTINGS_FILE in files, sorted(files)
    content, mount = files[SETTINGS_FILE]
    assert (mount["fileMode"], mount["fileUid"]) == (0o400, LOGSTASH_UID)
    settings = yaml.safe_load(content)
    assert settings["api.auth.type"] == "basic"
    assert settings["api.auth.basic.password"] == MOCK_SECRETS["lab:logstashApiPassword"]
    assert SETTINGS_FILE not in config_files("logstash")
    # The health check's curl config travels the same way.
    assert secret_files("logstash")[logstash_api.CURL_CONFIG_FILE][1]["fileMode"] == 0o400


def test_no_environment_variable_makes_the_entrypoint_rewrite_logstash_yml():
    envs = [e.split("=", 1)[0] for e in _part("-logstash")["inputs"].get("envs", [])]
    envs += list(service("logstash").get("env", {}))
    settings = yaml.safe_load(upload(_part("-logstash"), SETTINGS_FILE))
    named = {_squash(s) for s in (*settings, *API_SETTINGS)}
    assert not [e for e in envs if _squash(e) in named], envs


def _run_exporter(argv: list[str], url: str, password_file) -> tuple[subprocess.Popen, str]:
    """The declared command with the test's Logstash address and password file."""
    swapped = []
    for arg in argv:
        if arg.startswith("--logstash-url="):
            arg = f"--logstash-url={url}"
        elif arg.startswith("--password-file="):
            arg = f"--password-file={password_file}"
        elif arg.startswith("--port="):
            arg = f"--port={free_port()}"
        swapped.append(arg)
    command = [sys.executable, "-m", "app.logstash_exporter", "--host=127.0.0.1", *swapped]
    return subprocess.Popen(command), next(a for a in swapped if a.startswith("--port="))


@pytest.mark.parametrize("engine", ["docker", "swarm"])
def test_the_exporter_signs_in_with_the_declared_login(engine, tmp_path):
    """The declared exporter (its arguments, its password file) reads the counters of a
    Logstash that asks the declared login; logstash_up is 1 only when it signed in."""
    if engine == "docker":
        exporter = _part("-logstash_exporter")["inputs"]
        argv = exporter["command"]
        files = {
            u["file"]: (u["content"], u["permissions"], u["owner"]) for u in exporter["uploads"]
        }
    else:
        exporter = service("logstash_exporter")
        argv = exporter["args"]
        files = {
            path: (text, f"{int(mount['fileMode']):04o}", mount["fileUid"])
            for path, (text, mount) in secret_files("logstash_exporter").items()
        }
    password_path = next(a for a in argv if a.startswith("--password-file=")).split("=", 1)[1]
    content, mode, owner = files[password_path]
    assert (mode, owner) == ("0400", APP_UID)
    local = tmp_path / "password"
    local.write_text(content)
    server = start_logstash(login=declared_api_login(declared_under("default")))
    server.pipeline_stats = {"main": {"events": {"in": 7, "out": 7}}}
    process, port = _run_exporter(argv, f"http://127.0.0.1:{server.server_port}", local)
    try:
        url = f"http://127.0.0.1:{port.split('=')[1]}/metrics"
        wait_until(lambda: urllib.request.urlopen(url, timeout=1), timeout=15, what=url)
        text = urllib.request.urlopen(url, timeout=5).read().decode()
    finally:
        process.terminate()
        process.wait(timeout=10)
        server.shutdown()
    assert "logstash_up 1.0" in text
    assert 'logstash_events_out_total{pipeline="main"} 7.0' in text
    assert set(server.logins) == {logstash_api.USER}


def test_logstashs_own_examples_of_its_password_policy():
    assert logstash_api.policy_failures("Password123$") == []
    assert "must contain at least one upper case" in logstash_api.policy_failures("password123")
    assert "must contain at least one digit between 0 and 9" in logstash_api.policy_failures(
        "Password"
    )
    assert logstash_api.policy_failures("Pass12") == ["must be length of between 8 and 1024"]


def test_every_generated_password_passes_logstashs_policy():
    """A URL-safe token of 24 characters lacks a digit about once in 60 draws; the generator
    draws again until Logstash would take it (500 draws: a generator without it fails here)."""
    drawn = [automation.generated_secret("lab:logstashApiPassword") for _ in range(500)]
    assert [p for p in drawn if logstash_api.policy_failures(p)] == []
    assert len(set(drawn)) == len(drawn)


def test_a_hand_set_password_logstash_would_refuse_stops_the_program_before_any_resource():
    with pytest.raises(ProgramFailed) as failed:
        capture({"lab:logstashApiPassword": "alllowercase"})
    assert "lab:logstashApiPassword must contain at least one upper case" in failed.value.error
    assert "must contain at least one digit" in failed.value.error
    assert failed.value.resources == []
