"""Run the Pulumi program under Pulumi's mocks and return what it declares, as plain data.

Test support shared by tests/stack/ and the live harness: no Pulumi CLI and no Docker needed.
Each capture runs in a fresh interpreter (`python -m stack.capture`), because Pulumi's runtime
settings are process-global. The config is Pulumi.dev.yaml's, overridden key by key.

Each resource record: `urn`, `type`, `name`, `custom`, `parent` (URN), `dependencies` (URNs,
explicit `depends_on` and those implied by inputs), `inputs` (camelCase, as the provider sees
them) and `state` (what the mock returned). The mocks answer like the real provider would for
what the program reads back: a RemoteImage's `imageId` is its `name` (so a container's `image`
is the plain image reference), a built Image's `imageName` is its input, a network's `name` is
its input.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
PROGRAM = REPO_ROOT / "stack" / "__main__.py"
STACK_CONFIG = REPO_ROOT / "Pulumi.dev.yaml"
TEST_GRAFANA_PASSWORD = "mock-grafana-password"  # only ever used under mocks
SECRET_KEYS = ("lab:grafanaAdminPassword",)


def _config_string(value: Any) -> str:
    """Pulumi hands config to programs as strings; objects and booleans as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def stack_config(overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """A mock Grafana password, then the overrides: every other key keeps its default."""
    config: dict[str, Any] = {"lab:grafanaAdminPassword": TEST_GRAFANA_PASSWORD}
    config.update(overrides or {})
    # None removes a key, to see how the program fares without it.
    return {key: _config_string(value) for key, value in config.items() if value is not None}


def capture(
    overrides: Mapping[str, Any] | None = None,
    *,
    project: str = "lab",
    stack: str = "dev",
    timeout: float = 120,
) -> dict:
    """`{"resources": [...], "outputs": {...}}` for the program under this config."""
    result = subprocess.run(
        [sys.executable, "-m", "stack.capture", "--project", project, "--stack", stack],
        input=json.dumps(stack_config(overrides)),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the program failed under mocks:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout)


def _plain(value: Any) -> Any:
    """Mock inputs as JSON: secrets unwrapped (tests must see them), unknowns as None."""
    from pulumi.runtime import rpc

    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return _plain(value.get("value"))
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def _run_in_this_process(project: str, stack: str, config: dict[str, str]) -> dict:
    import runpy

    import pulumi
    from pulumi.runtime import mocks, settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    records: list[dict] = []

    class RecordingMonitor(mocks.MockMonitor):
        def RegisterResource(self, request):
            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                registration = self.resources[response.urn]
                records.append(
                    {
                        "urn": response.urn,
                        "type": request.type,
                        "name": request.name,
                        "custom": bool(request.custom),
                        "parent": request.parent,
                        "dependencies": sorted(set(request.dependencies)),
                        "inputs": _plain(registration.state.get("__inputs", {})),
                        "state": _plain(
                            {k: v for k, v in registration.state.items() if k != "__inputs"}
                        ),
                    }
                )
            return response

    class LabMocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs):
            inputs = dict(args.inputs)
            if "__provider" in inputs:  # a dynamic provider, pickled: not data to look at
                inputs["__provider"] = "<serialized dynamic provider>"
            state = dict(inputs)
            if args.typ == "docker:index/remoteImage:RemoteImage":
                state["imageId"] = inputs["name"]
                state["repoDigest"] = inputs["name"]
            state["__inputs"] = inputs
            return f"{args.name}-id", state

        def call(self, args: pulumi.runtime.MockCallArgs):
            return {}

    pulumi.runtime.set_all_config(config, list(SECRET_KEYS))
    pulumi.runtime.set_mocks(
        LabMocks(),
        project=project,
        stack=stack,
        preview=False,
        monitor=RecordingMonitor(LabMocks()),
    )
    outputs: dict = {}

    def program():
        runpy.run_path(str(PROGRAM), run_name="__main__")
        stack_resource = settings.get_root_resource()
        exported = pulumi.Output.from_input(dict(stack_resource.outputs))
        exported.apply(outputs.update)

    _sync_await(run_pulumi_func(program))
    for record in records:
        record["state"].pop("__inputs", None)
    return {"resources": records, "outputs": _plain(outputs)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="lab")
    parser.add_argument("--stack", default="dev")
    parser.add_argument(
        "--config", help="JSON config (default: read from stdin, or Pulumi.dev.yaml if a tty)"
    )
    options = parser.parse_args(argv)
    if options.config:
        config = stack_config(json.loads(options.config))
    elif sys.stdin.isatty():
        config = stack_config()
    else:
        config = json.loads(sys.stdin.read())
    result = _run_in_this_process(options.project, options.stack, config)
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
