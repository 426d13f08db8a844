"""Run the Pulumi program under Pulumi's mocks and return what it declares, as plain data.

Used by tests/stack/ and the live harness: no Pulumi CLI and no Docker needed. Each capture runs
in a fresh interpreter (`python -m tests.support.capture`), because Pulumi's runtime settings
are process-global. The config is the settings' defaults, a mock Grafana password, then the
overrides a test gives.

Each resource record: `urn`, `type`, `name`, `custom`, `parent` (URN), `dependencies` (URNs,
explicit `depends_on` and those implied by inputs), `inputs` (camelCase, as the provider sees
them), `state` (what the mock returned) and `options`, the resource options as the program
wrote them (`parent`, `depends_on` as URNs; `replace_on_changes`, `delete_before_replace`,
`protect`, `retain_on_delete`, `ignore_changes`). Mocks never see options, so a stack
transformation registered before the program runs records them as each resource is built.

The mocks answer like the real provider would for what the program reads back: a RemoteImage's
`imageId` is its `name` (so a container's `image` is the plain image reference), a built
Image's `imageName` is its input, a network's `name` is its input.

Only the SDK's public testing API is used: `set_mocks` (with a recording `MockMonitor`, the
parameter it offers for that), `runtime.test`, `register_stack_transformation` and
`get_root_resource`.
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

from lab import certificates
from lab.support import REPO_ROOT
from stack import settings
from stack.configs import elasticsearch_tls

PROGRAM = REPO_ROOT / "stack" / "__main__.py"
TEST_GRAFANA_PASSWORD = "mock-grafana-password"  # only ever used under mocks
# lab:allowOpenPorts for a test that publishes what answers without a login to the network
# (stack/exposure.py): on a reachable bind address, and on Swarm (the GELF input is excepted).
OPEN_BY_DEFAULT = ["prometheus", "gelf", "alertmanager"]
OPEN_ON_SWARM = ["prometheus", "alertmanager"]
SECRET_KEYS = tuple(f"lab:{key}" for key in settings.SECRET_KEYS)
# How a secret value travels to the engine: {SIGNATURE_KEY: SECRET_SIGNATURE, "value": ...}
# (Pulumi's wire format, sdk/go/common/resource/sig/sig.go: Key and Secret).
SIGNATURE_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270"
# Every password the program requires, as a made-up value (only ever used under mocks).
MOCK_SECRETS = {key: f"mock-{key[len('lab:') :]}-pw" for key in SECRET_KEYS} | {
    "lab:grafanaAdminPassword": TEST_GRAFANA_PASSWORD,
    # Logstash checks its API password: an upper case, a lower case and a digit (logstash_api).
    "lab:logstashApiPassword": "mock-LogstashApi-pw1",
}
# The Swarm TLS secrets (stack/configs/elasticsearch_tls.py), real PEMs as make up makes them.
TLS_SECRET_KEYS = tuple(f"lab:{key}" for key in settings.tables.TLS_SECRET_KEYS)
MOCK_TLS = {
    f"lab:{key}": text
    for key, text in certificates.ensure(
        {},
        elasticsearch_tls.server_names("10.0.0.5"),
        kibana_names=elasticsearch_tls.kibana_names("10.0.0.5"),
    ).items()
}


class ProgramFailed(RuntimeError):
    """The program raised under mocks; `resources` is what it had registered by then."""

    def __init__(self, error: str, resources: list[dict]) -> None:
        super().__init__(f"the program failed under mocks:\n{error}")
        self.error = error
        self.resources = resources


def _config_string(value: Any) -> str:
    """Pulumi hands config to programs as strings; objects and booleans as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def stack_config(overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Mock passwords, then the overrides: every other key keeps its default."""
    config: dict[str, Any] = {**MOCK_SECRETS, **MOCK_TLS}
    config.update(overrides or {})
    # None removes a key, to see how the program fares without it.
    return {key: _config_string(value) for key, value in config.items() if value is not None}


def capture(
    overrides: Mapping[str, Any] | None = None,
    *,
    project: str = "lab",
    stack: str = "dev",
    timeout: float = 120,
    root: Path = REPO_ROOT,
) -> dict:
    """`{"resources": [...], "outputs": {...}}` for the program under this config; raises
    ProgramFailed when the program raises. `root` is the source tree whose program runs (a
    test's edited copy, or this checkout)."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.capture", "--project", project, "--stack", stack],
        input=json.dumps(stack_config(overrides)),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the capture itself failed:\n{result.stderr[-4000:]}")
    captured = json.loads(result.stdout)
    if captured.get("error"):
        raise ProgramFailed(captured["error"], captured["resources"])
    return captured


def _is_secret(value: dict) -> bool:
    return value.get(SIGNATURE_KEY) == SECRET_SIGNATURE


def _plain(value: Any) -> Any:
    """Mock inputs as JSON: secrets unwrapped (tests must see them), unknowns as None."""
    if isinstance(value, dict):
        if _is_secret(value):
            return _plain(value.get("value"))
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def _secret_paths(value: Any, path: str = "") -> list[str]:
    """The paths of the values that reached the engine as Pulumi secrets."""
    if isinstance(value, dict):
        if _is_secret(value):
            return [path]
        return [p for k, v in value.items() for p in _secret_paths(v, f"{path}.{k}".lstrip("."))]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _secret_paths(v, f"{path}[{i}]")]
    return []


class OptionRecorder:
    """A stack transformation that notes each resource's options as the program wrote them.

    Resources are keyed by (type, name); `parent` and `depends_on` name other resources, which
    the transformation has already seen (a resource exists before anything can refer to it).
    """

    def __init__(self) -> None:
        self.options: dict[tuple[str, str], dict] = {}
        self._keys: dict[int, tuple[str, str]] = {}
        self._seen: list[object] = []  # keeps ids unique while the program runs

    def _key_of(self, resource: object) -> list[str] | None:
        key = self._keys.get(id(resource))
        return list(key) if key else None

    def __call__(self, args):
        key = (args.type_, args.name)
        if key in self.options:
            raise ValueError(f"two resources of type {key[0]} are named {key[1]}")
        self._keys[id(args.resource)] = key
        self._seen.append(args.resource)
        opts = args.opts
        depends_on = opts.depends_on or []
        if not isinstance(depends_on, list | tuple):
            depends_on = [depends_on]
        self.options[key] = {
            "parent": self._key_of(opts.parent) if opts.parent is not None else None,
            "depends_on": [self._key_of(resource) for resource in depends_on],
            "replace_on_changes": list(opts.replace_on_changes or []),
            "delete_before_replace": bool(opts.delete_before_replace),
            "protect": bool(opts.protect),
            "retain_on_delete": bool(opts.retain_on_delete),
            "ignore_changes": list(opts.ignore_changes or []),
        }
        return None  # record only: the program's resources stay as written


def _with_urns(options: dict, urns: Mapping[tuple[str, str], str]) -> dict:
    def urn(key: list[str] | None) -> str | None:
        return urns.get(tuple(key)) if key else None

    return {
        **options,
        "parent": urn(options["parent"]),
        "depends_on": [urn(key) for key in options["depends_on"]],
    }


def _run_in_this_process(project: str, stack: str, config: dict[str, str]) -> dict:
    import runpy

    import pulumi
    from pulumi.runtime import mocks

    records: list[dict] = []

    class RecordingMonitor(mocks.MockMonitor):
        def RegisterResource(self, request):
            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                registration = self.resources[response.urn]
                records.append(
                    {
                        "urn": response.urn,
                        "id": response.id,  # the mock's id, which other inputs refer to
                        "type": request.type,
                        "name": request.name,
                        "custom": bool(request.custom),
                        "parent": request.parent,
                        "dependencies": sorted(set(request.dependencies)),
                        "inputs": _plain(registration.state.get("__inputs", {})),
                        # Where the program marked an input secret, e.g. `uploads[3].content`.
                        "secret_inputs": _secret_paths(registration.state.get("__inputs", {})),
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

    pulumi.runtime.set_all_config(config, [*SECRET_KEYS, *TLS_SECRET_KEYS])
    pulumi.runtime.set_mocks(
        LabMocks(),
        project=project,
        stack=stack,
        preview=False,
        monitor=RecordingMonitor(LabMocks()),
    )
    recorder = OptionRecorder()
    outputs: dict = {}

    @pulumi.runtime.test
    def program():
        pulumi.runtime.register_stack_transformation(recorder)
        runpy.run_path(str(PROGRAM), run_name="__main__")
        stack_resource = pulumi.runtime.get_root_resource()
        return pulumi.Output.from_input(dict(stack_resource.outputs)).apply(outputs.update)

    error = None
    try:
        program()
    except Exception as exc:  # the program's own failure is a result, not a crash
        error = f"{type(exc).__name__}: {exc}"
    urns = {(record["type"], record["name"]): record["urn"] for record in records}
    for record in records:
        record["state"].pop("__inputs", None)
        record["options"] = _with_urns(recorder.options[record["type"], record["name"]], urns)
    return {"resources": records, "outputs": _plain(outputs), "error": error}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="lab")
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--config", help="JSON overrides (default: read the config from stdin)")
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
