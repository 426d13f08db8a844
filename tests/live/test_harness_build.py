"""tests/support/harness.py, issue 14: a failed image build leaves no container behind (the
intermediate container of the failed step carries no lab label, so no teardown check sees it)."""

from __future__ import annotations

import os

import pytest

from tests.support.declared import Declared
from tests.support.harness import Harness
from tests.support.harness_inputs import IMAGE, UnsupportedDeclaration

pytestmark = [pytest.mark.live]
BASE = "lab-standin/debian:bookworm"


def test_a_failed_build_leaves_no_container(tmp_path, docker_client, standin_image):
    client = docker_client
    standin_image(BASE)
    (tmp_path / "Dockerfile").write_text(f"FROM {BASE}\nRUN echo failing step && false\n")
    tag = f"lab-harness-failed-build:{os.getpid()}"
    resource = Declared.alone(
        IMAGE, {"imageName": tag, "build": {"context": str(tmp_path)}}, name="failed-build"
    )
    before = {c.id for c in client.containers.list(all=True)}
    with pytest.raises(UnsupportedDeclaration, match="build failed"):
        Harness(client, tmp_path, run_id="failed-build")._ensure_image(resource)
    # Only this build's step: other sessions may start containers on the same daemon meanwhile.
    left = {
        c.id
        for c in client.containers.list(all=True)
        if c.id not in before and "failing step" in " ".join(c.attrs["Config"]["Cmd"] or ())
    }
    assert not left, f"a failed build left containers {left}"
