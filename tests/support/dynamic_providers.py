"""What the tests of the lab's two dynamic providers (stack/kibana_import.py,
stack/elasticsearch_setup.py) share: the provider host runs the pickled provider in a process
that cannot import stack/ (pulumi/dynamic/dynamic.py serialize_provider,
sdk/python/dist/pulumi-resource-pulumi-python)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path


def foreign_imports(module_file: str) -> set[str]:
    """The top-level packages a module imports that are neither the standard library nor
    pulumi: what the provider host may lack."""
    tree = ast.parse(Path(module_file).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    return {name for name in imported if name not in sys.stdlib_module_names} - {"pulumi"}


def run_pickled(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python -c script args...` in `cwd`, with no PYTHONPATH: stack/ is not importable."""
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
