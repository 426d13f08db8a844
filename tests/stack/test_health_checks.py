"""The declared health checks of Kibana, Grafana and Elasticsearch against stand-ins that
answer as the pinned versions do (tests/support/standins.py, FakeStatus), in each state.

What this shows: Kibana's check passes on a `degraded` Kibana (its status route answers 200),
fails only when Kibana's core is unavailable; Grafana's and Elasticsearch's fail when their
product reports failure.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.stack.captured import containers, declared_under
from tests.support.capture import MOCK_SECRETS
from tests.support.standins import start_status


def declared_container(part: str) -> dict:
    (container,) = (
        c for name, c in containers(declared_under("default")).items() if name.endswith(part)
    )
    return container


def declared_check(part: str) -> list[str]:
    return declared_container(part)["inputs"]["healthcheck"]["tests"]


def run(tests: list[str], base: str, files: dict[str, str] | None = None) -> int:
    """The check's command against `base`; `files` maps container paths it reads (curl's -K
    config) to local copies holding the declared upload's content."""
    command = [re.sub(r"https?://localhost:\d+", base, part) for part in tests[1:]]
    command = [(files or {}).get(part, part) for part in command]
    return subprocess.run(command, capture_output=True, timeout=20).returncode


def uploaded_files(part: str, tmp_path) -> dict[str, str]:
    local = {}
    for number, item in enumerate(declared_container(part)["inputs"].get("uploads") or ()):
        copy = tmp_path / f"upload-{number}"
        copy.write_text(item["content"])
        local[item["file"]] = str(copy)
    return local


@pytest.fixture
def status():
    servers = []

    def start(level, login=None):
        servers.append(start_status(level, login))
        return f"http://127.0.0.1:{servers[-1].server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("part", "level", "healthy"),
    [
        ("kibana", "available", True),
        ("kibana", "degraded", True),
        ("kibana", "unavailable", False),
        ("grafana", "available", True),
        ("grafana", "unavailable", False),
        ("elasticsearch", "degraded", True),
        ("elasticsearch", "critical", False),
    ],
)
def test_declared_check_in_each_state(status, part, level, healthy, tmp_path):
    monitor = MOCK_SECRETS["lab:monitorPassword"]
    login = f"lab_health:{monitor}" if part == "elasticsearch" else None
    files = uploaded_files(part, tmp_path)
    assert (run(declared_check(part), status(level, login), files) == 0) is healthy


def test_elasticsearch_check_fails_with_another_password(status, tmp_path):
    """Security on: the check signs in with the declared monitoring password, or fails."""
    base = status("available", "lab_health:another-password")
    assert run(declared_check("elasticsearch"), base, uploaded_files("elasticsearch", tmp_path))


# -- the port and path each product serves (issue 23) -----------------------------------------
# Grafana, Elasticsearch, Logstash and Kibana cannot run here: the URL each declared check
# calls is held against where the product listens, by its own defaults (cited) unless the lab's
# rendered config for that product says otherwise, read as the product reads it.

_LOCAL_URL = re.compile(r"http://localhost:(\d+)(/[^\s'\"$)]*)?")


def _checked_url(part: str) -> tuple[int, str]:
    """The port and path of the (one) local URL the declared check calls."""
    (found,) = set(_LOCAL_URL.findall(" ".join(declared_check(part)[1:])))
    return int(found[0]), found[1].split("?")[0] or "/"


def _env(part: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in declared_container(part)["inputs"].get("envs", []))


def _upload(part: str, path: str) -> str | None:
    for item in declared_container(part)["inputs"].get("uploads") or ():
        if item["file"] == path:
            return item["content"]
    return None


def test_grafana_check_calls_the_port_and_path_grafana_serves():
    """grafana/grafana v11.6.5 conf/defaults.ini `[server] http_port = 3000` (GF_SERVER_HTTP_PORT
    overrides it); pkg/api/api.go registers `/api/health` (no sign-in), and with
    `serve_from_sub_path = true` every route is served under the path of `root_url`
    (pkg/api/http_server.go: m.SetURLPrefix(cfg.AppSubURL))."""
    from urllib.parse import urlparse

    env = _env("grafana")
    port = int(env.get("GF_SERVER_HTTP_PORT", "3000"))
    prefix = ""
    if env.get("GF_SERVER_SERVE_FROM_SUB_PATH") == "true":
        prefix = urlparse(env["GF_SERVER_ROOT_URL"]).path.rstrip("/")
    assert _checked_url("grafana") == (port, f"{prefix}/api/health")


def test_elasticsearch_check_calls_the_port_elasticsearch_binds():
    """Elasticsearch 8.19 `http.port` defaults to the range 9200-9300 and a single node binds
    the first, 9200 (docs: modules-network, HTTP settings); the lab may set `http.port` in the
    environment (the image turns dotted variables into settings). `/_cluster/health` is
    RestClusterHealthAction's route."""
    port = int(_env("elasticsearch").get("http.port", "9200"))
    assert _checked_url("elasticsearch") == (port, "/_cluster/health")


def test_logstash_check_calls_its_api_port_and_looks_for_the_pipelines_gelf_port():
    """Logstash 8.19 `api.http.port` defaults to 9600-9700, the first free one, 9600
    (logstash-core/lib/logstash/settings.rb / docs: logstash-settings-file); the rendered
    logstash.yml may set it. The GELF port the check looks for in /proc/net/tcp must be the
    port the pipeline's gelf input opens (`port =>` in the uploaded pipeline)."""
    from stack.configs import logstash_conf

    settings = yaml.safe_load(_upload("logstash", logstash_conf.SETTINGS_FILE) or "") or {}
    port = int(settings.get("api.http.port", 9600))
    assert _checked_url("logstash") == (port, "/_health_report")
    pipeline = _upload("logstash", logstash_conf.PIPELINE_FILE)
    gelf = re.search(r"gelf\s*\{[^}]*?port\s*=>\s*(\d+)", pipeline, re.S)
    assert gelf, "no gelf input with a port in the pipeline"
    script = " ".join(declared_check("logstash")[1:])
    assert f":{int(gelf.group(1)):04X} " in script, f"the check does not look for {gelf.group(1)}"


def test_kibana_check_calls_the_port_and_path_kibana_serves():
    """Kibana 8.19 core http_config.ts: `port` defaultValue 5601; `basePath` with
    `rewriteBasePath: true` serves every route under the base path; `/api/status` is the
    status route (no sign-in needed when it answers for the check's level)."""
    from stack.configs import kibana_yml

    config = yaml.safe_load(_upload("kibana", kibana_yml.CONFIG_FILE))
    port = int(config.get("server.port", 5601))
    prefix = config.get("server.basePath", "") if config.get("server.rewriteBasePath") else ""
    assert _checked_url("kibana") == (port, f"{prefix}/api/status")
