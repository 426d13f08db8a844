"""A stand-in for Logstash's GELF input that counts what Docker's gelf driver delivers, and can
stop reading for a while, as a stalled Logstash would.

TCP: NUL-terminated JSON messages (how go-gelf's tcpwriter.go frames them, and how
logstash-input-gelf's TCP listener reads them). UDP: one datagram per message, gzip, zlib or
plain (the driver's `gelf-compression-type`); chunked messages (over ~8 KB) are counted as lost,
since the lines measured here are far smaller. While paused, nothing is read: a TCP sender is
held back by the kernel's flow control, UDP datagrams pile up in the socket's receive buffer and
the kernel drops the rest, as it does for Logstash. Standard library only.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable

CHUNKED_MAGIC = b"\x1e\x0f"


def decode_datagram(data: bytes) -> dict | None:
    """One UDP datagram's GELF message, or None (chunked or not GELF)."""
    if data[:2] == CHUNKED_MAGIC:
        return None
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif data[:1] == b"\x78":
        data = zlib.decompress(data)
    try:
        return json.loads(data)
    except ValueError:
        return None


class GelfReceiver:
    """Listens on 127.0.0.1 (`transport` "tcp" or "udp") and counts the messages for which
    `counts(message)` is true; `hold()` stops reading until `release()`."""

    def __init__(
        self, transport: str, counts: Callable[[dict], bool] = lambda _m: True, port: int = 0
    ) -> None:
        self.transport = transport
        self._counts = counts
        self.received = 0
        self.last_received = time.monotonic()
        self._lock = threading.Lock()
        self._resume = threading.Event()
        self._resume.set()
        self._stopping = False
        kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
        self._socket = socket.socket(socket.AF_INET, kind)
        # `port`: a receiver back on the port of one that stopped, as a restarted Logstash.
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self.port = self._socket.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._connections: list[socket.socket] = []
        if transport == "tcp":
            self._socket.listen()
            self._spawn(self._accept)
        else:
            self._socket.settimeout(0.2)
            self._spawn(self._read_datagrams)

    @property
    def address(self) -> str:
        return f"{self.transport}://127.0.0.1:{self.port}"

    def hold(self) -> None:
        """Stop reading until `release()`."""
        self._resume.clear()

    def release(self) -> None:
        with self._lock:
            self.last_received = time.monotonic()  # quiet is counted from here, not the hold
        self._resume.set()

    def wait_quiet(self, *, expected: int, quiet: float = 2.0, timeout: float = 30.0) -> int:
        """The count once `expected` arrived or nothing new came for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.received >= expected:
                    break
                if self._resume.is_set() and time.monotonic() - self.last_received > quiet:
                    break
            time.sleep(0.1)
        return self.received

    def close(self) -> None:
        self._stopping = True
        self._resume.set()
        for sock in [self._socket, *self._connections]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> GelfReceiver:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _count(self, message: dict | None) -> None:
        with self._lock:
            self.last_received = time.monotonic()
            if message is not None and self._counts(message):
                self.received += 1

    def _accept(self) -> None:
        while not self._stopping:
            try:
                connection, _peer = self._socket.accept()
            except OSError:
                return
            self._connections.append(connection)
            self._spawn(self._read_stream, connection)

    def _read_stream(self, connection: socket.socket) -> None:
        pending = b""
        while not self._stopping:
            self._resume.wait()
            try:
                data = connection.recv(65536)
            except OSError:
                return
            if not data:
                return
            *messages, pending = (pending + data).split(b"\0")
            for raw in messages:
                try:
                    self._count(json.loads(raw))
                except ValueError:
                    self._count(None)

    def _read_datagrams(self) -> None:
        while not self._stopping:
            self._resume.wait()
            try:
                data, _peer = self._socket.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self._count(decode_datagram(data))
