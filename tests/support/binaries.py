"""Prometheus-project binaries the offline tests run, found under either name they install as."""

import shutil

from tests.conftest import missing


def packaged_binary(what: str, debian: str, upstream: str) -> str:
    """The path of `debian` or else `upstream` on PATH: Debian names the binary after its
    package (prometheus-alertmanager), upstream's tarball after the program (alertmanager).
    When neither is there the test skips, or fails where CI promises the tool."""
    for name in (debian, upstream):
        path = shutil.which(name)
        if path:
            return path
    missing(f"{what} is not installed (Debian: see scripts/provision.sh)")
