"""Alertmanager's config: alerts grouped per alert and function, "Traefik down" holding back
the per-function alerts it causes, and the receivers (the lab's webhook into Logstash, plus any
a user adds for mail or chat).

The alert names come from the caller, which takes them from the Prometheus rules, so the rule
that fires and the rule that inhibits cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import yaml

from dashboards.prometheus_rules import seconds
from stack.configs.blackbox_yaml import PART_LABEL

CONFIG_FILE = "/etc/alertmanager/alertmanager.yml"
PORT = 9093

# Every per-function alert carries the function's name in this label (the app's metrics use
# the same label name). It is the second grouping key and what the Traefik inhibition targets:
# an alert with a function label is about one function, one that lacks it is about the lab.
FUNCTION_LABEL = "function"
GROUP_BY = ("alertname", FUNCTION_LABEL)

WEBHOOK_RECEIVER = "lab-webhook"
# Alertmanager needs a receiver on its root route; alerts that no child route takes (every
# alert, when the webhook is off and no receiver was added) end here and are sent nowhere.
DISCARD_RECEIVER = "lab-discard"
# The probe of Traefik's own health endpoint carries this part label (blackbox_yaml.py); it
# fails whenever Traefik is down, so the Traefik-down alert holds it back as well.
TRAEFIK_PART = "traefik"

# When Alertmanager notifies: group_wait is how long a new group waits for more alerts,
# group_interval how often a changed group is sent again (a resolved notification waits for
# it), repeat_interval how often an unchanged firing group is. resolve_timeout only ends alerts
# posted without an end time, which Prometheus never does. All but group_wait are Alertmanager's
# own defaults (dispatch/route.go DefaultRouteOpts, config/config.go DefaultGlobalConfig at
# v0.28.1); its 30 s group_wait would alone miss the incident drills' goal of a notification
# within 25 s of the fault (docs/incidents.md), while 5 s still gathers the replicas of one
# function, which fail within one scrape of each other. Keys are render()'s keyword arguments
# and Alertmanager's own key names.
TIMING: Mapping[str, str] = MappingProxyType(
    {"group_wait": "5s", "group_interval": "5m", "repeat_interval": "4h", "resolve_timeout": "5m"}
)
# Alertmanager refuses these at zero (config/config.go, Route.UnmarshalYAML).
_NOT_ZERO = ("group_interval", "repeat_interval")


@dataclass(frozen=True)
class Receiver:
    """A receiver a user adds beside the lab's webhook: this is the one place for mail or chat.

    `settings` is the receiver's Alertmanager config without its name, exactly as Alertmanager
    documents it, e.g. `{"email_configs": [{"to": "me@example.org", "from": ..., "smarthost":
    "mail:587", "auth_username": ..., "auth_password_file": "/run/secrets/smtp"}]}` or
    `{"slack_configs": [{"api_url_file": ..., "channel": "#lab"}]}`; keep credentials in
    `*_file` fields, as the lab does. `matchers` picks the alerts it gets (for example
    `('severity="page"',)`); empty means every alert. The lab's webhook still gets every alert.
    """

    name: str
    settings: Mapping[str, Any]
    matchers: Sequence[str] = field(default_factory=tuple)


# Logstash's HTTP input asks for this user (issue 22: anyone on the network could post forged
# alerts); Alertmanager signs in with it, the password read from a file (http_config
# basic_auth password_file, prometheus/common config/http_config.go, Alertmanager >= 0.22).
WEBHOOK_USER = "lab_alertmanager"
WEBHOOK_SECRET = "alertWebhookPassword"
WEBHOOK_PASSWORD_FILE = "/run/secrets/alert-webhook-password"


def _webhook_login(login: tuple[str, str] | None) -> dict:
    """`(user, password_file)` as the webhook's http_config; {} without."""
    if login is None:
        return {}
    user, password_file = login
    return {"http_config": {"basic_auth": {"username": user, "password_file": password_file}}}


