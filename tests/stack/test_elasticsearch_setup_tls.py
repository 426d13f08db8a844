"""The security step's HTTPS client (stack/elasticsearch_setup.py) on Swarm, against the
Elasticsearch stand-in (tests/support/elasticsearch_standin.py) served over real TLS with a
certificate lab/certificates.py issued: it verifies the node with the lab's CA alone, and a
server whose certificate is not from that CA is refused before any password is sent."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from lab import certificates
from stack import elasticsearch_setup as setup
from stack.configs import elasticsearch_security as security
from stack.configs import elasticsearch_tls
from tests.support.elasticsearch_standin import ElasticsearchStandIn

ELASTIC = "elastic-pw-1"
PASSWORDS = {user.name: f"{user.name}-pw-1" for user in security.USERS}
NAMES = elasticsearch_tls.server_names("127.0.0.1")


def serve_tls(server: ElasticsearchStandIn, tls: dict[str, str], directory: Path) -> str:
    """Wrap the stand-in's socket in TLS with `tls`'s certificate; its https URL."""
    certificate, key = directory / "http.crt", directory / "http.key"
    certificate.write_text(tls["elasticsearchTlsCertificate"])
    key.write_text(tls["elasticsearchTlsKey"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.start()
    return f"https://127.0.0.1:{server.server_port}"


@pytest.fixture
def standin():
    server = ElasticsearchStandIn(ELASTIC)
    yield server
    server.stop()


def props(url: str, ca: str | None) -> dict:
    return {
        "elasticsearch_url": url,
        "elastic_password": ELASTIC,
        "kibana_system_password": "kibana-system-pw-1",
        "passwords": dict(PASSWORDS),
        **security.setup_inputs("7d"),
        **({"ca_certificate": ca} if ca is not None else {}),
    }


def test_the_step_runs_over_https_verifying_the_node_with_the_labs_ca(standin, tmp_path):
    tls = certificates.ensure({}, NAMES)
    url = serve_tls(standin, tls, tmp_path)
    setup.apply_security(
        props(url, tls["tlsCaCertificate"]), deadline_seconds=5, retry_delay_seconds=0.05
    )
    assert set(PASSWORDS) <= set(standin.users)
    assert standin.users["lab_monitor"]["password"] == PASSWORDS["lab_monitor"]


def test_a_node_whose_certificate_is_not_from_the_labs_ca_is_refused(standin, tmp_path):
    impostor = certificates.ensure({}, NAMES)  # a valid chain, from another CA
    url = serve_tls(standin, impostor, tmp_path)
    labs_ca = certificates.ensure({}, NAMES)["tlsCaCertificate"]
    with pytest.raises(setup.SetupError, match="does not verify against the lab's CA"):
        # At once, not after the deadline: a wrong server does not become right by waiting.
        setup.apply_security(props(url, labs_ca), deadline_seconds=30, retry_delay_seconds=5)
    assert standin.requests == []  # no request, so no password, reached it


def test_without_the_ca_the_system_trust_refuses_the_labs_node(standin, tmp_path):
    url = serve_tls(standin, certificates.ensure({}, NAMES), tmp_path)
    with pytest.raises(setup.SetupError):
        setup.apply_security(props(url, None), deadline_seconds=1, retry_delay_seconds=0.05)
    assert standin.requests == []
