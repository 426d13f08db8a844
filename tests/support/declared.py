"""What the Pulumi program declares, as the live harness consumes it.

tests/support/capture.py (shared with tests/stack/) runs the program under Pulumi's mocks in a
fresh interpreter; this module turns its records into `Declared` values and reads the project
and stack config the harness and `make verify` need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stack import settings
from tests.support import capture as program_capture

REPO_ROOT = program_capture.REPO_ROOT
# The capture runs the program from the repository root, so relative paths the program
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
    options: dict = field(default_factory=dict, hash=False, compare=False)
    id: str = field(default="", compare=False)  # the id the mocks gave it (others' inputs)

    @classmethod
    def alone(cls, type_token: str, inputs: dict, name: str = "x", custom: bool = True):
        """One resource of `type_token` with these inputs, no parent and no dependency."""
        urn = f"urn:pulumi:test::lab::{type_token}::{name}"
        return cls(urn, type_token, name, custom, "", (), inputs)


def stack_config(stack: str, root: Path = REPO_ROOT) -> dict[str, object]:
    """A stack's plain `lab:` config from Pulumi.<stack>.yaml (secure values need the CLI)."""
    path = settings.stack_file(root, stack)
    if not path.exists():
        return {}
    return {
        f"{settings.NAMESPACE}:{key}": value
        for key, value in settings.read_stack_file(path).items()
        if not (isinstance(value, dict) and "secure" in value)
    }


def capture(project: str, stack: str, config: dict[str, object]) -> list[Declared]:
    """Run the program under mocks with `config` over the defaults; what it declared."""
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
            options=record["options"],
            id=record.get("id", ""),
        )
        for record in captured["resources"]
    ]
