"""The import rules and the size limit of docs/architecture.md, read from the source with `ast`.

Each rule is a function of a tree's root that lists its violations, so it runs on the
repository and, in the `*_can_fail` tests, on a small tree built to break it.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.support import REPO_ROOT

PRODUCT = ("app", "stack", "dashboards", "lab")
CHECKED = (*PRODUCT, "tests", "scripts")
MAX_LINES = 350
# What lab/ may take from stack/: the settings object and the pure renderers, never a component.
# Pure modules of stack/ (no Pulumi import): the settings, renderers and log driver options.
LAB_MAY_IMPORT_FROM_STACK = (
    "stack.settings",
    "stack.settings_grammar",
    "stack.configs",
    "stack.log_shipping",
)


def modules(root: Path, folder: str) -> Iterator[tuple[str, Path]]:
    """(dotted module name, path) of every Python file under a top-level folder."""
    for path in sorted((root / folder).rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def imports(module: str, path: Path) -> set[str]:
    """Every module a file imports, absolute, wherever the import statement sits."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            found.add(prefix)
            # `from stack import settings` imports the module stack.settings.
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def lab_modules(root: Path) -> set[str]:
    """Names that would be the lab's own code: its top-level folders and their modules."""
    return {name for folder in CHECKED for name, _ in modules(root, folder)} | set(CHECKED)


def pinned_imports(root: Path) -> set[str]:
    """Import names of app/requirements.txt's pins (`ecs-logging==2.3.0` -> `ecs_logging`)."""
    names = set()
    for line in (root / "app" / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(re.split(r"[=<>!~\[; ]", line)[0].lower().replace("-", "_"))
    return names


def imports_where(root: Path, folders: tuple[str, ...], forbidden) -> list[str]:
    """`<module> imports <name>` for each import of these folders' modules that breaks a rule."""
    return [
        f"{module} imports {name}"
        for folder in folders
        for module, path in modules(root, folder)
        for name in sorted(imports(module, path))
        if forbidden(name)
    ]


def app_violations(root: Path) -> list[str]:
    """app/ ships alone in its image: the standard library, its pins and app/ itself."""
    allowed = pinned_imports(root) | set(sys.stdlib_module_names) | {"app"}
    return imports_where(root, ("app",), lambda name: name.split(".")[0] not in allowed)


def own_imports_where(root: Path, folder: str, forbidden) -> list[str]:
    """As imports_where, for one folder's imports of the lab's own modules only."""
    own = lab_modules(root)
    return imports_where(root, (folder,), lambda name: name in own and forbidden(name))


def dashboards_violations(root: Path) -> list[str]:
    """dashboards/ takes only app.contract from the rest of the lab (never stack/)."""
    return own_imports_where(
        root,
        "dashboards",
        lambda name: not _within(name, ("dashboards", "app.contract")) and name != "app",
    )


def product_imports_tests(root: Path) -> list[str]:
    return imports_where(root, PRODUCT, lambda name: _within(name, ("tests",)))


def lab_imports_components(root: Path) -> list[str]:
    """lab/ reads settings and renders configs; components are for the Pulumi program only."""
    return own_imports_where(
        root,
        "lab",
        lambda name: (
            _within(name, ("stack",))
            and name != "stack"
            and not _within(name, LAB_MAY_IMPORT_FROM_STACK)
        ),
    )


def oversized_modules(root: Path) -> list[str]:
    return [
        f"{path.relative_to(root)}: {count} lines"
        for folder in CHECKED
        for _, path in modules(root, folder)
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    ]


RULES = {
    "app imports nothing of the lab": app_violations,
    "dashboards does not import stack": dashboards_violations,
    "no product module imports tests": product_imports_tests,
    "lab imports no component": lab_imports_components,
    f"no module over {MAX_LINES} lines": oversized_modules,
}


@pytest.mark.parametrize("rule", RULES, ids=list(RULES))
def test_the_repository_keeps_the_rule(rule):
    violations = RULES[rule](REPO_ROOT)
    assert not violations, f"{rule}:\n" + "\n".join(violations)


def write(root: Path, relative: str, text: str = "") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def tree(tmp_path) -> Path:
    """A small lab that keeps every rule."""
    write(tmp_path, "app/requirements.txt", "tornado==6.6.1\necs-logging==2.3.0\n")
    write(tmp_path, "app/__init__.py")
    write(tmp_path, "app/contract.py", "import json\nFUNCTIONS = ()\n")
    write(
        tmp_path,
        "app/server.py",
        "import tornado.web\nimport ecs_logging\nfrom . import contract\n",
    )
    write(tmp_path, "stack/__init__.py")
    write(tmp_path, "stack/settings.py", "from app.contract import FUNCTIONS\n")
    write(tmp_path, "stack/configs/__init__.py")
    write(tmp_path, "stack/configs/traefik_yaml.py", "import yaml\n")
    write(tmp_path, "stack/traefik.py", "import pulumi\nfrom stack.configs import traefik_yaml\n")
    write(tmp_path, "dashboards/__init__.py")
    write(tmp_path, "dashboards/promql.py", "from app.contract import FUNCTIONS\n")
    write(tmp_path, "lab/__init__.py")
    write(tmp_path, "lab/deploy.py", "from stack import settings\nfrom stack.configs import *\n")
    write(tmp_path, "tests/__init__.py")
    write(tmp_path, "tests/test_x.py", "from stack import traefik\nfrom tests import helpers\n")
    return tmp_path


def test_a_tree_that_keeps_every_rule_passes(tree):
    assert {rule: check(tree) for rule, check in RULES.items()} == {rule: [] for rule in RULES}


BREAKS = {
    "app imports nothing of the lab": ("app/handlers.py", "from stack import settings\n"),
    "dashboards does not import stack": (
        "dashboards/grafana_overview.py",
        "def build():\n    from stack.settings import PORTS\n",
    ),
    "no product module imports tests": ("stack/capture.py", "from tests.support import capture\n"),
    "lab imports no component": ("lab/status.py", "from ..stack import traefik\n"),
    f"no module over {MAX_LINES} lines": ("lab/big.py", "x = 1\n" * (MAX_LINES + 1)),
}


@pytest.mark.parametrize("rule", BREAKS, ids=list(BREAKS))
def test_each_rule_can_fail(tree, rule):
    relative, text = BREAKS[rule]
    write(tree, relative, text)
    assert RULES[rule](tree), f"{rule} did not notice {relative}"


def test_a_third_party_import_in_app_fails_unless_pinned(tree):
    write(tree, "app/handlers.py", "import requests\n")
    assert app_violations(tree) == ["app.handlers imports requests"]
    pins = (tree / "app" / "requirements.txt").read_text()
    write(tree, "app/requirements.txt", pins + "requests==2.32.0\n")
    assert app_violations(tree) == []
