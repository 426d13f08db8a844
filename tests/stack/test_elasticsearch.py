"""stack/elasticsearch.py: one node, security on, its password only in files, data on a volume."""

from __future__ import annotations

import base64
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import bcrypt
import pytest
import yaml

from stack import elasticsearch
from stack.configs import elasticsearch_security as security
from stack.containers import curl_login
from tests.stack.captured import DYNAMIC, by_type, containers, declared_under, runs
from tests.support.capture import MOCK_SECRETS


def test_elastic_parts_only_with_logs_on(declared):
    if runs(declared, "elasticsearch"):
        return
    assert not {"lab-dev-elasticsearch", "lab-dev-logstash", "lab-dev-kibana"} & set(
        containers(declared)
    )
    assert declared["outputs"]["kibana_url"] is None
    assert not by_type(declared, DYNAMIC)


def test_one_node_with_security_on_and_its_data_on_a_volume(declared):
    if not runs(declared, "elasticsearch"):
        return
    es = containers(declared)["lab-dev-elasticsearch"]
    envs = dict(env.split("=", 1) for env in es["inputs"]["envs"])
    assert envs["discovery.type"] == "single-node", es["urn"]
    assert envs["ES_JAVA_OPTS"] == "-Xms1g -Xmx1g", es["urn"]
    assert envs["xpack.security.enabled"] == "true", es["urn"]
    # The password only as a file (docs/product-rules.md E2), never as ELASTIC_PASSWORD.
    assert envs["ELASTIC_PASSWORD_FILE"] == elasticsearch.PASSWORD_FILE
    assert "ELASTIC_PASSWORD" not in envs
    # Logstash and Kibana start once it is healthy, not merely created.
    assert es["inputs"]["wait"] is True, es["urn"]
    assert es["inputs"]["volumes"][0]["containerPath"] == "/usr/share/elasticsearch/data"
    assert es["inputs"]["volumes"][0]["volumeName"] == "lab-dev-elasticsearch-data"


def test_the_elastic_password_reaches_it_as_files_only_uid_1000_reads(declared):
    if not runs(declared, "elasticsearch"):
        return
    inputs = containers(declared)["lab-dev-elasticsearch"]["inputs"]
    password = MOCK_SECRETS["lab:elasticPassword"]
    monitor = MOCK_SECRETS["lab:monitorPassword"]
    uploads = {u["file"]: u for u in inputs["uploads"]}
    for path in (elasticsearch.PASSWORD_FILE, elasticsearch.CURL_CONFIG_FILE):
        assert (uploads[path]["permissions"], uploads[path]["owner"]) == ("0400", "1000")
    assert uploads[elasticsearch.PASSWORD_FILE]["content"] == password
    # The health check signs in as the file realm's monitoring user (issue 22), not elastic.
    assert uploads[elasticsearch.CURL_CONFIG_FILE]["content"] == curl_login(
        security.HEALTH_USER, monitor
    )
    assert password not in uploads[elasticsearch.CURL_CONFIG_FILE]["content"]
    check = inputs["healthcheck"]["tests"]
    assert check[:5] == ["CMD", "curl", "-fsS", "-K", elasticsearch.CURL_CONFIG_FILE]
    assert password not in " ".join(check)


@pytest.mark.parametrize("password", ["plain", 'with "quotes" and spaces', "back\\slash\\", "x'y"])
def test_curl_reads_the_login_of_its_config_file_as_written(tmp_path, password):
    """The real curl, against a local server that records the Basic credentials it gets."""
    seen = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(base64.b64decode(self.headers["Authorization"].split()[1]).decode())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = tmp_path / "curlrc"
    config.write_text(curl_login(security.HEALTH_USER, password))
    try:
        url = f"http://127.0.0.1:{server.server_port}/_cluster/health"
        subprocess.run(["curl", "-fsS", "-K", str(config), url], check=True, timeout=30)
    finally:
        server.shutdown()
    assert seen == [f"lab_health:{password}"]


def test_the_health_check_signs_in_as_a_file_realm_monitor_never_as_elastic():
    """Issue 22: the check ran as `elastic` every 10 s. Elasticsearch 8.19's file realm
    (docs "File-based user authentication": config/users holds `user:hash` with a bcrypt hash,
    config/users_roles `role:user`; roles.yml defines the role) knows the user from the node's
    start, before the setup step could create a native one. The bcrypt package checks the hash
    against the monitoring password; the role holds cluster `monitor` only, which grants
    cluster:monitor/health (ClusterPrivilegeResolver)."""
    inputs = containers(declared_under("default"))["lab-dev-elasticsearch"]["inputs"]
    uploads = {u["file"]: u for u in inputs["uploads"]}
    curlrc = uploads[elasticsearch.CURL_CONFIG_FILE]["content"]
    assert not curlrc.startswith('user = "elastic:'), curlrc
    assert curlrc.startswith(f'user = "{security.HEALTH_USER}:')
    user, hashed = uploads[security.FILE_REALM_USERS]["content"].strip().split(":", 1)
    assert user == security.HEALTH_USER
    assert hashed.startswith("$2a$")  # the prefix Elasticsearch's Hasher reads as bcrypt
    assert bcrypt.checkpw(MOCK_SECRETS["lab:monitorPassword"].encode(), hashed.encode())
    role, members = uploads[security.FILE_REALM_USERS_ROLES]["content"].strip().split(":")
    assert members.split(",") == [security.HEALTH_USER]
    roles = yaml.safe_load(uploads[security.FILE_ROLES]["content"])
    assert roles == {role: {"cluster": ["monitor"], "indices": []}}
    for path in (security.FILE_REALM_USERS, security.FILE_REALM_USERS_ROLES, security.FILE_ROLES):
        assert (uploads[path]["permissions"], uploads[path]["owner"]) == ("0400", "1000"), path
