"""Elasticsearch's HTTPS on Swarm, as the program declares it (under mocks, issue 22): the node
serves TLS with the certificate from the stack's secrets, every client dials an https URL and
trusts the lab's CA, given to it as a 0400 secret file, and each name a client dials is one the
certificate carries (checked with cryptography's RFC 5280 verifier); the real blackbox exporter
with the declared module and CA passes on the lab's node and fails on another CA's. The
single-host lab keeps plain HTTP."""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from lab import certificates
from lab.support import NotReady, free_port, start, stop, wait_for_http
from stack.configs import elasticsearch_tls
from tests.support.binaries import packaged_binary
from tests.support.capture import MOCK_TLS, OPEN_ON_SWARM, capture

SERVICE = "docker:index/service:Service"
SECRET = "docker:index/secret:Secret"
CONFIG = "docker:index/serviceConfig:ServiceConfig"
CONTAINER = "docker:index/container:Container"
STATE_HOST = "10.0.0.5"  # the name MOCK_TLS's certificate was issued for
CA = MOCK_TLS["lab:tlsCaCertificate"]
CERTIFICATE = MOCK_TLS["lab:elasticsearchTlsCertificate"]
KEY = MOCK_TLS["lab:elasticsearchTlsKey"]
ELASTIC_UID = 1000  # the Elasticsearch, Logstash and Kibana images' user
NOBODY = 65534  # the exporters'


@functools.cache
def swarm() -> tuple[dict, ...]:
    config = {
        "lab:engine": "swarm",
        "lab:swarmStateHost": STATE_HOST,
        "lab:allowOpenPorts": OPEN_ON_SWARM,
    }
    return tuple(capture(config, stack="swarm")["resources"])


def service(part: str) -> dict:
    (found,) = [
        r["inputs"]
        for r in swarm()
        if r["type"] == SERVICE and r["inputs"]["name"] == f"lab-swarm-{part}"
    ]
    return found["taskSpec"]["containerSpec"]


def secret_files(part: str) -> dict[str, tuple[str, dict]]:
    """fileName -> (content, mount) of the part's Swarm secrets."""
    texts = {
        r["inputs"]["name"]: base64.b64decode(r["inputs"]["data"]).decode()
        for r in swarm()
        if r["type"] == SECRET
    }
    return {m["fileName"]: (texts[m["secretName"]], m) for m in service(part).get("secrets", [])}


def config_files(part: str) -> dict[str, str]:
    texts = {r["inputs"]["name"]: r["inputs"]["dataRaw"] for r in swarm() if r["type"] == CONFIG}
    return {m["fileName"]: texts[m["configName"]] for m in service(part).get("configs", [])}


def ca_secret(part: str, path: str, uid: int) -> None:
    """`path` is the lab's CA, readable by the part's process user only."""
    files = secret_files(part)
    assert path in files, f"{part}: {path} is not one of its secret files {sorted(files)}"
    content, mount = files[path]
    assert content == CA, f"{part}: {path} is not the lab's CA"
    assert (mount["fileMode"], mount["fileUid"]) == (0o400, str(uid)), (part, mount)


def verifies(url: str) -> None:
    """The declared certificate, from the declared CA, is valid for the host `url` names."""
    host = urlsplit(url).hostname
    try:
        name = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        name = x509.DNSName(host)
    store = Store([x509.load_pem_x509_certificate(CA.encode())])
    verifier = PolicyBuilder().store(store).build_server_verifier(name)
    verifier.verify(x509.load_pem_x509_certificate(CERTIFICATE.encode()), [])


def test_elasticsearch_serves_https_with_the_stacks_certificate():
    """Settings from Elasticsearch 8.19's security settings reference (HTTP TLS/SSL settings:
    xpack.security.http.ssl.enabled, .key, .certificate, .certificate_authorities); the PEM
    files must sit under the config directory (libs/ssl-config SslFileUtil.java)."""
    env = service("elasticsearch")["env"]
    assert env["xpack.security.http.ssl.enabled"] == "true"
    files = secret_files("elasticsearch")
    for setting, pem in (("key", KEY), ("certificate", CERTIFICATE)):
        path = env[f"xpack.security.http.ssl.{setting}"]
        assert path.startswith("/usr/share/elasticsearch/config/"), (setting, path)
        assert files[path][0] == pem, setting
        assert files[path][1]["fileMode"] == 0o400, setting
    ca_secret("elasticsearch", env["xpack.security.http.ssl.certificate_authorities"], ELASTIC_UID)


