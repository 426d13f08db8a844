"""How a container's stdout reaches Logstash: Docker's gelf log driver, its transport and its
buffering. The one home of the `log_driver`/`log_opts` the app's replicas and Traefik get.

GELF over TCP, not UDP: a paused or busy receiver holds a TCP sender back instead of dropping
datagrams (issue 14 measured 4,824 of 5,000 lines lost over UDP during a 3 s pause; the live
test tests/live/test_log_delivery.py and `make bench` measure both). The driver frames each
message with a trailing NUL (go-gelf tcpwriter.go), which Logstash's gelf input reads with
`gets("\\u0000")` (logstash-input-gelf v3.3.2 gelf.rb).

What Docker does with it (moby daemon/logger/gelf/gelf.go and the vendored go-gelf, unchanged
from 20.10 to 28.5): the driver dials Logstash when the container starts, so with nothing
listening the container does not start ("gelf: cannot connect to GELF endpoint"); afterwards a
failed write is retried on a new connection `gelf-tcp-max-reconnect` times, sleeping
`gelf-tcp-reconnect-delay` seconds before each, then that line is dropped. `mode: non-blocking`
puts a ring buffer (daemon/logger/ring.go, `max-buffer-size` bytes of line text) between the
container's stdout and that writer, so a stalled Logstash fills the buffer and then drops new
lines instead of blocking the app's writes: the app keeps answering.

So over TCP a replica needs Logstash's port open to start: at `make up` it starts after Logstash
is healthy, and while Logstash's container runs Docker's userland proxy holds the published port
and accepts the dial even before the input listens. A replica that crashes while Logstash's
container is stopped is restarted once, fails to start and stays exited (moby
daemon/monitor.go handleContainerExit: a failed restart is not retried; seen on the engine
here with SIGKILL: "failed to initialize logging driver", exited). tests/live/
test_log_delivery.py shows the start cases.
"""

from __future__ import annotations

from urllib.parse import urlsplit

GELF_SCHEME = "tcp"
# Line text the ring buffer holds while Logstash stalls or restarts: ~9,000 of the app's ECS
# lines (~450 bytes). Measured with lab/bench_log_loss.py (5,000 calls while the receiver reads
# nothing for 3 s): 1k lost 2,360 lines, 64k lost 590, 512k and 4m lost none (the loopback
# socket buffers hold ~2,600 lines on top of the ring), so 4m keeps an 8x margin.
MAX_BUFFER_SIZE = "4m"
# Each line that cannot be written is retried on a new connection 3 times, 1 s apart, then
# dropped, while the lines behind it wait in the ring. Measured: Logstash gone for 10 s under
# 100 calls/s lost 3 of 1,500 lines with 3 x 1 s (10 x 1 s: 2; 3 x 0 s: 1,000), and a
# container stopping while Logstash is down waits ~4 s more for its ring (10 x 1 s: ~12 s).
TCP_MAX_RECONNECT = 3
TCP_RECONNECT_DELAY_SECONDS = 1


def gelf_address(host: str, port: int) -> str:
    """The `gelf-address` the driver dials, as seen from the Docker daemon: `tcp://host:port`."""
    return f"{GELF_SCHEME}://{host}:{port}"


def gelf_logging(gelf_address: str, tag: str) -> dict:
    """`log_driver`/`log_opts` that ship a container's stdout to Logstash's GELF input: the
    one place the app's and Traefik's lines get their transport and buffering.

    The reconnect options exist for TCP only: Docker refuses them with a `udp://` address
    (gelf.go ValidateLogOpt), so they are added only for a `tcp://` one."""
    options = {
        "gelf-address": gelf_address,
        "tag": tag,
        # A full, paused or restarting Logstash must not block the container's stdout.
        "mode": "non-blocking",
        "max-buffer-size": MAX_BUFFER_SIZE,
    }
    if urlsplit(gelf_address).scheme == "tcp":
        options["gelf-tcp-max-reconnect"] = str(TCP_MAX_RECONNECT)
        options["gelf-tcp-reconnect-delay"] = str(TCP_RECONNECT_DELAY_SECONDS)
    return {"log_driver": "gelf", "log_opts": options}
