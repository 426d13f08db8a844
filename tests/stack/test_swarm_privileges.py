"""What stands in for `no-new-privileges` on Swarm (issue 22, item 5): pulumi-docker 5.2's Swarm
service spec has no field for it, so the README must not claim it there, and every declared
service drops every capability (an empty bounding set: a setuid binary gains none) and runs as
its hardening row's user."""

from __future__ import annotations

import inspect

import pulumi_docker as docker

from lab.support import REPO_ROOT
from stack.hardening import HARDENING
from tests.stack.test_swarm import services


def test_the_service_spec_cannot_declare_no_new_privileges():
    """The installed SDK (pulumi-docker 5.2.0, terraform-provider-docker v4 service schema):
    the container spec's fields, and `privileges` holds only credential_spec and SELinux."""
    spec = set(inspect.signature(docker.ServiceTaskSpecContainerSpecArgs).parameters)
    assert not {name for name in spec if "security" in name or "new_priv" in name}, spec
    privileges = set(
        inspect.signature(docker.ServiceTaskSpecContainerSpecPrivilegesArgs).parameters
    )
    assert privileges == {"credential_spec", "se_linux_context"}, privileges
    assert "cap_drops" in spec


def test_the_security_docs_say_so_and_what_stands_in():
    """The README's security facts live in docs/security.md (the README links it)."""
    assert "docs/security.md" in (REPO_ROOT / "README.md").read_text()
    docs = (REPO_ROOT / "docs" / "security.md").read_text()
    security = " ".join(docs[docs.index("### Swarm: what stands in") :].split())
    assert "cannot declare `no-new-privileges`" in security
    assert "drops every capability" in security
    claim = " ".join(docs[: docs.index("### Swarm: what stands in")].split())
    assert "runs with `no-new-privileges` (on one host" in claim


def test_every_swarm_service_drops_every_capability_as_its_rows_user():
    users = {row.user for row in HARDENING.values() if row.user}
    for name, inputs in services().items():
        spec = inputs["taskSpec"]["containerSpec"]
        assert spec.get("capDrops") == ["ALL"], name
        # A row's user, or (no user set) the image's own non-root user (hardening.py).
        assert spec.get("user") in users | {None}, name
        assert spec.get("user") not in ("0", "root", "0:0"), name
