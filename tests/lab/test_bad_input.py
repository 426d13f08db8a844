"""The front door's bad-input sweep (issue 11): a missing, empty or wrong passphrase, a corrupted
`secure:` value or encryptionsalt in Pulumi.<stack>.yaml, a password in plain text, quotes and
spaces. Each ends in one line on stderr and exit 1, and nothing is written: no passphrase, no
state, no change to the stack file, no Pulumi call (so no container).

What runs here: the lab's own checks (lab/stack_secrets.py) before Pulumi, and its reading of
Pulumi's errors (automation.explain). Not here: the Pulumi CLI itself deciding that a
passphrase is wrong or that an intact-looking value fails authentication (no CLI can be
installed); those are fed to the lab as the error text Pulumi's source writes.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
import yaml

from lab import automation, credentials, deploy

QUOTES_AND_SPACES = 'it\'s a "pass" word \\ $HOME'


def secure(nonce: int = 12, body: int = 22) -> str:
    return (
        f"v1:{base64.b64encode(os.urandom(nonce)).decode()}"
        f":{base64.b64encode(os.urandom(body)).decode()}"
    )


SALT = f"v1:{base64.b64encode(os.urandom(8)).decode()}:{secure()}"


class Untouchable:
    """Any Pulumi call (find the CLI, select the stack, ask Docker) fails the test."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def record(*args, **kwargs):
            self.calls.append(name)
            raise AssertionError(f"called {name}")

        return record


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """The stack file, passphrase and state of a lab in tmp_path; Pulumi is untouchable."""
    state = tmp_path / ".pulumi-state"
    paths = {
        "stack_file": tmp_path / "Pulumi.dev.yaml",
        "state": state,
        "passphrase": state / "passphrase",
    }
    monkeypatch.setattr(automation, "STACK_FILE", paths["stack_file"])
    monkeypatch.setattr(automation, "STATE_DIR", state)
    monkeypatch.setattr(automation, "PASSPHRASE_FILE", paths["passphrase"])
    pulumi = Untouchable()
    for name in ("find_cli", "select_stack"):
        monkeypatch.setattr(automation, name, getattr(pulumi, name))
    monkeypatch.setattr(deploy, "check_docker", pulumi.check_docker)
    paths["pulumi"] = pulumi
    return paths


def write_stack(lab, document: dict, passphrase: str | None = "a passphrase\n") -> bytes:
    lab["stack_file"].write_text(yaml.safe_dump(document))
    if passphrase is not None:
        lab["state"].mkdir()
        lab["passphrase"].write_text(passphrase)
    return lab["stack_file"].read_bytes()


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


CASES = {
    "missing passphrase": (
        {"encryptionsalt": SALT, "config": {"lab:grafanaAdminPassword": {"secure": secure()}}},
        None,
        "{passphrase} is missing, but Pulumi.dev.yaml's secrets were encrypted with a"
        " passphrase: put it back in that file (one line, chmod 600), or delete encryptionsalt"
        " and every secure value from Pulumi.dev.yaml and make up then generates new passwords",
    ),
    "empty passphrase": (
        {"encryptionsalt": SALT},
        "  \n",
        "{passphrase} is empty: put the passphrase that encrypted Pulumi.dev.yaml's secrets"
        " back in it",
    ),
    "secure value not base64": (
        {"encryptionsalt": SALT, "config": {"lab:elasticPassword": {"secure": "v1:@@@:###"}}},
        "p\n",
        "Pulumi.dev.yaml: the secure value of lab:elasticPassword is corrupted (not base64):"
        " restore it from git, or delete lab:elasticPassword and make up then generates new"
        " passwords",
    ),
    "secure value cut short": (
        {"encryptionsalt": SALT, "config": {"lab:elasticPassword": {"secure": secure(body=8)}}},
        "p\n",
        "Pulumi.dev.yaml: the secure value of lab:elasticPassword is corrupted (shorter than"
        " its authentication tag): restore it from git, or delete lab:elasticPassword and make"
        " up then generates new passwords",
    ),
    "secure value with a wrong nonce": (
        {"encryptionsalt": SALT, "config": {"lab:labUserPassword": {"secure": secure(nonce=9)}}},
        "p\n",
        "Pulumi.dev.yaml: the secure value of lab:labUserPassword is corrupted (a 9-byte nonce,"
        " Pulumi writes 12): restore it from git, or delete lab:labUserPassword and make up"
        " then generates new passwords",
    ),
    "secure value without its version": (
        {"encryptionsalt": SALT, "config": {"lab:labUserPassword": {"secure": "abc"}}},
        "p\n",
        "Pulumi.dev.yaml: the secure value of lab:labUserPassword is corrupted (expected"
        " v1:<nonce>:<ciphertext>): restore it from git, or delete lab:labUserPassword and make"
        " up then generates new passwords",
    ),
    "encryptionsalt edited": (
        {"encryptionsalt": "v1:c2FsdA==:oops"},
        "p\n",
        "Pulumi.dev.yaml: encryptionsalt is corrupted (expected v1:<nonce>:<ciphertext>):"
        " restore it from git, or delete it with every secure value and make up then generates"
        " new passwords",
    ),
    "secrets without an encryptionsalt": (
        {"config": {"lab:grafanaAdminPassword": {"secure": secure()}}},
        "p\n",
        "Pulumi.dev.yaml: lab:grafanaAdminPassword encrypted without an encryptionsalt (another"
        " secrets provider?): restore the file, or delete them and make up then generates new"
        " passwords",
    ),
    "a password in plain text, with quotes and spaces": (
        {"config": {"lab:traefikAdminPassword": QUOTES_AND_SPACES}},
        None,
        "Pulumi.dev.yaml: lab:traefikAdminPassword is in plain text in a file git tracks:"
        " delete it and set it with `pulumi config set --secret lab:traefikAdminPassword"
        " '<password>'` (quotes and spaces are kept), or delete it and make up generates one",
    ),
}


