"""Where the declared Elasticsearch node binds its transport port (9300), by Elasticsearch's own
rules (issue 22): with transport TLS off, a peer on the transport port can claim any user, so
no other container may reach it.

Sources (elastic/elasticsearch; the stored snapshots are 8.x commits, the rules below unchanged
through 8.19):
- distribution/docker/src/docker/config/elasticsearch.yml: the image sets `network.host: 0.0.0.0`.
- distribution/docker/src/docker/bin/docker-entrypoint.sh: an environment variable named like a
  setting (`^[a-z0-9_]+\\.[a-z0-9_]+`) becomes `-E name=value` (docs/product-rules.md E1).
- server/.../transport/TransportSettings.java: `transport.bind_host` and `transport.publish_host`
  default to `transport.host`; server/.../transport/TcpTransport.java ProfileSettings: an
  empty transport bind host falls back to `network.bind_host`, which defaults to `network.host`
  (NetworkService.GLOBAL_NETWORK_BIND_HOST_SETTING); the publish host likewise.
- server/.../common/network/NetworkService.java resolveInternal: `_local_` is the loopback
  addresses (NetworkUtils.getLoopbackAddresses), `0.0.0.0` the wildcard (every interface).
- server/.../bootstrap/BootstrapChecks.java enforceLimits: the production bootstrap checks are
  enforced when the transport is bound or published on a non-loopback address, and never with
  `discovery.type: single-node`.
"""

from __future__ import annotations

import ipaddress
import re

from tests.stack.captured import containers
from tests.support.capture import capture

IMAGE_YAML = {"network.host": "0.0.0.0"}
SETTING_ENV = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+")
LOOPBACK = ("127.0.0.1", "::1")  # what `_local_` resolves to in a container with both


def node_settings(envs: list[str]) -> dict[str, str]:
    """The image's elasticsearch.yml overridden by the `-E` settings the entrypoint builds."""
    settings = dict(IMAGE_YAML)
    for entry in envs:
        name, _, value = entry.partition("=")
        if SETTING_ENV.match(name):
            settings[name] = value
    return settings


def first_of(settings: dict[str, str], *names: str) -> str | None:
    return next((settings[name] for name in names if settings.get(name)), None)


def resolve(host: str) -> list[str]:
    if host == "_local_":
        return list(LOOPBACK)
    if host.startswith("_") and host.endswith("_"):
        raise AssertionError(f"{host}: a special host this model does not know")
    return [host]


def transport_addresses(settings: dict[str, str]) -> tuple[list[str], list[str]]:
    """(bound, published) addresses of the transport."""
    bind = first_of(settings, "transport.bind_host", "transport.host")
    bind = bind or first_of(settings, "network.bind_host", "network.host")
    publish = first_of(settings, "transport.publish_host", "transport.host")
    publish = publish or first_of(settings, "network.publish_host", "network.host")
    return resolve(bind or "_local_"), resolve(publish or "_local_")


def enforce_bootstrap_checks(settings: dict[str, str]) -> bool:
    bound, published = transport_addresses(settings)
    loopback = all(ipaddress.ip_address(a).is_loopback for a in (*bound, *published))
    return not loopback and settings.get("discovery.type") != "single-node"


def declared_envs(config: dict) -> list[str]:
    return containers(capture(config))["lab-dev-elasticsearch"]["inputs"]["envs"]


def test_the_transport_is_bound_to_the_node_itself():
    settings = node_settings(declared_envs({}))
    assert settings["discovery.type"] == "single-node"
    assert settings["xpack.security.transport.ssl.enabled"] == "false"
    bound, published = transport_addresses(settings)
    assert all(ipaddress.ip_address(a).is_loopback for a in bound), bound
    assert all(ipaddress.ip_address(a).is_loopback for a in published), published
    # HTTP still listens for the lab network (Kibana, Logstash, the exporter): only the
    # transport moved.
    assert first_of(settings, "http.bind_host", "http.host", "network.host") == "0.0.0.0"


def test_the_model_sees_the_image_default_open_on_every_interface():
    """The same model without the lab's setting: the image binds 9300 on the wildcard."""
    bound, _ = transport_addresses(node_settings(["discovery.type=single-node"]))
    assert bound == ["0.0.0.0"]


def test_no_bootstrap_check_is_enforced_on_the_single_node():
    """Loopback transport and single-node discovery each turn enforcement off; the lab has
    both, so a host without vm.max_map_count=262144 still starts it (warnings only)."""
    settings = node_settings(declared_envs({}))
    assert not enforce_bootstrap_checks(settings)
    assert enforce_bootstrap_checks({"network.host": "0.0.0.0"})
