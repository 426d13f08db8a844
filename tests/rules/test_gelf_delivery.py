"""Docker's gelf log driver and Logstash's gelf input, dead-letter queue and output action: the
rules the log path's options must follow, each from the product's source at the pinned version.

Docker: moby/moby v20.10.24 (the engine here) to v28.5.2, unchanged in these files:
daemon/logger/gelf/gelf.go (ValidateLogOpt, parseAddress, newGELFTCPWriter),
daemon/logger/factory.go (ValidateLogOpts: mode, max-buffer-size), vendored
github.com/Graylog2/go-gelf gelf/tcpwriter.go. Logstash v8.19.4 with its bundled plugins
(Gemfile.jruby-3.1.lock.release: logstash-input-gelf 3.3.2, logstash-output-elasticsearch
11.22.13).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import yaml

from stack import log_shipping
from stack.configs import logstash_conf
from stack.settings import LOGSTASH_GELF_PORT

# gelf.go ValidateLogOpt: every key the driver accepts, and the scheme each one needs.
GELF_KEYS = {
    "gelf-address": None,
    "tag": None,
    "labels": None,
    "labels-regex": None,
    "env": None,
    "env-regex": None,
    "gelf-compression-level": "udp",
    "gelf-compression-type": "udp",
    "gelf-tcp-max-reconnect": "tcp",
    "gelf-tcp-reconnect-delay": "tcp",
}
# factory.go: options every driver takes, handled before the driver's own validator.
GENERIC_KEYS = {"mode", "max-buffer-size"}
# docker/go-units size.go RAMInBytes: binary units, optional i/b suffixes.
RAM_SIZE = re.compile(r"^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")


def docker_refusal(options: dict[str, str]) -> str | None:
    """What dockerd answers to these log opts (None: accepted), as the files above decide."""
    if options.get("mode", "blocking") not in ("blocking", "non-blocking"):
        return "logging mode not supported"
    if "max-buffer-size" in options:
        if options.get("mode") != "non-blocking":
            return "max-buffer-size option is only supported with 'mode=non-blocking'"
        if not RAM_SIZE.match(options["max-buffer-size"]):
            return "error parsing option max-buffer-size"
    address = urlsplit(options.get("gelf-address", ""))
    if address.scheme not in ("udp", "tcp") or address.port is None:
        return "gelf: please provide gelf-address as proto://host:port"
    for key, value in options.items():
        if key in GENERIC_KEYS:
            continue
        if key not in GELF_KEYS:
            return f"unknown log opt {key!r} for gelf log driver"
        scheme = GELF_KEYS[key]
        if scheme and scheme != address.scheme:
            return f"{key!r} is only valid for {scheme.upper()}"
        if key.startswith("gelf-tcp-") and not (value.isdigit()):
            return f"{key!r} must be a positive integer"
    return None


@pytest.mark.parametrize("scheme", ["tcp", "udp"])
def test_dockerd_accepts_the_declared_log_options(scheme):
    options = log_shipping.gelf_logging(f"{scheme}://127.0.0.1:12201", "{{.Name}}/x")["log_opts"]
    assert docker_refusal(options) is None, options


def test_the_validator_above_refuses_what_dockerd_refuses():
    """Proves docker_refusal can fail: TCP reconnects on UDP, a buffer in blocking mode."""
    tcp = log_shipping.gelf_logging("tcp://127.0.0.1:12201", "t")["log_opts"]
    assert docker_refusal({**tcp, "gelf-address": "udp://127.0.0.1:12201"})
    assert docker_refusal({**tcp, "mode": "blocking"})
    assert docker_refusal({**tcp, "gelf-tcp-max-reconnect": "-1"})
    assert docker_refusal({**tcp, "gelf-address": "127.0.0.1:12201"})


def test_the_address_is_tcp_on_the_inputs_port():
    """gelf.go parseAddress (proto://host:port) and newGELFTCPWriter (go-gelf NewTCPWriter);
    logstash-input-gelf v3.3.2 gelf.rb register: `@port_tcp ||= @port`."""
    address = urlsplit(log_shipping.gelf_address("127.0.0.1", LOGSTASH_GELF_PORT))
    assert address.scheme == log_shipping.GELF_SCHEME == "tcp"
    pipeline = logstash_conf.pipeline(elasticsearch_url="http://elasticsearch:9200")
    assert f"port => {address.port}" in pipeline
    assert "port_tcp =>" not in pipeline  # else it, not `port`, is what listens


def test_the_input_listens_on_tcp_and_not_udp():
    """gelf.rb: `use_tcp` defaults to false and `use_udp` to true, so both are written; the TCP
    listener splits on NUL (`client.gets("\\u0000")`), the framing go-gelf's tcpwriter.go
    WriteMessage gives each message (`append(messageBytes, 0)`)."""
    pipeline = logstash_conf.pipeline(elasticsearch_url="http://elasticsearch:9200")
    assert "use_tcp => true" in pipeline
    assert "use_udp => false" in pipeline


def test_dead_letter_queue_settings_exist_in_logstash():
    """logstash-core/lib/logstash/environment.rb v8.19.4 l.102-106, 123: dead_letter_queue.enable
    (default false), .max_bytes (Bytes), .storage_policy (drop_newer|drop_older),
    path.dead_letter_queue (a writable directory); l.66 config.debug (Boolean)."""
    settings = yaml.safe_load(logstash_conf.settings(api_password="Password123$"))
    known = {
        "dead_letter_queue.enable",
        "dead_letter_queue.max_bytes",
        "dead_letter_queue.storage_policy",
        "dead_letter_queue.flush_interval",
        "dead_letter_queue.retain.age",
        "path.dead_letter_queue",
    }
    dlq = {key for key in settings if "dead_letter_queue" in key}
    assert dlq <= known, dlq - known
    assert settings["dead_letter_queue.enable"] is True
    assert settings["dead_letter_queue.storage_policy"] in ("drop_newer", "drop_older")
    assert re.fullmatch(r"\d+(b|kb|mb|gb)", settings["dead_letter_queue.max_bytes"])


def test_the_output_creates_as_the_writer_role_allows():
    """logstash-output-elasticsearch v11.22.13 lib/logstash/outputs/elasticsearch.rb:
    VALID_HTTP_ACTIONS = index, delete, create, update, default `index`; `user` string and
    `password` password (plugin_mixins/elasticsearch/api_configs.rb l.14-16). A create_doc
    role refuses op_type=index with 403, which common.rb retries forever (not a DLQ code)."""
    pipeline = logstash_conf.pipeline(
        elasticsearch_url="http://elasticsearch:9200", writer=("lab_logstash_writer", "pw-1")
    )
    (action,) = re.findall(r'action => "([a-z]+)"', pipeline)
    assert action in {"index", "delete", "create", "update"}
    assert action == "create"


@pytest.mark.parametrize("alerts", [False, True])
def test_nothing_but_braces_follows_the_password(alerts):
    """logstash-core/lib/logstash/compiler.rb v8.19.4 l.32 raises `grammar.failure_reason`,
    treetop's "Expected ... at line L, column C (byte B) after <the input up to the error>": a
    syntax error placed after a password would print it in Logstash's log. The alerts pipeline
    holds two (the writer's, then the HTTP input's, whose section comes last)."""
    password, last = "pw-not-in-logs", "webhook-pw-last"
    url = "http://elasticsearch:9200"
    writer = ("lab_logstash_writer", password)
    if alerts:
        pipeline = logstash_conf.alerts_pipeline(
            elasticsearch_url=url, writer=writer, webhook=("lab_alertmanager", last)
        )
    else:
        pipeline, last = logstash_conf.pipeline(elasticsearch_url=url, writer=writer), password
    after = pipeline[pipeline.rindex(last) + len(last) + 1 :]
    assert set(after) <= set("} \n"), after
    assert pipeline.count(password) == 1
    assert pipeline.count(last) == 1


def test_the_secret_sits_only_in_the_masked_password_option():
    """logstash-output-elasticsearch v11.22.13 plugin_mixins/elasticsearch/api_configs.rb l.16
    (`password` validates as :password) and logstash-core v8.19.4
    co/elastic/logstash/api/Password.java (toString "<password>"), which config/mixin.rb l.168
    prints when it logs each option at debug: the value shows only as <password>."""
    password = "pw-only-here"
    pipeline = logstash_conf.pipeline(
        elasticsearch_url="http://elasticsearch:9200", writer=("lab_logstash_writer", password)
    )
    (line,) = [line for line in pipeline.splitlines() if password in line]
    assert line.strip() == f'password => "{password}"'