def test_the_health_check_verifies_the_node_over_https():
    command = service("elasticsearch")["healthcheck"]["tests"]
    url = next(arg for arg in command if "://" in arg)
    assert url.startswith("https://localhost:9200/"), command
    ca = command[command.index("--cacert") + 1]  # curl's option for the CA bundle
    ca_secret("elasticsearch", ca, ELASTIC_UID)
    assert "-k" not in command
    assert "--insecure" not in command
    verifies(url)


def test_kibana_trusts_only_the_labs_ca():
    """kibana.yml keys from Kibana 8.19's settings reference: elasticsearch.hosts,
    elasticsearch.ssl.certificateAuthorities, elasticsearch.ssl.verificationMode (default full)."""
    path = "/usr/share/kibana/config/kibana.yml"
    settings = yaml.safe_load(secret_files("kibana")[path][0])
    for host in settings["elasticsearch.hosts"]:
        assert host.startswith("https://"), host
        verifies(host)
    assert settings.get("elasticsearch.ssl.verificationMode", "full") == "full"
    (ca,) = settings["elasticsearch.ssl.certificateAuthorities"]
    ca_secret("kibana", ca, ELASTIC_UID)


def test_every_logstash_output_trusts_only_the_labs_ca():
    """logstash-output-elasticsearch 11.22 options: hosts, ssl_certificate_authorities,
    ssl_verification_mode (default full)."""
    path = "/usr/share/logstash/pipeline/logstash.conf"
    pipeline = secret_files("logstash")[path][0]
    outputs = pipeline.split("elasticsearch {")[1:]
    assert len(outputs) == 2, "the logs and the alerts outputs"
    for output in outputs:
        (host,) = re.findall(r'hosts => \["([^"]+)"\]', output)
        assert host.startswith("https://"), host
        verifies(host)
        (ca,) = re.findall(r'ssl_certificate_authorities => \["([^"]+)"\]', output)
        ca_secret("logstash", ca, ELASTIC_UID)
        assert "ssl_verification_mode" not in output
    assert "cacert" not in pipeline  # the option 11.14 deprecated


def test_the_exporter_verifies_with_the_labs_ca():
    """elasticsearch_exporter v1.9.0 flags: --es.uri, --es.ca (a PEM file of trusted CAs);
    --es.ssl-skip-verify would turn the check off."""
    command = " ".join(service("elasticsearch_exporter")["commands"])
    (uri,) = re.findall(r"--es\.uri=(\S+)", command)
    assert uri.startswith("https://"), uri
    verifies(uri)
    (ca,) = re.findall(r"--es\.ca=(\S+)", command)
    ca_secret("elasticsearch_exporter", ca, NOBODY)
    assert "ssl-skip-verify" not in command


def test_the_elasticsearch_probe_verifies_with_the_labs_ca():
    """blackbox_exporter's http prober: `tls_config.ca_file` (prometheus/common TLSConfig);
    Prometheus hands it the target URL as the `target` parameter."""
    modules = yaml.safe_load(config_files("blackbox")["/etc/blackbox_exporter/config.yml"])
    tls_config = modules["modules"]["health_elasticsearch"]["http"]["tls_config"]
    assert tls_config.get("insecure_skip_verify") is not True
    ca_secret("blackbox", tls_config["ca_file"], NOBODY)
    prometheus = yaml.safe_load(config_files("prometheus")["/etc/prometheus/prometheus.yml"])
    targets = [
        target
        for job in prometheus["scrape_configs"]
        for group in job.get("static_configs", [])
        if group.get("labels", {}).get("part") == "elasticsearch"
        for target in group["targets"]
    ]
    assert targets, "no Elasticsearch probe"
    for target in targets:
        assert target.startswith("https://"), target
        verifies(target)


def test_the_security_step_dials_the_state_node_over_https_with_the_ca():
    (step,) = [r for r in swarm() if r["name"].endswith("-elasticsearch-security")]
    url = step["inputs"]["elasticsearch_url"]
    assert url.startswith(f"https://{STATE_HOST}:"), url
    assert step["inputs"]["ca_certificate"] == CA
    verifies(url)


