"""The lab's CA and Elasticsearch's HTTP certificate on Swarm (stack/configs/elasticsearch_tls.py),
made with the `cryptography` package by `make up` and kept as Pulumi secrets, like passwords.

Generated once: the CA stays for the life of the stack, and the node's certificate is issued
again only when it is missing, no longer names every name clients use (lab:swarmStateHost
changed), is not the CA's, does not match its key, or nears its end. Anything else keeps the
stored PEM texts byte for byte, so the program's inputs, and the second plan, do not change.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Mapping, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from stack.configs.elasticsearch_tls import (
    CA_CERTIFICATE_SECRET,
    CA_KEY_SECRET,
    CERTIFICATE_SECRET,
    KEY_SECRET,
    KIBANA_CERTIFICATE_SECRET,
    KIBANA_KEY_SECRET,
    is_ip_address,
)

CA_NAME = "lab CA"
CA_LIFETIME = datetime.timedelta(days=3650)
SERVER_LIFETIME = datetime.timedelta(days=825)
# Issued again by the first `make up` this close to the end.
RENEW_BEFORE = datetime.timedelta(days=30)
# Clocks between nodes are never quite equal: valid from a little before now.
BACKDATE = datetime.timedelta(minutes=5)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    # PKCS#8 unencrypted: what Elasticsearch's PemUtils, Go's crypto/tls and OpenSSL all read.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _certificate_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _subject_alternative_names(names: Sequence[str]) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName(
        [
            x509.IPAddress(ipaddress.ip_address(name))
            if is_ip_address(name)
            else x509.DNSName(name)
            for name in names
        ]
    )


def new_ca(now: datetime.datetime | None = None) -> tuple[str, str]:
    """(certificate, key) PEM of a CA that signs certificates and nothing under another CA."""
    now = now or _now()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _certificate_pem(certificate), _key_pem(key)


def new_server_certificate(
    ca_certificate_pem: str,
    ca_key_pem: str,
    names: Sequence[str],
    now: datetime.datetime | None = None,
) -> tuple[str, str]:
    """(certificate, key) PEM for a TLS server known by `names`, issued by the CA."""
    if not names:
        raise ValueError("a server certificate needs at least one name")
    now = now or _now()
    ca_certificate = x509.load_pem_x509_certificate(ca_certificate_pem.encode())
    ca_key = serialization.load_pem_private_key(ca_key_pem.encode(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + SERVER_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_subject_alternative_names(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return _certificate_pem(certificate), _key_pem(key)


def _names_in(certificate: x509.Certificate) -> set[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {*san.get_values_for_type(x509.DNSName)} | {
        str(address) for address in san.get_values_for_type(x509.IPAddress)
    }


def server_certificate_problem(
    certificate_pem: str,
    key_pem: str,
    ca_certificate_pem: str,
    names: Sequence[str],
    now: datetime.datetime | None = None,
) -> str | None:
    """Why the stored certificate must be issued again, or None when it still serves."""
    now = now or _now()
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        ca_certificate = x509.load_pem_x509_certificate(ca_certificate_pem.encode())
    except ValueError as error:
        return f"unreadable PEM ({error})"
    try:
        certificate.verify_directly_issued_by(ca_certificate)
    except (ValueError, TypeError, InvalidSignature):
        return "not issued by the lab's CA"
    if certificate.public_key() != key.public_key():
        return "the key is not the certificate's"
    missing = sorted(set(names) - _names_in(certificate))
    if missing:
        return f"does not name {', '.join(missing)}"
    if certificate.not_valid_after_utc - now < RENEW_BEFORE:
        return "expires soon"
    return None


def ensure(
    present: Mapping[str, str],
    names: Sequence[str],
    now: datetime.datetime | None = None,
    *,
    kibana_names: Sequence[str] | None = None,
) -> dict[str, str]:
    """The TLS secrets (stack/configs/elasticsearch_tls.py keys, without the namespace) to set
    so the stored ones serve `names` (Elasticsearch's) and `kibana_names` (Kibana's, when
    given): {} when they already do; never a new CA when one is stored."""
    updates: dict[str, str] = {}
    ca_certificate, ca_key = present.get(CA_CERTIFICATE_SECRET), present.get(CA_KEY_SECRET)
    if not (ca_certificate and ca_key):
        ca_certificate, ca_key = new_ca(now)
        updates[CA_CERTIFICATE_SECRET], updates[CA_KEY_SECRET] = ca_certificate, ca_key
    servers = [(CERTIFICATE_SECRET, KEY_SECRET, names)]
    if kibana_names is not None:
        servers.append((KIBANA_CERTIFICATE_SECRET, KIBANA_KEY_SECRET, kibana_names))
    new_ca_made = bool(updates)
    for certificate_key, key_key, server_names in servers:
        certificate, key = present.get(certificate_key), present.get(key_key)
        if (
            new_ca_made
            or not (certificate and key)
            or server_certificate_problem(certificate, key, ca_certificate, server_names, now)
        ):
            certificate, key = new_server_certificate(ca_certificate, ca_key, server_names, now)
            updates[certificate_key], updates[key_key] = certificate, key
    return updates
