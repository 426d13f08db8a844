"""`lab:alertReceivers`: where alerts reach people, beside the lab's own webhook into Logstash.

Each entry is `{name, type, ...}` with `type` one of `webhook`, `slack`, `email`. What must stay
secret (a webhook's or Slack's URL, the SMTP password) is never in the entry: it is a Pulumi
secret under `lab:alertReceiverSecrets.<name>`, uploaded to Alertmanager as a 0400 file and read
through Alertmanager's `*_file` fields (`url_file`, `api_url_file`, `auth_password_file`:
prometheus/alertmanager config/notifiers.go at v0.28.1, the pinned image). Pure: no Pulumi import;
docs/alerts.md tells how to add one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from stack import settings_grammar as grammar
from stack.configs.alertmanager_yaml import DISCARD_RECEIVER, WEBHOOK_RECEIVER, Receiver

KEY = "alertReceivers"
# The Pulumi secret object holding each receiver's URL or password by its name:
# `pulumi config set --secret --path 'lab:alertReceiverSecrets.<name>' <value>`.
SECRETS_KEY = "alertReceiverSecrets"
SECRET_DIR = "/run/secrets"
NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?")
ADDRESS = re.compile(r"[^@\s,]+@[^@\s,]+")
HOST_PORT = re.compile(r"[A-Za-z0-9.-]+:[0-9]{1,5}")
CHANNEL = re.compile(r"[#@][^\s]+")
MATCHER = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*(=|!=|=~|!~)"[^"]*"')

# Per type: its fields besides name and type, which are required, and what the secret is.
TYPES: Mapping[str, tuple[tuple[str, ...], tuple[str, ...], str]] = MappingProxyType(
    {
        "webhook": (("matchers",), (), "the URL Alertmanager posts to"),
        "slack": (("channel", "matchers"), ("channel",), "the Slack incoming-webhook URL"),
        "email": (
            ("to", "from", "smarthost", "username", "requireTls", "matchers"),
            ("to", "from", "smarthost"),
            "the SMTP password (only with `username`)",
        ),
    }
)


@dataclass(frozen=True)
class AlertReceiver:
    name: str
    type: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    matchers: tuple[str, ...] = ()

    @property
    def secret_file(self) -> str | None:
        """Where Alertmanager reads this receiver's secret; None when it has none."""
        if self.type == "email" and "username" not in self.fields:
            return None
        return f"{SECRET_DIR}/alert-receiver-{self.name}"

    def receiver(self) -> Receiver:
        """The receiver as stack/configs/alertmanager_yaml.py renders it: resolved alerts too."""
        common = {"send_resolved": True}
        if self.type == "webhook":
            settings = {"webhook_configs": [{**common, "url_file": self.secret_file}]}
        elif self.type == "slack":
            slack = {**common, "api_url_file": self.secret_file, "channel": self.fields["channel"]}
            settings = {"slack_configs": [slack]}
        else:
            mail = {
                **common,
                "to": self.fields["to"],
                "from": self.fields["from"],
                "smarthost": self.fields["smarthost"],
                "require_tls": self.fields.get("requireTls", True),
            }
            if self.secret_file:
                mail |= {
                    "auth_username": self.fields["username"],
                    "auth_password_file": self.secret_file,
                }
            settings = {"email_configs": [mail]}
        return Receiver(self.name, settings, self.matchers)


def _field(key: str, value: Any) -> Any:
    checks = {
        "channel": lambda v: grammar.text(v, CHANNEL, "a Slack channel such as #lab or @me"),
        "to": lambda v: grammar.text(v, ADDRESS, "an address such as me@example.org"),
        "from": lambda v: grammar.text(v, ADDRESS, "an address such as lab@example.org"),
        "smarthost": lambda v: grammar.text(v, HOST_PORT, "host:port such as mail.example.org:587"),
        "username": lambda v: grammar.text(v, re.compile(r"\S+"), "a user name"),
        "requireTls": grammar.boolean,
    }
    return checks[key](value)


def _matchers(value: Any) -> tuple[str, ...]:
    allowed = 'a list of matchers such as severity="page"'
    if not isinstance(value, list) or not value:
        raise grammar.Invalid(allowed)
    return tuple(grammar.text(m, MATCHER, allowed) for m in value)


def _entry(index: int, entry: Any) -> AlertReceiver:
    def refuse(rule: str) -> grammar.SettingsError:
        # The entry itself is never printed: a misplaced URL or password would be a secret.
        name = entry.get("name") if isinstance(entry, Mapping) else None
        which = f"lab:{KEY}[{index}]" + (f" ({name!r})" if isinstance(name, str) else "")
        return grammar.SettingsError(f"{which} is refused: {rule}")

    if not isinstance(entry, Mapping):
        raise refuse("an entry is a mapping such as {name: team, type: slack, channel: '#lab'}")
    kind = entry.get("type")
    if kind not in TYPES:
        raise refuse(f"type must be one of {', '.join(TYPES)}, not {kind!r}")
    optional, required, _secret = TYPES[kind]
    unknown = sorted(set(entry) - {"name", "type", *optional})
    if unknown:
        raise refuse(
            f"unknown field {unknown[0]!r} for {kind} (known: name, type, {', '.join(optional)};"
            f" {TYPES[kind][2]} is the secret lab:{SECRETS_KEY}.<name>)"
        )
    for key in ("name", *required):
        if key not in entry:
            raise refuse(f"field {key!r} is required for {kind}")
    fields: dict[str, Any] = {}
    try:
        name = grammar.text(entry["name"], NAME, "a name of lower-case letters, digits and '-'")
        for key, value in entry.items():
            if key not in ("name", "type", "matchers"):
                fields[key] = _field(key, value)
        matchers = _matchers(entry["matchers"]) if "matchers" in entry else ()
    except grammar.Invalid as invalid:
        raise refuse(invalid.allowed) from None
    if name in (WEBHOOK_RECEIVER, DISCARD_RECEIVER):
        raise refuse(f"name {name!r} is the lab's own receiver")
    return AlertReceiver(name, kind, MappingProxyType(fields), matchers)


def parse(value: Any) -> tuple[AlertReceiver, ...]:
    """Every entry of `lab:alertReceivers` (a list, or its JSON text from the engine); raises
    SettingsError naming the entry and the rule, never the entry's values."""
    if isinstance(value, str):
        value = grammar.from_engine(value)
    if not isinstance(value, list):
        raise grammar.SettingsError(
            f"lab:{KEY} is invalid: expected a list of receivers such as"
            " [{name: team, type: slack, channel: '#lab'}]"
        )
    found: list[AlertReceiver] = []
    for index, entry in enumerate(value):
        receiver = _entry(index, entry)
        if receiver.name in {r.name for r in found}:
            raise grammar.SettingsError(
                f"lab:{KEY}[{index}] ({receiver.name!r}) is refused: its name is used twice"
            )
        found.append(receiver)
    return tuple(found)
