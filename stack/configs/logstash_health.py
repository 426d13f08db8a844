"""Logstash's container health check: healthy only once the pipeline runs and GELF listens.

`GET /` on the monitoring API answers 200 as soon as the API starts, before any pipeline is
loaded. Logstash 8.19's `GET /_health_report` carries each pipeline's state (elastic/logstash
logstash-core/src/main/java/org/logstash/health/PipelineIndicator.java: UNKNOWN, LOADING,
RUNNING, FINISHED, TERMINATED, serialised as `"state":"RUNNING"`), still with HTTP 200 whatever
the state, so the check reads the body. The GELF input binds its UDP socket in its own thread
after the pipeline reports RUNNING, so the check also looks for the bound port in the kernel's
socket table.
"""

from __future__ import annotations

from stack.settings import LOGSTASH_API_PORT, LOGSTASH_GELF_PORT

HEALTH_REPORT_PATH = "/_health_report"
RUNNING = '"state":"RUNNING"'


def udp_listening(port: int) -> str:
    """A shell test: some socket is bound to `port` in /proc/net/udp or udp6 (hex, upper case)."""
    return f"grep -qs ':{port:04X} ' /proc/net/udp /proc/net/udp6"


def script(
    *,
    api_url: str = f"http://localhost:{LOGSTASH_API_PORT}",
    gelf_port: int = LOGSTASH_GELF_PORT,
) -> str:
    """The shell line: every pipeline state in the report is RUNNING (and there is one), and
    the GELF port is bound. A pipeline LOADING or TERMINATED fails it."""
    report = f"curl -fsS {api_url}{HEALTH_REPORT_PATH}"
    return (
        f"r=$({report}) && echo \"$r\" | grep -q '{RUNNING}' "
        f'&& ! echo "$r" | grep -o \'"state":"[A-Z]*"\' | grep -vq \'{RUNNING}\' '
        f"&& {udp_listening(gelf_port)}"
    )


def command() -> list[str]:
    """The health check's command, for `healthcheck(...)` in stack/containers.py."""
    return ["sh", "-c", script()]
