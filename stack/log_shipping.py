"""How a container's stdout reaches Logstash: Docker's gelf log driver, its transport and its
buffering. The one home of the `log_driver`/`log_opts` the app's replicas and Traefik get."""

from __future__ import annotations


def gelf_logging(gelf_address: str, tag: str) -> dict:
    """`log_driver`/`log_opts` that ship a container's stdout to Logstash's GELF input: the
    one place the app's and Traefik's lines get their transport and buffering."""
    return {
        "log_driver": "gelf",
        "log_opts": {
            "gelf-address": gelf_address,
            "tag": tag,
            # A full or restarting Logstash must not block the container's stdout.
            "mode": "non-blocking",
            "max-buffer-size": "4m",
        },
    }
