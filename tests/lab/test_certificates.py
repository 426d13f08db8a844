"""lab/certificates.py: the CA and Elasticsearch's certificate on Swarm, checked with the
`cryptography` package's own RFC 5280 path validation (cryptography.x509.verification, the
web PKI profile that rejects a CA without keyCertSign, a leaf without the serverAuth purpose or
a name it does not carry), and kept byte for byte across runs while they still serve."""

from __future__ import annotations

import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from lab import automation, certificates
from stack import settings
from tests.support.capture import OPEN_ON_SWARM

STATE_HOST = "10.0.0.5"
# The names clients put in their URLs, as the issue states them: the service's DNS name on the
# overlay, the state node (lab:swarmStateHost), and localhost (the container's health check).
NAMES = ("elasticsearch", "localhost", STATE_HOST)
CA_CERT, CA_KEY = "tlsCaCertificate", "tlsCaKey"
CERT, KEY = "elasticsearchTlsCertificate", "elasticsearchTlsKey"


def load(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def verifier(ca_pem: str, name: x509.GeneralName):
    store = Store([load(ca_pem)])
    return PolicyBuilder().store(store).build_server_verifier(name)


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return certificates.ensure({}, NAMES)


def test_a_first_run_generates_the_ca_and_the_certificate(generated):
    assert set(generated) == {CA_CERT, CA_KEY, CERT, KEY}
    for key in (CA_KEY, KEY):
        assert generated[key].startswith("-----BEGIN PRIVATE KEY-----"), key  # PKCS#8


@pytest.mark.parametrize(
    "name",
    [
        x509.DNSName("elasticsearch"),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address(STATE_HOST)),
    ],
)
def test_the_chain_verifies_for_every_name_clients_use(generated, name):
    chain = verifier(generated[CA_CERT], name).verify(load(generated[CERT]), [])
    assert [c.subject for c in chain] == [
        load(generated[CERT]).subject,
        load(generated[CA_CERT]).subject,
    ]


def test_a_name_the_certificate_does_not_carry_is_refused(generated):
    with pytest.raises(VerificationError):
        verifier(generated[CA_CERT], x509.DNSName("kibana")).verify(load(generated[CERT]), [])


def test_another_ca_does_not_verify_the_certificate(generated):
    other = certificates.ensure({}, NAMES)
    with pytest.raises(VerificationError):
        verifier(other[CA_CERT], x509.DNSName("elasticsearch")).verify(load(generated[CERT]), [])


def test_key_usage_is_a_cas_and_a_servers(generated):
    ca, leaf = load(generated[CA_CERT]), load(generated[CERT])
    ca_usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert ca_usage.critical
    assert ca_usage.value.key_cert_sign
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    leaf_usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert leaf_usage.digital_signature
    assert not leaf_usage.key_cert_sign
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    purposes = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(purposes) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_the_state_host_is_an_ip_san_and_the_service_a_dns_san(generated):
    san = load(generated[CERT]).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert set(san.value.get_values_for_type(x509.DNSName)) == {"elasticsearch", "localhost"}
    assert san.value.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(STATE_HOST)]


def test_a_host_name_state_host_is_a_dns_san():
    made = certificates.ensure({}, ("elasticsearch", "swarm-state.lan"))
    name = x509.DNSName("swarm-state.lan")
    verifier(made[CA_CERT], name).verify(load(made[CERT]), [])


def test_stored_secrets_that_still_serve_are_kept(generated):
    """The second `make up` sets nothing, so the program's inputs and the plan stay the same."""
    assert certificates.ensure(generated, NAMES) == {}


def test_a_new_state_host_reissues_the_certificate_under_the_same_ca(generated):
    changed = certificates.ensure(generated, ("elasticsearch", "localhost", "10.0.0.9"))
    assert set(changed) == {CERT, KEY}
    name = x509.IPAddress(ipaddress.ip_address("10.0.0.9"))
    verifier(generated[CA_CERT], name).verify(load(changed[CERT]), [])


@pytest.mark.parametrize("lost", [CERT, KEY])
def test_a_lost_certificate_or_key_is_issued_again_by_the_stored_ca(generated, lost):
    present = {key: value for key, value in generated.items() if key != lost}
    changed = certificates.ensure(present, NAMES)
    assert set(changed) == {CERT, KEY}
    verifier(generated[CA_CERT], x509.DNSName("elasticsearch")).verify(load(changed[CERT]), [])


def test_a_certificate_from_another_ca_or_with_another_key_is_replaced(generated):
    other = certificates.ensure({}, NAMES)
    assert set(certificates.ensure({**generated, CERT: other[CERT]}, NAMES)) == {CERT, KEY}
    assert set(certificates.ensure({**generated, KEY: other[KEY]}, NAMES)) == {CERT, KEY}


def test_a_certificate_near_its_end_is_renewed(generated):
    end = load(generated[CERT]).not_valid_after_utc
    assert certificates.ensure(generated, NAMES, now=end - datetime.timedelta(days=60)) == {}
    soon = certificates.ensure(generated, NAMES, now=end - datetime.timedelta(days=1))
    assert set(soon) == {CERT, KEY}


class FakeStack:
    """The Automation API stack's config calls: values as `pulumi config --show-secrets`."""

    def __init__(self):
        self.config: dict = {}

    def get_all_config(self):
        return dict(self.config)

    def set_config(self, key, value):
        self.config[key] = value


def swarm_settings(state_host: str = STATE_HOST):
    return settings.parse(
        {"engine": "swarm", "swarmStateHost": state_host, "allowOpenPorts": OPEN_ON_SWARM}
    )


def test_make_up_on_swarm_stores_them_as_secrets_once():
    stack = FakeStack()
    automation.ensure_secrets(stack, swarm_settings())
    tls = {key: value for key, value in stack.config.items() if "Tls" in key or "tlsCa" in key}
    kibana = ("kibanaTlsCertificate", "kibanaTlsKey")
    assert set(tls) == {f"lab:{key}" for key in (CA_CERT, CA_KEY, CERT, KEY, *kibana)}
    assert all(value.secret for value in tls.values())
    leaf, ca = stack.config[f"lab:{CERT}"].value, stack.config[f"lab:{CA_CERT}"].value
    verifier(ca, x509.IPAddress(ipaddress.ip_address(STATE_HOST))).verify(load(leaf), [])
    before = dict(stack.config)
    automation.ensure_secrets(stack, swarm_settings())
    assert stack.config == before  # nothing set again: the second plan stays empty


def test_the_single_host_lab_gets_no_certificate():
    stack = FakeStack()
    automation.ensure_secrets(stack, settings.parse({}))
    assert not [key for key in stack.config if key.removeprefix("lab:") in (CA_CERT, CERT)]


def test_kibanas_certificate_names_kibana_under_the_same_ca():
    made = certificates.ensure({}, NAMES, kibana_names=("kibana", "localhost", STATE_HOST))
    kibana = load(made["kibanaTlsCertificate"])
    for name in (x509.DNSName("kibana"), x509.IPAddress(ipaddress.ip_address(STATE_HOST))):
        verifier(made[CA_CERT], name).verify(kibana, [])
    with pytest.raises(VerificationError):
        verifier(made[CA_CERT], x509.DNSName("elasticsearch")).verify(kibana, [])
    again = certificates.ensure(made, NAMES, kibana_names=("kibana", "localhost", STATE_HOST))
    assert again == {}
