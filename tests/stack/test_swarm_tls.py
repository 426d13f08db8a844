"""Elasticsearch's and Kibana's HTTPS on Swarm, as the program declares it (under mocks, issue
22): the node serves TLS with the certificate from the stack's secrets, every client dials an
https URL and trusts the lab's CA, given to it as a 0400 secret file, and each name a client
dials is one the certificate carries (checked with cryptography's RFC 5280 verifier). The
single-host lab keeps plain HTTP. Real clients against real TLS: test_swarm_tls_clients.py."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.support.capture import capture
from tests.support.swarm_tls import (
    CA,
    CERTIFICATE,
    CONTAINER,
    ELASTIC_UID,
    KEY,
    KIBANA_CERTIFICATE,
    KIBANA_KEY,
    NOBODY,
    STATE_HOST,
    ca_secret,
    config_files,
    secret_files,
    service,
    swarm,
    verifies,
)


def test_elasticsearch_serves_https_with_the_stacks_certificate():
    """Settings from Elasticsearch 8.19's security settings reference (HTTP TLS/SSL settings:
    xpack.security.http.ssl.enabled, .key, .certificate, .certificate_authorities); the PEM
    files must sit under the config directory (libs/ssl-config SslFileUtil.java)."""
    env = service("elasticsearch")["env"]
    assert env["xpack.security.http.ssl.enabled"] == "true"
    files = secret_files("elasticsearch")
    for setting, pem in (("key", KEY), ("certificate", CERTIFICATE)):
        path = env[f"xpack.security.http.ssl.{setting}"]
        assert path.startswith("/usr/share/elasticsearch/config/"), (setting, path)
        assert files[path][0] == pem, setting
        assert files[path][1]["fileMode"] == 0o400, setting
    ca_secret("elasticsearch", env["xpack.security.http.ssl.certificate_authorities"], ELASTIC_UID)


def test_the_health_check_verifies_the_node_over_https():
    command = service("elasticsearch")["healthcheck"]["tests"]
    url = next(arg for arg in command if "://" in arg)
    assert url.startswith("https://localhost:9200/"), command
    ca = command[command.index("--cacert") + 1]  # curl's option for the CA bundle
    ca_secret("elasticsearch", ca, ELASTIC_UID)
    assert "-k" not in command
    assert "--insecure" not in command
    verifies(url)


def test_kibana_trusts_only_the_labs_ca():
    """kibana.yml keys from Kibana 8.19's settings reference: elasticsearch.hosts,
    elasticsearch.ssl.certificateAuthorities, elasticsearch.ssl.verificationMode (default full)."""
    path = "/usr/share/kibana/config/kibana.yml"
    settings = yaml.safe_load(secret_files("kibana")[path][0])
    for host in settings["elasticsearch.hosts"]:
        assert host.startswith("https://"), host
        verifies(host)
    assert settings.get("elasticsearch.ssl.verificationMode", "full") == "full"
    (ca,) = settings["elasticsearch.ssl.certificateAuthorities"]
    ca_secret("kibana", ca, ELASTIC_UID)


def test_every_logstash_output_trusts_only_the_labs_ca():
    """logstash-output-elasticsearch 11.22 options: hosts, ssl_certificate_authorities,
    ssl_verification_mode (default full)."""
    files = secret_files("logstash")
    pipeline = "".join(
        files[f"/usr/share/logstash/pipeline/{name}.conf"][0] for name in ("logstash", "alerts")
    )
    outputs = pipeline.split("elasticsearch {")[1:]
    assert len(outputs) == 2, "the logs and the alerts outputs"
    for output in outputs:
        (host,) = re.findall(r'hosts => \["([^"]+)"\]', output)
        assert host.startswith("https://"), host
        verifies(host)
        (ca,) = re.findall(r'ssl_certificate_authorities => \["([^"]+)"\]', output)
        ca_secret("logstash", ca, ELASTIC_UID)
        assert "ssl_verification_mode" not in output
    assert "cacert" not in pipeline  # the option 11.14 deprecated


def test_the_exporter_verifies_with_the_labs_ca():
    """elasticsearch_exporter v1.9.0 flags: --es.uri, --es.ca (a PEM file of trusted CAs);
    --es.ssl-skip-verify would turn the check off."""
    command = " ".join(service("elasticsearch_exporter")["commands"])
    (uri,) = re.findall(r"--es\.uri=(\S+)", command)
    assert uri.startswith("https://"), uri
    verifies(uri)
    (ca,) = re.findall(r"--es\.ca=(\S+)", command)
    ca_secret("elasticsearch_exporter", ca, NOBODY)
    assert "ssl-skip-verify" not in command


def test_the_elasticsearch_probe_verifies_with_the_labs_ca():
    """blackbox_exporter's http prober: `tls_config.ca_file` (prometheus/common TLSConfig);
    Prometheus hands it the target URL as the `target` parameter."""
    modules = yaml.safe_load(config_files("blackbox")["/etc/blackbox_exporter/config.yml"])
    tls_config = modules["modules"]["health_elasticsearch"]["http"]["tls_config"]
    assert tls_config.get("insecure_skip_verify") is not True
    ca_secret("blackbox", tls_config["ca_file"], NOBODY)
    prometheus = yaml.safe_load(config_files("prometheus")["/etc/prometheus/prometheus.yml"])
    targets = [
        target
        for job in prometheus["scrape_configs"]
        for group in job.get("static_configs", [])
        if group.get("labels", {}).get("part") == "elasticsearch"
        for target in group["targets"]
    ]
    assert targets, "no Elasticsearch probe"
    for target in targets:
        assert target.startswith("https://"), target
        verifies(target)


def test_the_security_step_dials_the_state_node_over_https_with_the_ca():
    (step,) = [r for r in swarm() if r["name"].endswith("-elasticsearch-security")]
    url = step["inputs"]["elasticsearch_url"]
    assert url.startswith(f"https://{STATE_HOST}:"), url
    assert step["inputs"]["ca_certificate"] == CA
    verifies(url)


@pytest.mark.parametrize("part", ["kibana", "logstash", "elasticsearch_exporter", "blackbox"])
def test_no_client_turns_verification_off(part):
    texts = [text for text, _mount in secret_files(part).values()]
    texts += list(config_files(part).values())
    texts.append(" ".join(service(part).get("commands") or []))
    for text in texts:
        assert not re.search(r"verificationMode: none|insecure_skip_verify: true", text), part


def test_the_single_host_lab_keeps_plain_http():
    resources = capture({}, stack="dev")["resources"]
    (es,) = [
        r["inputs"]
        for r in resources
        if r["type"] == CONTAINER and r["inputs"]["name"] == "lab-dev-elasticsearch"
    ]
    env = dict(item.split("=", 1) for item in es["envs"])
    assert env["xpack.security.http.ssl.enabled"] == "false"
    assert not [u for u in es.get("uploads", []) if u["file"].endswith(".crt")]


def test_kibana_serves_https_with_its_own_certificate():
    """kibana.yml's server.ssl.enabled, server.ssl.certificate, server.ssl.key (Kibana 8.19
    settings reference)."""
    files = secret_files("kibana")
    settings = yaml.safe_load(files["/usr/share/kibana/config/kibana.yml"][0])
    assert settings["server.ssl.enabled"] is True
    for setting, pem in (("certificate", KIBANA_CERTIFICATE), ("key", KIBANA_KEY)):
        content, mount = files[settings[f"server.ssl.{setting}"]]
        assert content == pem, setting
        assert (mount["fileMode"], mount["fileUid"]) == (0o400, str(ELASTIC_UID)), setting
    command = service("kibana")["healthcheck"]["tests"]
    url = next(arg for arg in command if "://" in arg)
    assert url.startswith("https://localhost:5601/"), command
    ca_secret("kibana", command[command.index("--cacert") + 1], ELASTIC_UID)
    verifies(url, KIBANA_CERTIFICATE)


def test_traefik_reaches_kibana_over_https_trusting_the_labs_ca():
    """Traefik v3 file provider: a service's loadBalancer names a `serversTransport`, whose
    `rootCAs` lists the CA files; `insecureSkipVerify` would turn the check off."""
    dynamic = yaml.safe_load(config_files("traefik")["/etc/traefik/dynamic.yml"])["http"]
    balancer = dynamic["services"]["kibana"]["loadBalancer"]
    (server,) = balancer["servers"]
    assert server["url"].startswith("https://"), server
    verifies(server["url"], KIBANA_CERTIFICATE)
    transport = dynamic["serversTransports"][balancer["serversTransport"]]
    assert transport.get("insecureSkipVerify") is not True
    (ca,) = transport["rootCAs"]
    ca_secret("traefik", ca, NOBODY)


def test_the_kibana_probe_verifies_with_the_labs_ca():
    modules = yaml.safe_load(config_files("blackbox")["/etc/blackbox_exporter/config.yml"])
    ca_secret(
        "blackbox", modules["modules"]["health_kibana"]["http"]["tls_config"]["ca_file"], NOBODY
    )
    prometheus = yaml.safe_load(config_files("prometheus")["/etc/prometheus/prometheus.yml"])
    targets = [
        target
        for job in prometheus["scrape_configs"]
        for group in job.get("static_configs", [])
        if group.get("labels", {}).get("part") == "kibana"
        for target in group["targets"]
    ]
    assert targets, "no Kibana probe"
    for target in targets:
        assert target.startswith("https://"), target
        verifies(target, KIBANA_CERTIFICATE)


def test_the_import_dials_the_state_node_over_https_with_the_ca():
    (step,) = [r for r in swarm() if r["name"].endswith("-kibana-saved-objects")]
    url = step["inputs"]["kibana_url"]
    assert url.startswith(f"https://{STATE_HOST}:"), url
    assert step["inputs"]["ca_certificate"] == CA
    verifies(url, KIBANA_CERTIFICATE)
