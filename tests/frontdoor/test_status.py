"""`make status`, `make logs`, `make credentials`: real probes, real containers, no tracebacks."""

import io
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from scripts import status
from tests.conftest import missing
from tests.frontdoor.conftest import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDIN_IMAGE = "lab-standin/debian:bookworm"  # built by scripts/build_images.sh


def test_configured_urls_follow_the_stack_config():
    urls = status.configured_urls(
        {"lab:ports": {"api": 18000, "prometheus": 19090}, "lab:bindAddress": "0.0.0.0"}
    )
    assert urls == {
        "api": "http://127.0.0.1:18000",
        "traefik": "http://127.0.0.1:8080/dashboard/",
        "prometheus": "http://127.0.0.1:19090",
        "grafana": "http://127.0.0.1:18000/grafana/",
        "elasticsearch": "http://127.0.0.1:9200",
        "kibana": "http://127.0.0.1:18000/kibana",
    }
    assert set(status.configured_urls({"lab:logs": False})) == {
        "api",
        "traefik",
        "prometheus",
        "grafana",
    }
    assert set(status.configured_urls({"lab:metrics": False})) == {
        "api",
        "traefik",
        "elasticsearch",
        "kibana",
    }


def test_configured_urls_match_the_checked_in_dev_stack():
    assert status.configured_urls()["api"] == "http://127.0.0.1:8000"


def test_stack_outputs_map_to_parts_and_keep_elasticsearch_from_config(monkeypatch, tmp_path):
    from scripts import lab

    monkeypatch.setattr(status, "pulumi_cli_present", lambda: True)
    monkeypatch.setattr(status, "STATE_DIR", tmp_path)
    exported = {
        "api_url": "http://10.0.0.5:8000",
        "traefik_url": "http://10.0.0.5:8080/dashboard/",
        "prometheus_url": None,
        "grafana_url": None,
        "kibana_url": "http://10.0.0.5:8000/kibana",
    }
    monkeypatch.setattr(lab, "outputs", lambda: exported)
    urls, note = status.stack_outputs()
    assert note is None
    assert urls == {
        "api": "http://10.0.0.5:8000",
        "traefik": "http://10.0.0.5:8080/dashboard/",
        "elasticsearch": "http://127.0.0.1:9200",
        "kibana": "http://10.0.0.5:8000/kibana",
    }
    monkeypatch.setattr(lab, "outputs", dict)  # what lab.outputs() says when nothing is up
    urls, note = status.stack_outputs()
    assert "not up" in note
    assert urls == status.configured_urls()


def test_status_of_a_running_local_lab(local_lab, monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    outputs = {
        "api": local_lab.api_url,
        "traefik": local_lab.traefik_url + "/dashboard/",
        "grafana": dead + "/grafana/",
    }
    monkeypatch.setattr(status, "stack_outputs", lambda: (outputs, "from a test"))
    out = io.StringIO()
    assert status.print_status(out) == 1
    lines = {line.split()[0]: line for line in out.getvalue().splitlines()}
    assert lines["note:"].endswith("from a test")
    assert lines["api"].split()[1] == "up"
    assert lines["traefik"].split()[1] == "up"
    assert lines["grafana"].split()[1] == "down"
    assert "Connection refused" in lines["grafana"]
    assert "not healthy" in out.getvalue()

    del outputs["grafana"]
    assert status.print_status(io.StringIO()) == 0


def test_status_when_nothing_runs_is_clear_and_fails(monkeypatch):
    urls = {"api": f"http://127.0.0.1:{free_port()}", "kibana": f"http://127.0.0.1:{free_port()}"}
    monkeypatch.setattr(status, "stack_outputs", lambda: (urls, None))
    out = io.StringIO()
    assert status.print_status(out) == 1
    assert "nothing answers" in out.getvalue()


def test_starting_and_secured_parts_are_told_apart(fake_api):
    kibana = status.probe("kibana", f"{fake_api.url}/answer/503/")
    assert (kibana.state, kibana.detail.split(":")[0]) == ("not ready", "HTTP 503")
    secured = status.probe("elasticsearch", f"{fake_api.url}/answer/401/")
    assert secured.state == "up"
    broken = status.probe("grafana", f"{fake_api.url}/answer/500/")
    assert (broken.state, broken.detail) == ("down", "HTTP 500 from /api/health")


def test_make_status_command_exits_non_zero_without_a_traceback():
    # This machine has no Pulumi CLI: the note says so and the URLs come from Pulumi.dev.yaml.
    result = subprocess.run(
        [sys.executable, "-m", "scripts.status"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in result.stderr
    assert "note: URLs computed from Pulumi.dev.yaml" in result.stdout or (
        status.pulumi_cli_present()
    )
    for part in ("api", "traefik"):
        assert part in result.stdout
    if "down" in result.stdout:
        assert result.returncode == 1


def test_credentials_say_where_each_login_comes_from(monkeypatch):
    out = io.StringIO()
    assert status.print_credentials(out, show=False) == 0
    text = out.getvalue()
    assert "lab:grafanaAdminPassword" in text
    assert "user: admin" in text
    assert "security is off" in text
    assert "(not read: --no-show)" in text

    monkeypatch.setattr(status, "stack_config", lambda: {"lab:logs": False, "lab:grafana": False})
    out = io.StringIO()
    status.print_credentials(out)
    assert "Grafana        switched off" in out.getvalue()
    assert "Kibana, Elasticsearch: switched off" in out.getvalue()


def test_credentials_without_cli_explain_why_the_password_is_not_shown(monkeypatch):
    monkeypatch.setattr(status, "pulumi_cli_present", lambda: False)
    password, why = status.grafana_password()
    assert password is None
    assert "Pulumi CLI" in why


def test_logs_without_docker_say_so():
    def no_daemon():
        raise ConnectionError("connection refused")

    out = io.StringIO()
    assert status.print_logs(out, client_factory=no_daemon) == 1
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
        [sys.executable, "-m", "scripts.status", "logs", "--project", project, "--stack", "test"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("second-2" in line for line in seen):
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line.rstrip("\n"))
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
    code = status.print_logs(out, project=f"absent-{uuid.uuid4().hex[:8]}", stack="test")
    assert code == 1
    assert "is the lab up" in out.getvalue()
