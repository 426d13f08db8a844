"""Black-box probes for `make local`: the exporter binary with the stack's rendered modules.

LocalLab runs it when installed, so the probe panels and the probe alert have data without
Docker, as in the stack (stack/configs/blackbox_yaml.py renders both).
"""

from __future__ import annotations

import shutil

from stack.configs import blackbox_yaml

# Debian names the binary after its package; upstream's release calls it blackbox_exporter.
BINARIES = ("prometheus-blackbox-exporter", "blackbox_exporter")
# The parts a local lab runs (no Grafana, no Elastic stack).
LOCAL_PARTS = ("traefik", "prometheus")


def exporter_path() -> str | None:
    return next(filter(None, map(shutil.which, BINARIES)), None)


def start(lab, port: int, part_urls: dict[str, str]) -> list[dict]:
    """Spawn the exporter as one of `lab`'s children (a LocalLab); its Prometheus jobs."""
    binary = exporter_path()
    if binary is None:
        return []
    config = lab.workdir / "blackbox.yml"
    config.write_text(blackbox_yaml.render(functions=lab.functions, parts=LOCAL_PARTS))
    lab._spawn(
        "blackbox", [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"]
    )
    return blackbox_yaml.scrape_jobs(
        exporter=f"127.0.0.1:{port}",
        api_url=lab.api_url,
        part_urls=part_urls,
        functions=lab.functions,
    )
