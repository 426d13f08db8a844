"""The hardening of each part, one decision per row, with the reason for every exception.

tests/stack/test_hardening.py checks every declared container against this table, so a part
that loosens (or tightens) its container without changing its row here fails a test. Every
container also gets `no-new-privileges`, `privileged: false`, all capabilities dropped and a
memory limit from containers.container_defaults(). A pids limit cannot be declared: the
pulumi-docker 5.2 Container has no `pids_limit` (docs/product-rules.md D8).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple


class Hardening(NamedTuple):
    user: str | None  # uid:gid the program sets; None keeps the image's own non-root user
    read_only: bool  # a read-only root file system
    tmpfs: Mapping[str, str]  # writable in-memory paths a read-only part still needs
    cap_add: tuple[str, ...]  # capabilities added back after dropping ALL
    why: str  # the reason for the user and for any writable root file system


_TMP = MappingProxyType({"/tmp": "rw,noexec,nosuid,size=16m"})
_NONE: Mapping[str, str] = MappingProxyType({})

HARDENING: Mapping[str, Hardening] = MappingProxyType(
    {
        "function": Hardening(
            "10001:10001", True, _TMP, (), "the lab's own image: writes nothing but /tmp"
        ),
        "traefik": Hardening(
            "65534:65534",
            False,
            _NONE,
            (),
            "nobody (ports above 1024, so no NET_BIND_SERVICE); root fs still writable:"
            " read-only not yet proven with the live suite",
        ),
        "prometheus": Hardening(
            "65534:65534",
            False,
            _NONE,
            (),
            "the image's own user; writes only its data volume, read-only root not yet proven",
        ),
        "alertmanager": Hardening(
            "65534:65534", False, _NONE, (), "nobody, as upstream; read-only not yet proven"
        ),
        "blackbox": Hardening(
            "65534:65534", False, _NONE, (), "nobody, as upstream; read-only not yet proven"
        ),
        "node_exporter": Hardening(
            "65534:65534", False, _NONE, (), "nobody, as upstream; read-only not yet proven"
        ),
        "grafana": Hardening(
            None,
            False,
            _NONE,
            (),
            "the image runs as uid 472 (Grafana's Dockerfile); it writes its database and"
            " plugins under /var/lib/grafana, kept in the container on purpose (stateless)",
        ),
        "elasticsearch": Hardening(
            None,
            False,
            _NONE,
            (),
            "the image runs as uid 1000; its entrypoint writes the keystore and config"
            " under /usr/share/elasticsearch/config at start, and the JVM writes temp files",
        ),
        "logstash": Hardening(
            None,
            False,
            _NONE,
            (),
            "the image runs as uid 1000; env2yaml may rewrite logstash.yml and the queue and"
            " dead-letter paths live under /usr/share/logstash/data (product-rules L9)",
        ),
        "kibana": Hardening(
            None,
            False,
            _NONE,
            (),
            "the image runs as uid 1000; Kibana writes its uuid and other state under"
            " /usr/share/kibana/data",
        ),
    }
)
