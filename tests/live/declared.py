"""What the Pulumi program declares, as the live harness consumes it.

stack/capture.py (shared with tests/stack/) runs the program under Pulumi's mocks in a fresh
interpreter; this module turns its records into `Declared` values and reads the project and
stack settings the harness and `make verify` need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from stack import capture as program_capture

REPO_ROOT = program_capture.REPO_ROOT
# stack.capture runs the program from the repository root, so relative paths the program
# declares (the app's build context) are relative to it.
CAPTURE_DIR = REPO_ROOT


@dataclass(frozen=True)
class Declared:
    """One resource the program registered, with the inputs the provider would receive."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    dependencies: tuple[str, ...]
    inputs: dict = field(hash=False, compare=False)


def project_name(root: Path = REPO_ROOT) -> str:
    return yaml.safe_load((root / "Pulumi.yaml").read_text())["name"]


def stack_config(stack: str, root: Path = REPO_ROOT) -> dict[str, object]:
    """A stack's plain config from Pulumi.<stack>.yaml (secure values need the CLI)."""
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        return {}
    config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    return {
        key: value
        for key, value in config.items()
        if not (isinstance(value, dict) and "secure" in value)
    }


def capture(project: str, stack: str, config: dict[str, object]) -> list[Declared]:
    """Run the program under mocks with `config` over Pulumi.dev.yaml; what it declared."""
    captured = program_capture.capture(config, project=project, stack=stack)
    return [
        Declared(
            urn=record["urn"],
            type=record["type"],
            name=record["name"],
            custom=record["custom"],
            parent=record["parent"],
            dependencies=tuple(record["dependencies"]),
            inputs=record["inputs"],
        )
        for record in captured["resources"]
    ]