@pytest.mark.parametrize("part", ["kibana", "logstash", "elasticsearch_exporter", "blackbox"])
def test_no_client_turns_verification_off(part):
    texts = [text for text, _mount in secret_files(part).values()]
    texts += list(config_files(part).values())
    texts.append(" ".join(service(part).get("commands") or []))
    for text in texts:
        assert not re.search(r"verificationMode: none|insecure_skip_verify: true", text), part


def test_the_single_host_lab_keeps_plain_http():
    resources = capture({}, stack="dev")["resources"]
    (es,) = [
        r["inputs"]
        for r in resources
        if r["type"] == CONTAINER and r["inputs"]["name"] == "lab-dev-elasticsearch"
    ]
    env = dict(item.split("=", 1) for item in es["envs"])
    assert env["xpack.security.http.ssl.enabled"] == "false"
    assert not [u for u in es.get("uploads", []) if u["file"].endswith(".crt")]


ES_HEALTH = {"cluster_name": "lab", "status": "green", "number_of_nodes": 1}  # GET _cluster/health


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(ES_HEALTH).encode()
        self.send_response(200 if self.path.startswith("/_cluster/health") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def https_node(certificate: str, key: str, directory: Path) -> Iterator[str]:
    """A node answering cluster health over TLS with `certificate`; its base URL by the name
    the health check uses (localhost: the certificate carries it)."""
    (directory / "node.crt").write_text(certificate)
    (directory / "node.key").write_text(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "node.crt", directory / "node.key")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"https://localhost:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def declared_exporter(tmp_path_factory) -> Iterator[str]:
    """The real blackbox exporter (Debian's) with the blackbox config the Swarm lab declares,
    its CA file the declared secret's content (written here instead of /run/secrets)."""
    binary = packaged_binary(
        "the blackbox exporter", "prometheus-blackbox-exporter", "blackbox_exporter"
    )
    workdir = tmp_path_factory.mktemp("blackbox-tls")
    text = config_files("blackbox")["/etc/blackbox_exporter/config.yml"]
    document = yaml.safe_load(text)
    http = document["modules"]["health_elasticsearch"]["http"]
    declared_ca = http["tls_config"]["ca_file"]
    (workdir / "ca.crt").write_text(secret_files("blackbox")[declared_ca][0])
    http["tls_config"]["ca_file"] = str(workdir / "ca.crt")
    (workdir / "config.yml").write_text(yaml.safe_dump(document))
    url = f"http://127.0.0.1:{free_port()}"
    argv = [
        binary,
        f"--config.file={workdir / 'config.yml'}",
        f"--web.listen-address={url.removeprefix('http://')}",
    ]
    child = start("blackbox_exporter", argv, workdir / "exporter.log")
    try:
        try:
            wait_for_http(f"{url}/-/healthy", timeout=30, process=child.process)
        except NotReady as error:
            pytest.fail(f"{error}\n{child.log_tail()}")
        yield url
    finally:
        stop([child])


def probe_success(exporter: str, target: str) -> tuple[float, str]:
    response = requests.get(
        f"{exporter}/probe",
        params={"module": "health_elasticsearch", "target": target, "debug": "true"},
        timeout=15,
    )
    assert response.status_code == 200, response.text
    found = re.search(r"^probe_success (\S+)$", response.text, re.MULTILINE)
    assert found, response.text
    return float(found.group(1)), response.text


def test_the_declared_probe_passes_on_the_labs_node(declared_exporter, tmp_path):
    with https_node(CERTIFICATE, KEY, tmp_path) as node:
        success, log = probe_success(declared_exporter, f"{node}/_cluster/health")
    assert success == 1, log


def test_the_declared_probe_fails_on_a_node_from_another_ca(declared_exporter, tmp_path):
    impostor = certificates.ensure({}, elasticsearch_tls.server_names(STATE_HOST))
    with https_node(
        impostor["elasticsearchTlsCertificate"], impostor["elasticsearchTlsKey"], tmp_path
    ) as node:
        success, log = probe_success(declared_exporter, f"{node}/_cluster/health")
    assert success == 0, log
    assert "certificate signed by unknown authority" in log  # Go's x509.UnknownAuthorityError
