"""Elasticsearch's HTTPS on Swarm in the program (issue 22): the CA, certificate and key as the
Pulumi secrets they are, and the CA as a client's file; the facts (secret keys, paths, names,
settings) are stack/configs/elasticsearch_tls.py's."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from stack.configs.elasticsearch_tls import (
    CA_CERTIFICATE_SECRET,
    CERTIFICATE_SECRET,
    CLIENT_CA_FILE,
    KEY_SECRET,
    KIBANA_CERTIFICATE_FILE,
    KIBANA_CERTIFICATE_SECRET,
    KIBANA_KEY_FILE,
    KIBANA_KEY_SECRET,
    SERVER_CA_FILE,
    SERVER_CERTIFICATE_FILE,
    SERVER_KEY_FILE,
    server_settings,
)
from stack.containers import secret_upload

# What the program's modules take from here, with the facts re-exported for them.
__all__ = [
    "CA_CERTIFICATE_SECRET",
    "CERTIFICATE_SECRET",
    "CLIENT_CA_FILE",
    "KEY_SECRET",
    "KIBANA_CERTIFICATE_FILE",
    "KIBANA_CERTIFICATE_SECRET",
    "KIBANA_KEY_FILE",
    "KIBANA_KEY_SECRET",
    "SERVER_CA_FILE",
    "ElasticsearchTls",
    "ca_uploads",
    "server_settings",
]


@dataclass(frozen=True)
class ElasticsearchTls:
    """The PEM texts, as the Pulumi secrets they are."""

    ca_certificate: pulumi.Input[str]
    certificate: pulumi.Input[str]
    key: pulumi.Input[str]

    def server_files(self) -> dict[str, pulumi.Input[str]]:
        return {
            SERVER_CERTIFICATE_FILE: self.certificate,
            SERVER_KEY_FILE: self.key,
            SERVER_CA_FILE: self.ca_certificate,
        }


def ca_uploads(ca_certificate: pulumi.Input[str] | None, owner: str) -> list:
    """The CA as a single-host client's 0400 upload at CLIENT_CA_FILE, when there is one."""
    return [secret_upload(CLIENT_CA_FILE, ca_certificate, owner=owner)] if ca_certificate else []
