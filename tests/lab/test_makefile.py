"""The Makefile, the front door's other half: every target that runs Python creates the venv
first and runs a lab module that exists."""

import importlib.util
import re
import subprocess

from lab.support import REPO_ROOT

MAKEFILE = (REPO_ROOT / "Makefile").read_text()
# target -> (prerequisites, first recipe line)
RULES = {
    target: (prerequisites, recipe)
    for target, prerequisites, recipe in re.findall(
        r"^([a-z-]+):([^\n]*)\n\t([^\n]*)", MAKEFILE, re.MULTILINE
    )
}


def test_every_python_target_creates_the_venv_first():
    for target, (prerequisites, recipe) in RULES.items():
        if "$(PY)" in recipe or "build_images.sh" in recipe:
            assert "$(VENV)" in prerequisites or "lint" in prerequisites, target


def test_every_module_a_target_runs_exists():
    modules = {
        target: module
        for target, (_prerequisites, recipe) in RULES.items()
        for module in re.findall(r"-m (lab\.\w+)", recipe)
    }
    assert set(modules) >= {"up", "down", "preview", "status", "logs", "credentials", "traffic"}
    for target, module in modules.items():
        assert importlib.util.find_spec(module) is not None, (target, module)


def dry_run(*args: str) -> str:
    """The recipe line `make -n` would run (the venv is up to date in a test run)."""
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return [line for line in result.stdout.splitlines() if "-m lab." in line][-1]


def test_credentials_print_passwords_only_when_asked():
    assert dry_run("credentials").split() == [".venv/bin/python", "-m", "lab.credentials"]
    assert dry_run("credentials", "SHOW=1").endswith("-m lab.credentials --show")


def test_down_keeps_the_data_only_when_asked():
    assert dry_run("down").split()[-1] == "down"
    assert dry_run("down", "KEEP_DATA=0").split()[-1] == "down"
    assert dry_run("down", "KEEP_DATA=1").endswith("-m lab.deploy down --keep-data")


def test_help_lists_every_target_once_in_groups_user_targets_first():
    """Issue 20: `make help` in groups (Start, Explore, Practise, Develop), a blank line between
    groups, the targets a user runs before the developer's."""
    result = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    blocks = result.stdout.rstrip("\n").split("\n\n")
    listed: dict[str, list[str]] = {}
    for block in blocks:
        title, *lines = block.splitlines()
        assert title.endswith(":"), block
        assert lines, block
        listed[title.removesuffix(":")] = [line.split()[1] for line in lines]
        assert all(line.startswith("  make ") for line in lines), block
    assert list(listed) == ["Start", "Explore", "Practise", "Develop"]
    targets = [target for group in listed.values() for target in group]
    described = re.findall(r"^([a-z-]+):[^\n]*## ", MAKEFILE, re.MULTILINE)
    assert sorted(targets) == sorted(described)
    assert {"up", "status", "down"} <= set(listed["Start"])
    assert {"test", "lint", "install"} <= set(listed["Develop"])
    # The description is printed without its group tag.
    assert "[" not in result.stdout.split("make up", 1)[1].splitlines()[0]
