"""The Swarm lab as the program declares it under mocks, read for Elasticsearch's and Kibana's
HTTPS (tests/stack/test_swarm_tls*.py): each part's service, its secret and config files, and
whether the declared certificates verify for a URL's host (cryptography's RFC 5280 verifier)."""

from __future__ import annotations

import base64
import functools
import ipaddress
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from tests.support.capture import MOCK_TLS, OPEN_ON_SWARM, capture

SERVICE = "docker:index/service:Service"
SECRET = "docker:index/secret:Secret"
CONFIG = "docker:index/serviceConfig:ServiceConfig"
CONTAINER = "docker:index/container:Container"
STATE_HOST = "10.0.0.5"  # the name MOCK_TLS's certificate was issued for
CA = MOCK_TLS["lab:tlsCaCertificate"]
CERTIFICATE = MOCK_TLS["lab:elasticsearchTlsCertificate"]
KEY = MOCK_TLS["lab:elasticsearchTlsKey"]
KIBANA_CERTIFICATE = MOCK_TLS["lab:kibanaTlsCertificate"]
KIBANA_KEY = MOCK_TLS["lab:kibanaTlsKey"]
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


def verifies(url: str, certificate: str | None = None) -> None:
    """The declared certificate (Elasticsearch's unless given), from the declared CA, is valid
    for the host `url` names."""
    host = urlsplit(url).hostname
    try:
        name = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        name = x509.DNSName(host)
    store = Store([x509.load_pem_x509_certificate(CA.encode())])
    verifier = PolicyBuilder().store(store).build_server_verifier(name)
    verifier.verify(x509.load_pem_x509_certificate((certificate or CERTIFICATE).encode()), [])
