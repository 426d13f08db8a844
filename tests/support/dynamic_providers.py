"""What the tests of the lab's two dynamic providers (stack/kibana_import.py,
stack/elasticsearch_setup.py) share: the provider host runs the pickled provider in a process
that cannot import stack/ (pulumi/dynamic/dynamic.py serialize_provider,
sdk/python/dist/pulumi-resource-pulumi-python)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

LAB_PACKAGES = {"app", "stack", "dashboards", "lab"}


def foreign_imports(module_file: str) -> set[str]:
    """The top-level packages a module imports that are neither the standard library nor
    pulumi: what the provider host may lack. A lab module it imports counts as the host's when
    every function and class that module defines is marked to be pickled by value (dill then
    carries them); that module's own imports are checked the same way."""
    tree = ast.parse(Path(module_file).read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    foreign = set()
    for name in imported:
        package = name.split(".")[0]
        if package in sys.stdlib_module_names or package == "pulumi":
            continue
        carried = package in LAB_PACKAGES and _pickled_by_value(importlib.import_module(name))
        foreign |= foreign_imports(importlib.import_module(name).__file__) if carried else {package}
    return foreign


def _pickled_by_value(module: ModuleType) -> bool:
    tree = ast.parse(Path(module.__file__).read_text())
    defined = [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    return all(getattr(module, name).__module__ == "__main__" for name in defined)


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
