"""The whole declared monitoring path of the parts' health probes (issue 22, item 4): the real
blackbox exporter (Debian's binary) loaded with the exact config and password file the program
uploads to its container, probing each target of the declared `probe-parts` job. Elasticsearch
is the stand-in with its authentication on (tests/support/elasticsearch_standin.py), its users
made by the lab's own security setup step; Logstash's API is its stand-in asking the login of
the declared logstash.yml (api.auth.type basic); the other parts answer as their products do when
healthy (tests/stack/test_configs_blackbox.py HEALTH_ANSWERS). Every probe must succeed: on a
real lab the Elasticsearch probe got 401 and LabProbeFailed fired for ever.
"""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from lab.support import free_port
from stack import elasticsearch_setup as setup
from stack.configs import blackbox_yaml, web_config
from stack.configs import elasticsearch_security as security
from tests.stack.captured import containers, declared_api_login, declared_under, upload
from tests.stack.test_configs_blackbox import (  # noqa: F401 (fixtures)
    HEALTH_ANSWERS,
    Answer,
    blackbox_exporter,
    parts,
    probe,
)
from tests.support.capture import MOCK_SECRETS
from tests.support.elasticsearch_standin import ElasticsearchStandIn
from tests.support.logstash_standin import start_logstash
from tests.support.processes import running


def declared_exporter_files(tmp_path: Path) -> Path:
    """The blackbox container's uploads written locally; its config with each password_file
    pointed at the local copy of the upload it names (which must be declared)."""
    blackbox = containers(declared_under("default"))["lab-dev-blackbox"]
    uploads = {entry["file"]: entry for entry in blackbox["inputs"]["uploads"]}
    config = yaml.safe_load(upload(blackbox, blackbox_yaml.CONFIG_FILE))
    for name, module in config["modules"].items():
        auth = module.get("http", {}).get("basic_auth")
        if not auth:
            continue
        declared = uploads.get(auth["password_file"])
        assert declared, f"module {name} reads {auth['password_file']}, which nothing uploads"
        assert (declared["permissions"], declared["owner"]) == ("0400", "65534"), name
        local = tmp_path / Path(auth["password_file"]).name
        local.write_text(declared["content"])
        auth["password_file"] = str(local)
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def declared_part_targets() -> dict[str, tuple[str, str]]:
    """part -> (module, target URL) of the declared probe-parts job in Prometheus' config."""
    prometheus = containers(declared_under("default"))["lab-dev-prometheus"]
    config = yaml.safe_load(upload(prometheus, "/etc/prometheus/prometheus.yml"))
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == blackbox_yaml.HEALTH_JOB]
    found = {}
    for group in job["static_configs"]:
        labels = group["labels"]
        (target,) = group["targets"]
        found[labels[blackbox_yaml.PART_LABEL]] = (labels["__param_module"], target)
    return found


@pytest.fixture
def elasticsearch():
    """The stand-in, secured by the lab's setup step with the mocked generated passwords."""
    server = ElasticsearchStandIn(MOCK_SECRETS["lab:elasticPassword"]).start()
    props = {
        "elasticsearch_url": server.url,
        "elastic_password": MOCK_SECRETS["lab:elasticPassword"],
        "kibana_system_password": MOCK_SECRETS["lab:kibanaSystemPassword"],
        "passwords": {user.name: MOCK_SECRETS[f"lab:{user.secret}"] for user in security.USERS},
        **security.setup_inputs("7d"),
    }
    setup.apply_security(props, retry_delay_seconds=0.05)
    yield server
    server.stop()


@pytest.fixture
def logstash():
    """The Logstash stand-in, its API asking the login of the declared logstash.yml."""
    server = start_logstash("RUNNING", declared_api_login(declared_under("default")))
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_every_declared_part_probe_succeeds_with_elasticsearch_secured(
    logstash,
    blackbox_exporter,  # noqa: F811
    parts,  # noqa: F811
    elasticsearch,
    tmp_path,
    monkeypatch,
):
    config_file = declared_exporter_files(tmp_path)
    targets = declared_part_targets()
    assert "elasticsearch" in targets  # the default lab probes it
    local = {}
    for part, (module, target) in targets.items():
        path = urlsplit(target).path
        if part == "elasticsearch":
            local[part] = (module, elasticsearch.url + path)
        elif part == "logstash":
            local[part] = (module, f"http://127.0.0.1:{logstash.server_port}{path}")
        else:
            parts.answers[path] = HEALTH_ANSWERS[part][0]
            local[part] = (module, parts.url + path)
    # Prometheus answers its health path only to its monitoring user (its web config).
    parts.protected.add(urlsplit(targets["prometheus"][1]).path)
    monitoring = f"{web_config.MONITORING_USER}:{MOCK_SECRETS['lab:monitoringApiPassword']}"
    monkeypatch.setattr(Answer, "credentials", base64.b64encode(monitoring.encode()).decode())
    url = f"http://127.0.0.1:{free_port()}"
    argv = [
        blackbox_exporter,
        f"--config.file={config_file}",
        f"--web.listen-address={url.removeprefix('http://')}",
    ]
    with running(argv, f"{url}/-/healthy", tmp_path / "exporter.log"):
        results = {part: probe(url, module, target) for part, (module, target) in local.items()}
    print(f"\nprobe_success per part: {results}")
    assert results == dict.fromkeys(local, 1.0), results
    # The Elasticsearch probe signed in as the monitoring user, never as elastic.
    users = {user for _, path, user in elasticsearch.requests if path.startswith("/_cluster")}
    assert users == {security.MONITOR_USER}, users
    # Logstash's API asked the login of the declared logstash.yml, and got it.
    assert set(logstash.logins) == {declared_api_login(declared_under("default"))[0]}