def render(
    *,
    traefik_down_alert: str,
    webhook_url: str | None,
    webhook_login: tuple[str, str] | None = None,
    extra_receivers: Sequence[Receiver] = (),
    group_wait: str = TIMING["group_wait"],
    group_interval: str = TIMING["group_interval"],
    repeat_interval: str = TIMING["repeat_interval"],
    resolve_timeout: str = TIMING["resolve_timeout"],
) -> str:
    """The whole `alertmanager.yml`.

    `traefik_down_alert` is the alertname of the rule that fires when Traefik is down; while it
    fires, every alert with a `function` label is inhibited (those calls cannot reach the
    functions anyway), whatever the function. `webhook_url` is Logstash's HTTP input, or None
    when the lab runs without logs (then only `extra_receivers` send anything). The timings
    default to Alertmanager's own (TIMING); `lab:alertTiming` shortens them for the fault tests.

    Inhibition only holds back what arrives while the source fires: a per-function alert that
    reaches Alertmanager first is sent. So the Traefik-down rule's `for:` must not be longer
    than that of any per-function alert Traefik's absence causes; group_wait covers the rest.
    """
    check_timing(
        {
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
            "resolve_timeout": resolve_timeout,
        }
    )
    names = [WEBHOOK_RECEIVER, DISCARD_RECEIVER, *(r.name for r in extra_receivers)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"receiver names must be unique and not the lab's own: {duplicates}")

    receivers: list[dict] = [{"name": DISCARD_RECEIVER}]
    # Child routes with `continue`, so an alert goes to the webhook and to every added receiver
    # whose matchers it meets, not only to the first route that matches.
    routes: list[dict] = []
    if webhook_url:
        receivers.append(
            {
                "name": WEBHOOK_RECEIVER,
                # send_resolved: the alerts index records when an alert ended, not only when
                # it started. max_alerts 0 sends every alert of the group.
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "max_alerts": 0,
                        **_webhook_login(webhook_login),
                    }
                ],
            }
        )
        routes.append({"receiver": WEBHOOK_RECEIVER, "continue": True})
    for extra in extra_receivers:
        receivers.append({"name": extra.name, **extra.settings})
        route: dict[str, Any] = {"receiver": extra.name, "continue": True}
        if extra.matchers:
            route["matchers"] = list(extra.matchers)
        routes.append(route)

    root: dict[str, Any] = {
        "receiver": DISCARD_RECEIVER,
        "group_by": list(GROUP_BY),
        "group_wait": group_wait,
        "group_interval": group_interval,
        "repeat_interval": repeat_interval,
    }
    if routes:
        root["routes"] = routes
    document = {
        "global": {"resolve_timeout": resolve_timeout},
        "route": root,
        # Any function: one Traefik stands in front of all of them, so no `equal` label ties
        # the source to its targets. The source is about the whole lab and carries neither
        # label, so it is never a target itself. Other parts' probes stay: Traefik's absence
        # does not explain them.
        "inhibit_rules": [
            {
                "source_matchers": [f'alertname="{traefik_down_alert}"'],
                "target_matchers": [target],
            }
            for target in (f'{FUNCTION_LABEL}=~".+"', f'{PART_LABEL}="{TRAEFIK_PART}"')
        ],
        "receivers": receivers,
    }
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def check_timing(timing: Mapping[str, str]) -> None:
    """ValueError unless `timing` holds only TIMING's keys and its group_interval and
    repeat_interval are durations above zero (what each duration may look like is the settings
    grammar's job, and amtool's in the tests)."""
    unknown = sorted(set(timing) - set(TIMING))
    if unknown:
        raise ValueError(f"unknown Alertmanager timing {unknown} (known: {sorted(TIMING)})")
    for key, duration in timing.items():
        if key in _NOT_ZERO and seconds(duration) == 0:
            raise ValueError(f"Alertmanager refuses {key} = {duration!r}: it cannot be zero")
