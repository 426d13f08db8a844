"""What the front door checks of the stack's secrets before Pulumi runs (issue 11): the
passphrase file and the encrypted values in Pulumi.<stack>.yaml. Each problem is one line that
says what to do, and nothing is written: not the passphrase, not the state, not the stack file.

The formats are the Pulumi passphrase provider's (pulumi/pulumi
sdk/go/common/resource/config/crypt.go, symmetricCrypter; pkg/secrets/passphrase/manager.go):
a value is `v1:<base64 nonce>:<base64 ciphertext>`, AES-256-GCM with a 12-byte nonce and a
16-byte tag; `encryptionsalt` is `v1:<base64 salt>:<a value that decrypts to "pulumi">`.
Whether a passphrase is the right one, or an intact-looking value decrypts, only Pulumi can
tell (the lab has no AES): automation.explain() turns its answer into the same kind of line.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

NONCE_BYTES = 12
TAG_BYTES = 16
START_OVER = "make up then generates new passwords"


class SecretsProblem(ValueError):
    """A problem with the stack's secrets that the user has to fix by hand."""


def _value_problem(value: Any) -> str | None:
    """Why a `secure:` value cannot be one Pulumi wrote, or None."""
    if not isinstance(value, str):
        return f"expected a string, found {type(value).__name__}"
    fields = value.split(":")
    if len(fields) != 3 or fields[0] != "v1":
        return "expected v1:<nonce>:<ciphertext>"
    try:
        nonce = base64.b64decode(fields[1], validate=True)
        ciphertext = base64.b64decode(fields[2], validate=True)
    except (binascii.Error, ValueError):
        return "not base64"
    if len(nonce) != NONCE_BYTES:
        return f"a {len(nonce)}-byte nonce, Pulumi writes {NONCE_BYTES}"
    if len(ciphertext) < TAG_BYTES:
        return "shorter than its authentication tag"
    return None


def _salt_problem(salt: Any) -> str | None:
    if not isinstance(salt, str):
        return f"expected a string, found {type(salt).__name__}"
    fields = salt.split(":", 2)
    if len(fields) != 3 or fields[0] != "v1":
        return "expected v1:<salt>:<check value>"
    try:
        base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        return "its salt is not base64"
    return _value_problem(fields[2])


def load(stack_file: Path) -> Mapping[str, Any]:
    try:
        document = yaml.safe_load(stack_file.read_text()) if stack_file.exists() else {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise SecretsProblem(f"{stack_file.name} is not valid YAML{where}") from None
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise SecretsProblem(f"{stack_file.name} must be a YAML mapping")
    return document


def check(
    stack_file: Path, passphrase_file: Path, secret_keys: tuple[str, ...], namespace: str
) -> None:
    """Raise SecretsProblem for the first problem found; read only."""
    document = load(stack_file)
    name, config = stack_file.name, document.get("config") or {}
    if not isinstance(config, Mapping):
        raise SecretsProblem(f"{name}: `config` must be a mapping")
    encrypted = []
    for key, value in config.items():
        secure = value.get("secure") if isinstance(value, Mapping) else None
        if isinstance(value, Mapping) and "secure" in value:
            if problem := _value_problem(secure):
                raise SecretsProblem(
                    f"{name}: the secure value of {key} is corrupted ({problem}): restore it"
                    f" from git, or delete {key} and {START_OVER}"
                )
            encrypted.append(key)
        elif key.removeprefix(f"{namespace}:") in secret_keys and key.startswith(f"{namespace}:"):
            raise SecretsProblem(
                f"{name}: {key} is in plain text in a file git tracks: delete it and set it with"
                f" `pulumi config set --secret {key} '<password>'` (quotes and spaces are kept),"
                " or delete it and make up generates one"
            )
    salt = document.get("encryptionsalt")
    if salt is not None and (problem := _salt_problem(salt)):
        raise SecretsProblem(
            f"{name}: encryptionsalt is corrupted ({problem}): restore it from git,"
            f" or delete it with every secure value and {START_OVER}"
        )
    if encrypted and salt is None:
        raise SecretsProblem(
            f"{name}: {', '.join(encrypted)} encrypted without an encryptionsalt (another"
            f" secrets provider?): restore the file, or delete them and {START_OVER}"
        )
    if salt is not None:
        check_passphrase(passphrase_file, name)


def check_passphrase(passphrase_file: Path, stack_file_name: str) -> None:
    """The passphrase that encrypted the stack's secrets must be there; never a new one."""
    where = passphrase_file
    if not passphrase_file.exists():
        raise SecretsProblem(
            f"{where} is missing, but {stack_file_name}'s secrets were encrypted with a"
            f" passphrase: put it back in that file (one line, chmod 600), or delete"
            f" encryptionsalt and every secure value from {stack_file_name} and {START_OVER}"
        )
    try:
        text = passphrase_file.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise SecretsProblem(f"{where} cannot be read ({type(error).__name__})") from None
    if not text.strip():
        raise SecretsProblem(
            f"{where} is empty: put the passphrase that encrypted {stack_file_name}'s secrets"
            " back in it"
        )
