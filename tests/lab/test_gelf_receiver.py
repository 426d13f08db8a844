"""lab/gelf_receiver.py: what it counts, over TCP and UDP, and that holding it stops reading."""

from __future__ import annotations

import gzip
import json
import socket
import zlib

import pytest

from lab.gelf_receiver import GelfReceiver, decode_datagram


def message(text: str) -> bytes:
    return json.dumps({"version": "1.1", "host": "h", "short_message": text}).encode()


def wanted(gelf: dict) -> bool:
    return gelf["short_message"].startswith("GET ")


def test_tcp_messages_split_on_nul_across_reads():
    with GelfReceiver("tcp", counts=wanted) as receiver:
        stream = b"".join(message(t) + b"\0" for t in ("GET /a", "GET /b", "start", "GET /c"))
        with socket.create_connection(("127.0.0.1", receiver.port)) as sender:
            for cut in range(0, len(stream), 7):  # frames cut anywhere
                sender.sendall(stream[cut : cut + 7])
        assert receiver.wait_quiet(expected=3, quiet=1.0, timeout=5) == 3


@pytest.mark.parametrize("compress", [gzip.compress, zlib.compress, lambda data: data])
def test_udp_datagrams_in_each_compression_docker_sends(compress):
    assert decode_datagram(compress(message("GET /x")))["short_message"] == "GET /x"
    with GelfReceiver("udp", counts=wanted) as receiver:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for text in ("GET /a", "other", "GET /b"):
                sender.sendto(compress(message(text)), ("127.0.0.1", receiver.port))
        assert receiver.wait_quiet(expected=2, quiet=1.0, timeout=5) == 2


def test_a_chunked_datagram_is_not_counted():
    assert decode_datagram(b"\x1e\x0f" + bytes(10) + message("GET /a")) is None


def test_nothing_is_read_while_held():
    with GelfReceiver("tcp", counts=wanted) as receiver:
        receiver.hold()
        with socket.create_connection(("127.0.0.1", receiver.port)) as sender:
            sender.sendall(message("GET /a") + b"\0")
            assert receiver.wait_quiet(expected=1, quiet=0.5, timeout=1.0) == 0
            receiver.release()
            assert receiver.wait_quiet(expected=1, quiet=1.0, timeout=5) == 1
