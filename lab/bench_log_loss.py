"""Log lines lost between a function replica and its GELF receiver while the receiver stalls.

One app container (the lab's image) logs through Docker's gelf driver with the options of
stack/log_shipping.py to a counting receiver (lab/gelf_receiver.py) on 127.0.0.1; the receiver
stops reading, a burst of calls goes to the replica, and the receiver reads again once the burst
is over and at least 3 s have passed; the lines that never arrive are the loss. Run for UDP
(the lab before issue 14) and TCP (now), by `make bench` and by tests/live/test_log_delivery.py,
which asserts the figures.

`python -m lab.bench_log_loss [--calls 5000] [--pause 3]` prints them; it needs a Docker daemon
on this machine (the driver dials 127.0.0.1 from the daemon) and the image
lab-standin/app:latest (scripts/build_images.sh).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from app.contract import APP_PORT
from lab import support
from lab.gelf_receiver import GelfReceiver
from stack.log_shipping import gelf_logging

APP_IMAGE = "lab-standin/app:latest"
FUNCTION = "fibonacci"
CALL_PREFIX = f"GET /{FUNCTION}/"
# Issue 14's measurement: a 5,000-call burst while the receiver pauses 3 s.
CALLS = 5000
PAUSE_SECONDS = 3.0
CLIENT_CONNECTIONS = 8
STATUS_200 = re.compile(rb"HTTP/1.1 200 ")
# The container's name and label: what the live tests' cleanup and other runs tell apart.
STACK = os.environ.get("LAB_HARNESS_STACK", "bench")


@dataclass(frozen=True)
class Delivery:
    """Of `calls` made, `answered` wrote a log line each; `received` lines reached the receiver."""

    calls: int
    answered: int
    received: int

    @property
    def lost(self) -> int:
        return self.answered - self.received


@dataclass(frozen=True)
class LossResult(Delivery):
    transport: str
    burst_seconds: float
    held_seconds: float

    def line(self) -> str:
        return (
            f"gelf over {self.transport}: {self.lost} of {self.answered} lines lost"
            f" ({self.calls} calls in {self.burst_seconds:.1f} s, receiver not reading for"
            f" {self.held_seconds:.1f} s)"
        )


def is_call_line(message: dict) -> bool:
    """One access line per call (app/access_log.py): its message is `GET /fibonacci/N/ 200`."""
    return CALL_PREFIX in str(message.get("short_message", ""))


def run_replica(client, image: str, log_options: dict, name: str):
    """The app container with these gelf options, published on a free loopback port."""
    return client.containers.run(
        image,
        name=name,
        detach=True,
        labels={"lab.stack": STACK, "lab.part": "log-loss-bench"},
        environment={"LAB_FUNCTION": FUNCTION},
        ports={f"{APP_PORT}/tcp": ("127.0.0.1", None)},
        mem_limit="128m",
        log_config={"type": log_options["log_driver"], "config": log_options["log_opts"]},
    )


def published_port(container) -> int:
    container.reload()
    return int(container.ports[f"{APP_PORT}/tcp"][0]["HostPort"])


def burst(port: int, calls: int, connections: int = CLIENT_CONNECTIONS) -> int:
    """`calls` GETs pipelined over `connections` keep-alive connections (a client this machine
    can drive faster than the replica answers); how many got 200."""
    answered = [0] * connections

    def worker(index: int) -> None:
        paths = [f"/{FUNCTION}/{call % 401}/" for call in range(index, calls, connections)]
        requests = "".join(f"GET {path} HTTP/1.1\r\nHost: lab\r\n\r\n" for path in paths)
        received = b""
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(requests.encode())
            while received.count(b"HTTP/1.1 ") < len(paths):
                data = sock.recv(65536)
                if not data:
                    break
                received += data
        answered[index] = len(STATUS_200.findall(received))

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return sum(answered)


def measure(
    client, transport: str, *, calls: int = CALLS, pause: float = PAUSE_SECONDS, image=APP_IMAGE
) -> LossResult:
    """Lines lost over `transport` ("udp" or "tcp") with a `pause`-second stall in a burst."""
    with GelfReceiver(transport, counts=is_call_line) as receiver:
        options = gelf_logging(receiver.address, "{{.Name}}/log-loss")
        name = f"{STACK}-log-loss-{transport}-{os.getpid()}"
        container = run_replica(client, image, options, name)
        try:
            port = published_port(container)
            support.wait_for_http(f"http://127.0.0.1:{port}/health", timeout=30)
            # Nothing is read during the whole burst and for at least `pause` seconds: on a
            # loaded machine the burst can outlast the pause, and every line must wait.
            receiver.hold()
            started = time.monotonic()
            answered = burst(port, calls)
            seconds = time.monotonic() - started
            time.sleep(max(0.0, pause - seconds))
            held = time.monotonic() - started
            receiver.release()
            received = receiver.wait_quiet(expected=answered, quiet=2.0, timeout=40)
        finally:
            container.remove(force=True)
    return LossResult(calls, answered, received, transport, seconds, held)


@dataclass(frozen=True)
class OutageResult(Delivery):
    """Lines written while the receiver was gone, and how many reached it once it was back."""

    seconds: float

    def line(self) -> str:
        return (
            f"gelf over tcp, receiver gone {self.seconds:g} s: {self.lost} of {self.answered}"
            f" lines lost, {self.answered} of {self.calls} calls answered meanwhile"
        )


def measure_outage(client, *, seconds: int = 5, rate: int = 50, image=APP_IMAGE) -> OutageResult:
    """A receiver that goes away (Logstash restarting) for `seconds` while the replica takes
    `rate` calls a second, then comes back on the same port: the lines of the outage wait in
    the ring buffer and the driver's reconnects deliver them (stack/log_shipping.py)."""
    first = GelfReceiver("tcp", counts=is_call_line)
    options = gelf_logging(first.address, "{{.Name}}/log-outage")
    container = run_replica(client, image, options, f"{STACK}-log-outage-{os.getpid()}")
    second = None
    try:
        port = published_port(container)
        support.wait_for_http(f"http://127.0.0.1:{port}/health", timeout=30)
        first.close()
        answered = 0
        for _second in range(seconds):
            answered += burst(port, rate)
            time.sleep(1)
        second = GelfReceiver("tcp", counts=is_call_line, port=first.port)
        received = second.wait_quiet(expected=answered, quiet=5.0, timeout=30)
    finally:
        container.remove(force=True)
        first.close()
        if second is not None:
            second.close()
    return OutageResult(seconds * rate, answered, received, seconds)


