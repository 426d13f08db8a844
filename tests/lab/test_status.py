"""`make status`: URLs from the settings or the deployed stack, real probes, no tracebacks."""

import io
import subprocess
import sys

import pytest

from lab import automation, status
from lab.support import REPO_ROOT, free_port
from stack.settings import parse


def test_configured_urls_follow_the_settings():
    settings = parse(
        {
            "ports": {"api": 18000, "prometheus": 19090},
            "bindAddress": "0.0.0.0",
            "allowOpenPorts": ["prometheus", "gelf", "alertmanager"],
        }
    )
    assert status.configured_urls(settings) == {
        "api": "http://127.0.0.1:18000",
        "traefik": "http://127.0.0.1:8080/dashboard/",
        "prometheus": "http://127.0.0.1:18000/prometheus/",
        "grafana": "http://127.0.0.1:18000/grafana/",
        "elasticsearch": "http://127.0.0.1:9200",
        "kibana": "http://127.0.0.1:18000/kibana",
        "alertmanager": "http://127.0.0.1:18000/alertmanager/",
    }
    no_logs = status.configured_urls(parse({"logs": False}))
    assert set(no_logs) == {"api", "traefik", "prometheus", "grafana", "alertmanager"}
    assert "alertmanager" not in status.configured_urls(parse({"alerting": False}))
    no_metrics = status.configured_urls(parse({"metrics": False}))
    assert set(no_metrics) == {"api", "traefik", "elasticsearch", "kibana"}


def test_configured_urls_match_the_checked_in_dev_stack():
    assert status.configured_urls(automation.stack_settings())["api"] == "http://127.0.0.1:8000"


def test_stack_outputs_map_to_parts_and_keep_elasticsearch_from_settings(monkeypatch, tmp_path):
    monkeypatch.setattr(automation, "cli_present", lambda: True)
    monkeypatch.setattr(automation, "STATE_DIR", tmp_path)
    exported = {
        "api_url": "http://10.0.0.5:8000",
        "traefik_url": "http://10.0.0.5:8080/dashboard/",
        "prometheus_url": None,
        "grafana_url": None,
        "kibana_url": "http://10.0.0.5:8000/kibana",
    }
    monkeypatch.setattr(automation, "outputs", lambda: exported)
    settings = parse({})
    urls, note = status.stack_outputs(settings)
    assert note is None
    assert urls == {
        "api": "http://10.0.0.5:8000",
        "traefik": "http://10.0.0.5:8080/dashboard/",
        "elasticsearch": "http://127.0.0.1:9200",
        "kibana": "http://10.0.0.5:8000/kibana",
    }
    monkeypatch.setattr(automation, "outputs", dict)  # what outputs() says when nothing is up
    urls, note = status.stack_outputs(settings)
    assert "not up" in note
    assert urls == status.configured_urls(settings)


def test_status_of_a_running_local_lab(local_lab):
    dead = f"http://127.0.0.1:{free_port()}"
    urls = {
        "api": local_lab.api_url,
        "traefik": local_lab.traefik_url + "/dashboard/",
        "grafana": dead + "/grafana/",
    }
    out = io.StringIO()
    assert status.print_status(urls, "from a test", out) == 1
    lines = {line.split()[0]: line for line in out.getvalue().splitlines()}
    assert lines["note:"].endswith("from a test")
    assert lines["api"].split()[1] == "up"
    assert lines["traefik"].split()[1] == "up"
    assert lines["grafana"].split()[1] == "down"
    assert "Connection refused" in lines["grafana"]
    assert "not healthy" in out.getvalue()

    del urls["grafana"]
    assert status.print_status(urls, None, io.StringIO()) == 0


def test_status_when_nothing_runs_is_clear_and_fails():
    urls = {"api": f"http://127.0.0.1:{free_port()}", "kibana": f"http://127.0.0.1:{free_port()}"}
    out = io.StringIO()
    assert status.print_status(urls, None, out) == 1
    assert "nothing answers" in out.getvalue()


def test_starting_and_secured_parts_are_told_apart(fake_api):
    kibana = status.probe("kibana", f"{fake_api.url}/answer/503/")
    assert (kibana.state, kibana.detail.split(":")[0]) == ("not ready", "HTTP 503")
    for part in ("elasticsearch", "kibana"):
        secured = status.probe(part, f"{fake_api.url}/answer/401/")
        assert (secured.state, secured.detail) == (
            "up",
            "HTTP 401: asks for a login (make credentials)",
        ), part
    broken = status.probe("grafana", f"{fake_api.url}/answer/500/")
    assert (broken.state, broken.detail) == ("down", "HTTP 500 from /api/health")


def test_make_status_command_exits_non_zero_without_a_traceback():
    # Without a Pulumi CLI the note says so and the URLs come from Pulumi.dev.yaml.
    result = subprocess.run(
        [sys.executable, "-m", "lab.status"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in result.stderr
    assert "note: URLs computed from Pulumi.dev.yaml" in result.stdout or automation.cli_present()
    for part in ("api", "traefik"):
        assert part in result.stdout
    if "down" in result.stdout:
        assert result.returncode == 1


def test_invalid_config_is_one_line_and_no_probe(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "Pulumi.dev.yaml"
    bad.write_text("config:\n  lab:metrics: yes please\n")
    monkeypatch.setattr(automation, "STACK_FILE", bad)
    monkeypatch.setattr(status, "check", lambda urls: pytest.fail("probed with invalid config"))
    assert status.main([]) == 1
    assert capsys.readouterr().err == (
        "lab: Pulumi.dev.yaml: lab:metrics = 'yes please' is invalid: expected true or false\n"
    )


def test_each_own_service_has_a_line_probed_on_its_path(fake_api):
    """lab:services: `make status` calls each entry as its probe does, through Traefik."""
    settings = parse(
        {
            "services": [
                {"name": "shop", "image": "x", "port": 1, "path": "/answer/200", "health": "/h"},
                {"name": "cart", "image": "x", "port": 1, "path": "/answer/500"},
            ]
        }
    )
    urls = status.own_service_urls(settings, fake_api.url + "/")
    assert urls == {"shop": f"{fake_api.url}/answer/200/h", "cart": f"{fake_api.url}/answer/500/"}
    out = io.StringIO()
    assert status.print_status(urls, None, out) == 1
    lines = {line.split()[0]: line.split()[1] for line in out.getvalue().splitlines()[:2]}
    assert lines == {"shop": "up", "cart": "down"}
    assert status.own_service_urls(settings, None) == {}
