"""Logstash's container health check: healthy only once the pipeline runs and GELF listens.

`GET /` on the monitoring API answers 200 as soon as the API starts, before any pipeline is
loaded. Logstash 8.19's `GET /_health_report` carries each pipeline's state (elastic/logstash
logstash-core/src/main/java/org/logstash/health/PipelineIndicator.java: UNKNOWN, LOADING,
RUNNING, FINISHED, TERMINATED, serialised as `"state":"RUNNING"`), still with HTTP 200 whatever
the state, so the check reads the body. The GELF input opens its TCP server in its own thread
after the pipeline reports RUNNING (logstash-input-gelf v3.3.2 gelf.rb `tcp_listener`), so the
check also looks for the listening port in the kernel's socket table. The API asks a login
(stack/configs/logstash_api.py): curl reads it from a 0400 config file (`-K`), so neither the
command line nor the environment holds the password.
"""

from __future__ import annotations

from stack.configs import logstash_api
from stack.settings import LOGSTASH_API_PORT, LOGSTASH_GELF_PORT

HEALTH_REPORT_PATH = "/_health_report"
RUNNING = '"state":"RUNNING"'


# /proc/net/tcp's `st` column: 0A is TCP_LISTEN (include/net/tcp_states.h).
TCP_LISTEN = "0A"


def tcp_listening(port: int) -> str:
    """A shell test: a socket listens on `port` in /proc/net/tcp or tcp6 (hex, upper case):
    `local_address rem_address st`, e.g. `00000000:2FB9 00000000:0000 0A`."""
    return f"grep -qsE ':{port:04X} [0-9A-F]+:0000 {TCP_LISTEN} ' /proc/net/tcp /proc/net/tcp6"


def script(
    *,
    api_url: str = f"http://localhost:{LOGSTASH_API_PORT}",
    gelf_port: int = LOGSTASH_GELF_PORT,
    curl_config: str = logstash_api.CURL_CONFIG_FILE,
) -> str:
    """The shell line: every pipeline state in the report is RUNNING (and there is one), and
    the GELF port listens. A pipeline LOADING or TERMINATED fails it."""
    report = f"curl -fsS -K {curl_config} {api_url}{HEALTH_REPORT_PATH}"
    return (
        f"r=$({report}) && echo \"$r\" | grep -q '{RUNNING}' "
        f'&& ! echo "$r" | grep -o \'"state":"[A-Z]*"\' | grep -vq \'{RUNNING}\' '
        f"&& {tcp_listening(gelf_port)}"
    )


def command() -> list[str]:
    """The health check's command, for `healthcheck(...)` in stack/containers.py."""
    return ["sh", "-c", script()]
