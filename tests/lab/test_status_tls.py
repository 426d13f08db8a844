"""`make status` on Swarm: Elasticsearch answers HTTPS with the lab's certificate, and the
status probe checks it against the lab's CA (lab/status.py), against the Elasticsearch
stand-in served over real TLS."""

from __future__ import annotations

import ssl

import pytest

from lab import certificates, status
from stack.configs import elasticsearch_tls
from tests.support.elasticsearch_standin import ElasticsearchStandIn

TLS = certificates.ensure({}, elasticsearch_tls.server_names("127.0.0.1"))


@pytest.fixture
def node(tmp_path):
    (tmp_path / "http.crt").write_text(TLS["elasticsearchTlsCertificate"])
    (tmp_path / "http.key").write_text(TLS["elasticsearchTlsKey"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "http.crt", tmp_path / "http.key")
    server = ElasticsearchStandIn("elastic-pw")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.start()
    yield f"https://127.0.0.1:{server.server_port}"
    server.stop()


def test_the_node_is_up_when_it_proves_itself_with_the_labs_ca(node):
    found = status.check({"elasticsearch": node}, TLS["tlsCaCertificate"])
    assert [(s.state, s.detail.split(":")[0]) for s in found] == [("up", "HTTP 401")]


def test_a_node_the_ca_does_not_vouch_for_is_down_and_says_why(node):
    other_ca = certificates.ensure({}, ("elasticsearch",))["tlsCaCertificate"]
    (found,) = status.check({"elasticsearch": node}, other_ca)
    assert found.state == "down"
    assert "CERTIFICATE_VERIFY_FAILED" in found.detail
