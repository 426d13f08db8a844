"""The hardening of each part, one decision per row, with the reason for every exception.

stack/containers.part_container() applies a part's row to its container, and
tests/stack/test_hardening.py checks every declared container against it. Every container also
gets `no-new-privileges`, `privileged: false`, all capabilities dropped (none is added back
today) and a memory limit. A pids limit cannot be declared: the pulumi-docker 5.2 Container
has no `pids_limit` (docs/product-rules.md D8).

A read-only root file system is on wherever the part allows it. A part configured by the
provider's `uploads` cannot have one: the provider copies files into the created container
before it starts, and Docker refuses any copy into a read-only root ("container rootfs is
marked read-only"; tests/live/test_read_only_root.py shows it on the engine).

On Swarm nothing is uploaded: configs and secrets are mounts (stack/swarm_objects.py), so a part
that is writable on one host only for its uploads gets a read-only root there (`swarm_read_only`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from app.contract import APP_USER


class Hardening(NamedTuple):
    user: str | None  # uid:gid the program sets; None keeps the image's own non-root user
    read_only: bool  # a read-only root file system
    tmpfs: Mapping[str, str]  # writable in-memory paths a read-only part still needs
    cap_add: tuple[str, ...]  # capabilities added back after dropping ALL
    why: str  # the reason for the user and for any writable root file system
    # A read-only root on Swarm, where nothing is uploaded; None: as on one host.
    swarm: bool | None = None

    @property
    def swarm_read_only(self) -> bool:
        return self.read_only if self.swarm is None else self.swarm


_UPLOADS = (
    "configured by uploads, which Docker cannot copy into a read-only root (on Swarm,"
    " mounts: read-only there)"
)
_TMP = MappingProxyType({"/tmp": "rw,noexec,nosuid,size=16m"})
_NONE: Mapping[str, str] = MappingProxyType({})

HARDENING: Mapping[str, Hardening] = MappingProxyType(
    {
        "function": Hardening(
            APP_USER, True, _TMP, (), "the lab's own image: writes nothing but /tmp"
        ),
        "traefik": Hardening(
            "65534:65534",
            False,
            _NONE,
            (),
            f"nobody: ports above 1024 need no NET_BIND_SERVICE; {_UPLOADS}",
            swarm=True,
        ),
        "prometheus": Hardening(
            "65534:65534", False, _NONE, (), f"nobody, as upstream's image; {_UPLOADS}", True
        ),
        "alertmanager": Hardening(
            "65534:65534", False, _NONE, (), f"nobody, as upstream's image; {_UPLOADS}", True
        ),
        "blackbox": Hardening(
            "65534:65534",
            False,
            _NONE,
            (),
            f"nobody: upstream runs it as root, HTTP probes need no privilege; {_UPLOADS}",
            swarm=True,
        ),
        "node_exporter": Hardening(
            "65534:65534",
            True,
            _NONE,
            (),
            "nobody, as upstream; reads the host's /proc, /sys and / through read-only binds"
            " and writes nothing",
        ),
        "elasticsearch_exporter": Hardening(
            "65534:65534",
            False,
            _NONE,
            (),
            "nobody, as upstream; its password arrives as an uploaded file, which Docker cannot"
            " copy into a read-only root (on Swarm, a secret mount: read-only there, as"
            " upstream's chart runs it, readOnlyRootFilesystem: true)",
            swarm=True,
        ),
        # A user's own service (lab:services): the replicas' row, unless `readOnly: false`.
        "service": Hardening(
            APP_USER, True, _TMP, (), "a user's service, hardened like a function replica"
        ),
        "service_writable": Hardening(
            APP_USER,
            False,
            _NONE,
            (),
            "a user's service whose entry says `readOnly: false` (its image writes outside /tmp)",
        ),
        "logstash_exporter": Hardening(
            APP_USER,
            False,
            _NONE,
            (),
            "the lab's own image; its password (Logstash's API login) arrives as an uploaded file,"
            " which Docker cannot copy into a read-only root (on Swarm, a secret mount:"
            " read-only there, as the replicas of the same image)",
            swarm=True,
        ),
        "grafana": Hardening(
            None,
            False,
            _NONE,
            (),
            "the image runs as uid 472 (Grafana's Dockerfile); it writes its database and"
            " plugins on its data volume at /var/lib/grafana, and is configured by uploads",
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
            "the image runs as uid 1000; configured by uploads (logstash.yml, the pipelines),"
            " and the queue and dead-letter paths live under /usr/share/logstash/data"
            " (product-rules L9)",
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
