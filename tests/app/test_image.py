"""The app image's build context: its tag follows what Docker really sends (stack/app_image.py
reads app/.dockerignore as Docker does), and app/Dockerfile ships the whole package."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from stack.app_image import APP_DIR, context_files, source_hash
from tests.conftest import missing, require_binary

# Inputs of the venv step only: in the context, never in /srv/app.
DEPENDENCY_INPUTS = ("requirements.txt", "wheelhouse/")


@pytest.fixture
def context(tmp_path: Path) -> Path:
    """A small build context with the app's own Dockerfile and .dockerignore."""
    for name in ("Dockerfile", ".dockerignore", "__init__.py", "requirements.txt"):
        shutil.copy(APP_DIR / name, tmp_path / name)
    (tmp_path / "handlers.py").write_text("ROUTES = []\n")
    (tmp_path / "wheelhouse").mkdir()
    (tmp_path / "wheelhouse" / "tornado.whl").write_bytes(b"wheel")
    return tmp_path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# What app/.dockerignore drops: docs, bytecode, tool caches, the wheelhouse's stamp.
EXCLUDED = (
    "CONTRACT.md",
    "__pycache__/handlers.cpython-311.pyc",
    "sub/__pycache__/x.pyc",
    "stray.pyc",
    ".pytest_cache/v/cache/nodeids",
    "sub/.ruff_cache/x",
    "wheelhouse/.requirements.sha256",
)
INCLUDED = ("new_module.py", "sub/__init__.py", "wheelhouse/uvloop.whl", "py.typed")


@pytest.mark.parametrize("relative", EXCLUDED)
def test_a_file_docker_ignores_does_not_change_the_tag(context, relative):
    before = source_hash(context)
    write(context / relative, "anything")
    assert relative not in set(context_files(context))
    assert source_hash(context) == before, relative


@pytest.mark.parametrize("relative", INCLUDED)
def test_a_file_docker_sends_changes_the_tag(context, relative):
    before = source_hash(context)
    write(context / relative, "anything")
    assert relative in set(context_files(context))
    assert source_hash(context) != before, relative


def test_an_edit_to_a_module_or_the_dockerfile_changes_the_tag(context):
    before = source_hash(context)
    write(context / "handlers.py", "ROUTES = [1]\n")
    edited_module = source_hash(context)
    assert edited_module != before
    (context / "Dockerfile").write_text((context / "Dockerfile").read_text() + "\n# edit\n")
    assert source_hash(context) != edited_module


def test_the_app_context_holds_every_module_and_no_docs():
    files = set(context_files())
    modules = {path.name for path in APP_DIR.glob("*.py")}
    assert modules <= files
    assert {"compute.py", "handlers.py", "server.py", "__main__.py"} <= files
    assert not [name for name in files if name.endswith((".md", ".pyc"))]
    assert "Dockerfile" not in files


def docker_build(context: Path, *args: str) -> str:
    """`docker build` through the CLI (what scripts/build_images.sh runs); the image id."""
    docker = require_binary("docker")
    tag = f"lab-test/context:{uuid.uuid4().hex[:12]}"
    subprocess.run(
        [docker, "build", "-q", "-t", tag, *args, str(context)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return tag


def files_in_image(client, tag: str, path: str) -> set[str]:
    """The files under `path` in image `tag`, relative to it."""
    container = client.containers.create(tag, command=["/nonexistent"])
    try:
        stream, _ = container.get_archive(path)
        root = Path(path).name
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            return {
                member.name.removeprefix(root + "/")
                for member in archive.getmembers()
                if member.isfile()
            }
    finally:
        container.remove(force=True)
        client.images.remove(tag, force=True)


@pytest.mark.live
def test_docker_sends_exactly_the_files_the_hash_reads(docker_client, context):
    for relative in (*EXCLUDED, *INCLUDED):
        write(context / relative, "x")
    # A probe Dockerfile: the image is the context, as the daemon received it.
    (context / "Dockerfile").write_text("FROM scratch\nCOPY . /context/\n")
    tag = docker_build(context)
    sent = files_in_image(docker_client, tag, "/context")
    print(f"context: {len(sent)} files sent, {len(EXCLUDED)} ignored")
    assert sent == set(context_files(context))


@pytest.mark.live
def test_the_image_ships_every_module_of_the_context(docker_client):
    # The `package` stage is what the final image copies to /srv/app; building only it
    # needs no pip install, just a base image with a shell.
    base = "lab-standin/python:3.11"
    try:
        docker_client.images.get(base)
    except Exception:
        missing(f"{base} is not built (bash scripts/build_images.sh)")
    tag = docker_build(APP_DIR, "--target", "package", "--build-arg", f"BASE_IMAGE={base}")
    shipped = files_in_image(docker_client, tag, "/srv/app")
    expected = {name for name in context_files() if not name.startswith(DEPENDENCY_INPUTS)}
    print(f"/srv/app: {sorted(shipped)}")
    assert shipped == expected
