"""`make logs`: real containers followed by label, Ctrl-C exits cleanly, no Docker says so."""

import io
import signal
import subprocess
import sys
import uuid

import pytest

from lab import logs
from lab.support import REPO_ROOT, wait_until
from tests.conftest import missing

STANDIN_IMAGE = "lab-standin/debian:bookworm"  # built by scripts/build_images.sh


def test_logs_without_docker_say_so():
    def no_daemon():
        raise ConnectionError("connection refused")

    out = io.StringIO()
    assert logs.print_logs(out, client_factory=no_daemon) == 1
    assert "cannot reach Docker" in out.getvalue()


@pytest.fixture
def labelled_containers(docker_client):
    try:
        docker_client.images.get(STANDIN_IMAGE)
    except Exception:
        missing(f"{STANDIN_IMAGE} is not built (bash scripts/build_images.sh)")
    project = f"frontdoor-{uuid.uuid4().hex[:8]}"
    labels = {"lab.project": project, "lab.stack": "test"}
    containers = [
        docker_client.containers.run(
            STANDIN_IMAGE,
            ["sh", "-c", f"echo first-{n}; sleep 1; echo second-{n}; sleep {wait}"],
            name=f"{project}-part-{n}",
            labels=labels,
            detach=True,
        )
        for n, wait in ((1, 5), (2, 60))  # one ends while followed, one outlives the test
    ]
    try:
        yield project
    finally:
        for container in containers:
            container.remove(force=True)


@pytest.mark.live
def test_logs_follow_labelled_containers_and_ctrl_c_exits_cleanly(labelled_containers):
    project = labelled_containers
    process = subprocess.Popen(
        [sys.executable, "-m", "lab.logs", "--project", project, "--stack", "test"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = []

        def followed_to_second_2() -> bool:
            # A closed stdout (it exited) ends the wait too: the assertions below say what
            # it printed and what it missed.
            line = process.stdout.readline()
            if line:
                seen.append(line.rstrip("\n"))
            return not line or "second-2" in line

        wait_until(followed_to_second_2, timeout=30, interval=0, what="make logs following part-2")
        assert f"{project}-part-1 | first-1" in seen
        assert f"{project}-part-1 | second-1" in seen
        assert f"{project}-part-2 | second-2" in seen
        assert seen[0].startswith("following ")
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.live
def test_logs_with_no_lab_containers_fail_clearly(docker_client):
    out = io.StringIO()
    code = logs.print_logs(out, project=f"absent-{uuid.uuid4().hex[:8]}", stack="test")
    assert code == 1
    assert "is the lab up" in out.getvalue()