def start_error_without_receiver(client, transport: str, image: str = APP_IMAGE) -> str | None:
    """Docker's answer to starting a replica whose GELF receiver is down (None: it started)."""
    import docker

    address = f"{transport}://127.0.0.1:{support.free_port()}"
    name = f"{STACK}-log-down-{transport}-{os.getpid()}"
    options = gelf_logging(address, "{{.Name}}/log-down")
    try:
        run_replica(client, image, options, name)
    except docker.errors.APIError as error:
        return str(error.explanation or error)
    finally:
        for container in client.containers.list(all=True, filters={"name": f"^{name}$"}):
            container.remove(force=True)
    return None


def print_figures(calls: int = CALLS, pause: float = PAUSE_SECONDS) -> list[LossResult]:
    """Both figures, printed; nothing (and why) without Docker or the app image."""
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.images.get(APP_IMAGE)
    except Exception as exc:  # no daemon or no image: say so, the other benches still count
        print(f"log loss: not measured ({exc}; scripts/build_images.sh builds {APP_IMAGE})")
        return []
    results = [measure(client, t, calls=calls, pause=pause) for t in ("udp", "tcp")]
    for result in results:
        print(result.line())
    print(measure_outage(client).line())
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.bench_log_loss", description=__doc__)
    parser.add_argument("--calls", type=int, default=CALLS)
    parser.add_argument("--pause", type=float, default=PAUSE_SECONDS, help="seconds at least")
    args = parser.parse_args(argv)
    return 0 if print_figures(args.calls, args.pause) else 2


if __name__ == "__main__":
    sys.exit(main())
