"""The engine rule behind stack/hardening.py's read-only decisions: Docker refuses to copy a
file into a container whose root file system is read-only, even before it starts, which is
what the provider's `uploads` do (docs/product-rules.md D1). So a part configured by uploads
keeps a writable root, and the parts without uploads get a read-only one."""

from __future__ import annotations

import io
import tarfile

import docker.errors
import pytest

from tests.support.live_lab import STANDIN_IMAGES

pytestmark = pytest.mark.live


def _archive(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.mark.parametrize("read_only", [True, False])
def test_an_upload_into_a_created_container_needs_a_writable_root(docker_client, read_only):
    container = docker_client.containers.create(
        STANDIN_IMAGES["python"],
        ["true"],
        read_only=read_only,
        labels={"lab.stack": "read-only-root-test"},
    )
    try:
        upload = _archive("etc/lab-upload.txt", b"config\n")
        if read_only:
            with pytest.raises(docker.errors.APIError, match="read-only"):
                container.put_archive("/", upload)
        else:
            assert container.put_archive("/", upload)
    finally:
        container.remove(force=True)
