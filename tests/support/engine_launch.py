"""The Pulumi engine's part in starting a Python dynamic provider, modelled from pulumi/pulumi
(mirror commit 1b5949891b3c, the 3.27x line the lab pins; the snapshot carries no v3.272 tag),
so a test can start the lab's dynamic providers as `pulumi up` does and drive them over gRPC.

- sdk/go/common/resource/plugin/provider_plugin.go NewProvider: each Pulumi.yaml runtime option
  becomes `PULUMI_RUNTIME_` + upper-cased key = fmt "%v" of the value, with `PULUMI_PROJECT`;
  they are joined over the CLI's own environment (envutil.JoinStore(optionsStore, baseStore):
  the options win) and the plugin starts through newPlugin(ctx, ctx.Pwd, path, ...,
  args=[host.ServerAddr()]).
- sdk/go/common/resource/plugin/plugin.go: cmd.Dir = pwd, the program directory (`main: stack/`,
  pkg/engine/project.go getPwdMain); the first line the plugin writes to stdout is its port;
  the engine then dials 127.0.0.1:<port> and sends Handshake, where Unimplemented means "an
  older provider, go on".
- sdk/python/dist/pulumi-resource-pulumi-python, the launcher the engine runs for the
  `pulumi-python` package (rules re-stated in `launcher_python`, not copied).
- sdk/python/toolchain/pip.go resolveVirtualEnvironmentPath: the language host's rule for the
  same option (relative to the project root).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Mapping
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from pulumi.runtime.proto import engine_pb2_grpc

RUNTIME_PREFIX = "PULUMI_RUNTIME_"
PORT_TIMEOUT_SECONDS = 60


class LaunchRefused(RuntimeError):
    """The launcher exits 1 with this message instead of starting the provider."""


def language_host_virtualenv(root: Path, option: str) -> Path:
    """pip.go resolveVirtualEnvironmentPath: a relative `virtualenv` joins the project root."""
    path = Path(option)
    return path if path.is_absolute() else root / path


def runtime_options_env(project: Mapping[str, Any]) -> dict[str, str]:
    """provider_plugin.go: `PULUMI_RUNTIME_<KEY>` per runtime option, and PULUMI_PROJECT."""
    options = (project.get("runtime") or {}).get("options") or {}
    env = {RUNTIME_PREFIX + key.upper(): _go_format(value) for key, value in options.items()}
    env["PULUMI_PROJECT"] = str(project["name"])
    return env


def _go_format(value: Any) -> str:
    """Go's fmt "%v" for the YAML scalars an option can hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def launcher_python(env: Mapping[str, str], pwd: Path) -> Path:
    """The interpreter pulumi-resource-pulumi-python runs `-m pulumi.dynamic` with.

    Its rules: with no PULUMI_RUNTIME_VIRTUALENV, toolchain `uv` means `.venv` (poetry asks
    poetry, which the lab does not use); one trailing `/` is removed; a relative path is joined
    to $PWD (the directory the engine started it in); `$VENV/bin/python` must be a file (`-f`,
    symlinks followed), else exit 1 with "doesn't exist" or "doesn't appear to be a virtual
    environment"; with no virtualenv at all, ${PULUMI_PYTHON_CMD:-python3} from PATH.
    """
    venv = env.get(RUNTIME_PREFIX + "VIRTUALENV", "")
    if not venv and env.get(RUNTIME_PREFIX + "TOOLCHAIN") == "uv":
        venv = ".venv"
    if not venv:
        return Path(env.get("PULUMI_PYTHON_CMD") or "python3")
    venv = venv.removesuffix("/")
    path = Path(venv) if venv.startswith("/") else Path(f"{pwd}/{venv}")
    if (path / "bin" / "python").is_file():
        return path / "bin" / "python"
    problem = "doesn't appear to be a virtual environment" if path.is_dir() else "doesn't exist"
    raise LaunchRefused(
        f'The \'virtualenv\' option in Pulumi.yaml is set to "{path}", but "{path}" {problem}.'
    )


def launcher_env(env: Mapping[str, str], python: Path) -> dict[str, str]:
    """The launcher puts the virtualenv's bin/ first on PATH and unsets PYTHONHOME."""
    out = dict(env)
    if python.is_absolute():
        out["PATH"] = f"{python.parent}:{env.get('PATH', '')}"
        out.pop("PYTHONHOME", None)
    return out


def provider_env(
    cli_env: Mapping[str, str], project: Mapping[str, Any], pwd: Path
) -> dict[str, str]:
    """What the engine hands the plugin: the options over the CLI's environment. $PWD is the
    working directory (a POSIX shell resets an inherited PWD that names another directory)."""
    return {**cli_env, **runtime_options_env(project), "PWD": str(pwd)}


class FakeEngine(engine_pb2_grpc.EngineServicer):
    """The engine's gRPC service (Log, status) at the address the plugin gets as its argument;
    every method is the generated Unimplemented, and each call is counted."""

    def __init__(self) -> None:
        self.calls = 0
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        engine_pb2_grpc.add_EngineServicer_to_server(self, self.server)
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"

    def Log(self, request, context):
        self.calls += 1
        return super().Log(request, context)

    def __enter__(self) -> FakeEngine:
        self.server.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.stop(0)


class LaunchedProvider:
    """A plugin process started as newPlugin starts it; `port` is the first stdout line."""

    def __init__(self, argv: list[str], env: Mapping[str, str], pwd: Path) -> None:
        # A file, so a chatty plugin never blocks on a full pipe; stop() closes it.
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            argv,
            cwd=pwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        line = self._first_line()
        if not line.strip().isdigit():
            problem = f"could not read plugin {argv}: stdout {line!r}, stderr {self.errors()}"
            self.stop()
            raise RuntimeError(problem)
        self.port = int(line)

    def _first_line(self) -> str:
        """Byte by byte until the newline, as plugin.go reads it; bounded by a timer."""
        timer = futures.ThreadPoolExecutor(max_workers=1)
        try:
            return (
                timer.submit(self.process.stdout.readline)
                .result(timeout=PORT_TIMEOUT_SECONDS)
                .decode(errors="replace")
            )
        finally:
            timer.shutdown(wait=False)

    def errors(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.process.stdout.close()
        self.stderr.close()


def launch(project: Mapping[str, Any], cli_env: Mapping[str, str], pwd: Path, engine: str):
    """Start the `pulumi-python` dynamic provider as the engine and its launcher do."""
    env = provider_env(cli_env, project, pwd)
    python = launcher_python(env, pwd)
    argv = [str(python), "-u", "-m", "pulumi.dynamic", engine]
    return LaunchedProvider(argv, launcher_env(env, python), pwd)


def working_directory(root: Path, main: str) -> Path:
    """pkg/engine/project.go getPwdMain: a directory `main` is the program's pwd."""
    path = root / main
    return path if path.is_dir() else path.parent
