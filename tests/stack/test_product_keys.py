"""Kibana's three encryption keys and Grafana's secret_key are generated Pulumi secrets, handed
over in 0400 files, never the products' defaults (issue 22, item 2)."""

from __future__ import annotations

import pytest
import yaml

from lab import automation
from stack.configs import kibana_yml
from stack.settings_tables import SECRETS
from tests.stack.captured import containers, declared_under, runs, upload
from tests.support.capture import MOCK_SECRETS

# Kibana 8.19's config schema: each key is `schema.string({ minLength: 32 })` (security's
# server/config.ts, encrypted_saved_objects' server/config.ts, reporting's config schema).
KIBANA_KEY_SETTINGS = (
    "xpack.security.encryptionKey",
    "xpack.encryptedSavedObjects.encryptionKey",
    "xpack.reporting.encryptionKey",
)
KIBANA_MIN_LENGTH = 32
# grafana v11.6.5 conf/defaults.ini, [security]: the public default every Grafana shares.
GRAFANA_DEFAULT_SECRET_KEY = "SW2YcwTIb9zpOOhoPsMm"


def test_kibana_gets_each_encryption_key_from_its_own_secret():
    declared = declared_under("default")
    assert runs(declared, "kibana")
    kibana = containers(declared)["lab-dev-kibana"]
    config = yaml.safe_load(upload(kibana, kibana_yml.CONFIG_FILE))
    values = [config.get(setting) for setting in KIBANA_KEY_SETTINGS]
    assert all(values), f"{kibana['urn']}: unset keys: {values}"
    assert len(set(values)) == len(KIBANA_KEY_SETTINGS), "one key reused for two jobs"
    for value in values:
        (key,) = [k for k, mock in MOCK_SECRETS.items() if mock == value]
        assert key.removeprefix("lab:") in SECRETS, key
    (entry,) = [u for u in kibana["inputs"]["uploads"] if u["file"] == kibana_yml.CONFIG_FILE]
    assert (entry["permissions"], entry["owner"]) == ("0400", kibana_yml.KIBANA_UID)


def test_grafana_secret_key_is_a_generated_secret_file():
    grafana = containers(declared_under("default"))["lab-dev-grafana"]
    envs = dict(env.split("=", 1) for env in grafana["inputs"]["envs"])
    assert "GF_SECURITY_SECRET_KEY" not in envs, grafana["urn"]
    path = envs["GF_SECURITY_SECRET_KEY__FILE"]
    value = upload(grafana, path)
    assert value == MOCK_SECRETS["lab:grafanaSecretKey"]
    assert value != GRAFANA_DEFAULT_SECRET_KEY
    (entry,) = [u for u in grafana["inputs"]["uploads"] if u["file"] == path]
    # run.sh reads every GF_*__FILE as Grafana's uid 472 (docs/product-rules.md G5).
    assert (entry["permissions"], entry["owner"]) == ("0400", "472"), grafana["urn"]


def test_generated_keys_are_long_enough_for_kibana():
    """`make up` generates what Kibana accepts (not the 24 characters of a password)."""
    for key in kibana_yml.ENCRYPTION_KEYS.values():
        assert len(automation.generated_secret(f"lab:{key}")) >= KIBANA_MIN_LENGTH, key
    first = automation.generated_secret("lab:kibanaSecurityEncryptionKey")
    assert first != automation.generated_secret("lab:kibanaSecurityEncryptionKey")


@pytest.mark.parametrize("setting", KIBANA_KEY_SETTINGS)
def test_a_short_hand_set_key_is_refused_by_name(setting):
    keys = {name: "k" * KIBANA_MIN_LENGTH for name in KIBANA_KEY_SETTINGS}
    keys[setting] = "k" * (KIBANA_MIN_LENGTH - 1)
    with pytest.raises(kibana_yml.KibanaConfigError, match=f"{setting}.*at least 32"):
        kibana_yml.render(
            elasticsearch_url="http://elasticsearch:9200",
            password="pw",
            base_path="/kibana",
            public_url="http://127.0.0.1:8000/kibana",
            encryption_keys=keys,
        )
