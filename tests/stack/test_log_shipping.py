"""stack/log_shipping.py: the gelf driver's options for a TCP and a UDP address."""

from __future__ import annotations

from stack import log_shipping


def test_a_tcp_address_gets_non_blocking_buffering_and_reconnects():
    address = log_shipping.gelf_address("127.0.0.1", 12201)
    assert address == "tcp://127.0.0.1:12201"
    logging = log_shipping.gelf_logging(address, "{{.Name}}/fibonacci")
    assert logging["log_driver"] == "gelf"
    options = logging["log_opts"]
    assert options["gelf-address"] == address
    assert options["tag"] == "{{.Name}}/fibonacci"
    # Blocking mode would stall the app's stdout (and its answers) while Logstash stalls.
    assert options["mode"] == "non-blocking"
    assert options["max-buffer-size"] == log_shipping.MAX_BUFFER_SIZE
    assert int(options["gelf-tcp-max-reconnect"]) >= 1
    assert int(options["gelf-tcp-reconnect-delay"]) >= 1
    assert all(isinstance(value, str) for value in options.values())


def test_a_udp_address_gets_no_tcp_option():
    """Docker refuses gelf-tcp-* with a udp:// address (tests/rules/test_gelf_delivery.py)."""
    options = log_shipping.gelf_logging("udp://127.0.0.1:12201", "t")["log_opts"]
    assert not [key for key in options if key.startswith("gelf-tcp-")]
    assert options["mode"] == "non-blocking"
