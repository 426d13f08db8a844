"""Logstash's monitoring API (port 9600) behind its own login (issue 22, item 3).

Without `api.auth`, whoever reaches port 9600 reads every pipeline's stats and changes the log
levels (`PUT /_node/logging`). Logstash 8.19 wraps the whole API in one basic-auth user when
`api.auth.type: basic` (elastic/logstash v8.19.4 logstash-core/lib/logstash/webserver.rb:
`Rack::Auth::Basic.new(app, "logstash-api")`, every path), its password checked against a
policy first (`Setting::ValidatedPassword`, org/logstash/secret/password/*Validator.java).

The lab's clients sign in as USER with `lab:logstashApiPassword` (a generated secret):
Logstash's own health check (a curl config, 0400 for uid 1000), the Logstash exporter (a
password file, 0400 for the app user) and the blackbox probe (its module's password_file).
"""

from __future__ import annotations

import re

USER = "lab_logstash_api"
SECRET = "logstashApiPassword"  # lab:<key>, stack/settings_tables.SECRETS
# The health check's curl config (`-K`, stack/configs/logstash_health.py) in Logstash's
# container, and the exporter's password file in its own (app/logstash_exporter.py).
CURL_CONFIG_FILE = "/run/secrets/logstash-api-curlrc"
EXPORTER_PASSWORD_FILE = "/run/secrets/logstash-api-password"

# The policy Logstash checks the password against, at its defaults (environment.rb l.83-88:
# length.minimum 8; upper, lower and digit REQUIRED, symbol OPTIONAL). The lab sets the mode
# to ERROR (webserver.rb: the default WARN will change to ERROR), so a password that fails it
# stops Logstash; the program refuses it first (stack/__main__.py), naming each reason.
MINIMUM_LENGTH = 8
_REQUIRED = (
    (re.compile(r"[A-Z]"), "must contain at least one upper case"),
    (re.compile(r"[a-z]"), "must contain at least one lower case"),
    (re.compile(r"\d"), "must contain at least one digit between 0 and 9"),
)


def policy_failures(password: str) -> list[str]:
    """Why Logstash refuses `password` (its validators' own reasons), or [] when it passes."""
    failures = []
    if len(password) < MINIMUM_LENGTH:
        failures.append(f"must be length of between {MINIMUM_LENGTH} and 1024")
    failures += [reason for pattern, reason in _REQUIRED if not pattern.search(password)]
    return failures


def settings(password: str) -> dict[str, object]:
    """The `logstash.yml` entries that put the API behind USER's login."""
    failures = policy_failures(password)
    if failures:
        raise ValueError(f"lab:{SECRET} {', '.join(failures)}")
    return {
        "api.auth.type": "basic",
        "api.auth.basic.username": USER,
        "api.auth.basic.password": password,
        "api.auth.basic.password_policy.mode": "ERROR",
    }