@pytest.mark.parametrize("command", ["up", "preview", "down"])
@pytest.mark.parametrize("case", list(CASES))
def test_each_bad_input_is_one_line_and_changes_nothing(case, command, lab, capsys):
    document, passphrase, message = CASES[case]
    write_stack(lab, document, passphrase)
    before = snapshot(lab["stack_file"].parent)
    assert deploy.main([command]) == 1
    err = capsys.readouterr().err
    assert err == f"lab: {message.format(passphrase=lab['passphrase'])}\n"
    assert QUOTES_AND_SPACES not in err  # a refused password is never echoed
    assert lab["pulumi"].calls == []
    assert snapshot(lab["stack_file"].parent) == before  # no passphrase, no state, same file


def test_credentials_show_does_not_replace_a_missing_passphrase(lab, monkeypatch):
    write_stack(lab, CASES["missing passphrase"][0], passphrase=None)
    lab["state"].mkdir()  # a state without its passphrase
    monkeypatch.setattr(automation, "cli_present", lambda: True)
    before = snapshot(lab["stack_file"].parent)
    values, why_not = credentials.read_secrets(["grafanaAdminPassword"])
    assert values == {}
    assert why_not.startswith(f"could not read them: {lab['passphrase']} is missing")
    assert snapshot(lab["stack_file"].parent) == before


def test_a_secret_with_quotes_and_spaces_passes_the_checks(lab):
    """An encrypted password may hold anything: the lab does not look inside it."""
    write_stack(
        lab,
        {
            "encryptionsalt": SALT,
            "config": {"lab:traefikAdminPassword": {"secure": secure(body=60)}},
        },
    )
    automation.check_secrets()


class FakeStack:
    """What the Automation API raises when the CLI cannot decrypt (its stderr, last lines)."""

    def __init__(self, stderr: str):
        self.stderr, self.config_set = stderr, []

    def get_all_config(self):
        raise RuntimeError(f"\n code: 255\n stdout: \n stderr: {self.stderr}\n")

    def set_config(self, key, value):
        self.config_set.append(key)


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            # pkg/secrets/passphrase/manager.go, ErrIncorrectPassphrase
            "error: getting secrets manager: incorrect passphrase",
            "{passphrase} does not decrypt Pulumi.dev.yaml's secrets (incorrect passphrase): put"
            " the right one back, or delete encryptionsalt and every secure value from"
            " Pulumi.dev.yaml and make up then generates new passwords",
        ),
        (
            # crypt.go decryptAES256GCM: Go's GCM Open error for a changed ciphertext
            "error: could not decrypt configuration value: cipher: message authentication failed",
            "a secure value in Pulumi.dev.yaml does not decrypt (edited by hand?): restore the"
            " file from git, or delete that key and make up generates a new one",
        ),
    ],
)
def test_what_pulumi_says_about_secrets_becomes_one_line(
    stderr, expected, lab, monkeypatch, capsys
):
    write_stack(lab, {"encryptionsalt": SALT})
    stack = FakeStack(stderr)
    monkeypatch.setattr(automation, "select_stack", lambda: stack)
    monkeypatch.setattr(deploy, "check_docker", lambda: None)  # a daemon that answers
    assert deploy.main(["preview"]) == 1
    err = capsys.readouterr().err
    assert err == f"lab: {expected.format(passphrase=lab['passphrase'])}\n"
    assert stack.config_set == []  # no password generated over secrets it could not read


@pytest.mark.parametrize("command", ["up", "preview", "down"])
def test_a_stack_file_that_is_not_yaml_is_one_line(command, lab, capsys):
    lab["stack_file"].write_text("config:\n  lab:replicas: [1\n")
    before = snapshot(lab["stack_file"].parent)
    assert deploy.main([command]) == 1
    assert capsys.readouterr().err == "lab: Pulumi.dev.yaml is not valid YAML (line 3)\n"
    assert lab["pulumi"].calls == []
    assert snapshot(lab["stack_file"].parent) == before


def test_a_passphrase_path_that_is_not_a_file_is_one_line(lab, capsys):
    write_stack(lab, {"encryptionsalt": SALT}, passphrase=None)
    lab["passphrase"].mkdir(parents=True)
    assert deploy.main(["up"]) == 1
    err = capsys.readouterr().err
    assert err == f"lab: {lab['passphrase']} cannot be read (IsADirectoryError)\n"
    assert lab["pulumi"].calls == []
