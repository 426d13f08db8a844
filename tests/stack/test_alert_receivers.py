"""`lab:alertReceivers` (stack/alert_receivers.py): webhook, Slack and email receivers routed
next to the Logstash webhook, their URLs and passwords Pulumi secrets that Alertmanager reads
from 0400 files (its `*_file` fields); amtool accepts the config, and a real Alertmanager
(Debian's binary) delivers a firing and a resolved notification to a local receiver speaking
Slack's incoming-webhook format and to a local SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from stack import alert_receivers
from stack.configs import alertmanager_yaml
from stack.settings import SettingsError, parse
from tests.stack.captured import containers
from tests.stack.test_configs_alertmanager import TRAEFIK_DOWN, run_amtool
from tests.stack.test_configs_alertmanager import amtool as amtool
from tests.stack.test_configs_alertmanager_delivery import alert, alertmanager_binary, post  # noqa: F401
from tests.support.capture import ProgramFailed, capture
from tests.support.processes import running_alertmanager
from tests.support.smtp_sink import SmtpSink
from tests.support.webhook_receiver import Webhook

SLACK = {"name": "team", "type": "slack", "channel": "#lab"}
MAIL = {
    "name": "oncall",
    "type": "email",
    "to": "oncall@example.org",
    "from": "lab@example.org",
    "smarthost": "mail.example.org:587",
    "username": "lab",
}
HOOK = {"name": "pager", "type": "webhook", "matchers": ['severity="page"']}
SECRETS = {
    "team": "https://hooks.slack.example/T0/B0/x",
    "oncall": "smtp-pw",
    "pager": "https://p/x",
}


def _refusal(entries) -> str:
    with pytest.raises(SettingsError) as refused:
        parse({"alertReceivers": entries})
    return str(refused.value)


@pytest.mark.parametrize(
    ("entries", "rule"),
    [
        ([{"name": "x", "type": "pagerduty"}], "type must be one of webhook, slack, email"),
        ([{"name": "x", "type": "slack"}], "field 'channel' is required"),
        ([{**SLACK, "url": "https://hooks"}], "is the secret lab:alertReceiverSecrets.<name>"),
        ([{**MAIL, "password": "pw"}], "unknown field 'password'"),
        ([{**MAIL, "to": "nobody"}], "an address"),
        ([{**MAIL, "smarthost": "mail"}], "host:port"),
        ([SLACK, {**HOOK, "name": "team"}], "used twice"),
        ([{**HOOK, "name": alertmanager_yaml.WEBHOOK_RECEIVER}], "the lab's own receiver"),
        ([{**HOOK, "matchers": ["severity=page"]}], "matchers"),
        ({"name": "x"}, "a list of receivers"),
    ],
)
def test_a_wrong_receiver_is_refused_naming_key_entry_and_rule(entries, rule):
    message = _refusal(entries)
    assert message.startswith("lab:alertReceivers"), message
    assert rule in message, message


def test_each_type_renders_alertmanagers_own_file_fields():
    """Field names from prometheus/alertmanager config/notifiers.go at v0.28.1 (the pinned
    image): WebhookConfig `url_file` (since v0.26.0), SlackConfig `api_url_file`, EmailConfig
    `auth_password_file`; `send_resolved` from NotifierConfig."""
    receivers = parse({"alertReceivers": [SLACK, MAIL, HOOK]}).alert_receivers
    rendered = {r.name: r.receiver() for r in receivers}
    assert rendered["team"].settings == {
        "slack_configs": [
            {
                "send_resolved": True,
                "api_url_file": "/run/secrets/alert-receiver-team",
                "channel": "#lab",
            }
        ]
    }
    (mail,) = rendered["oncall"].settings["email_configs"]
    assert mail["auth_password_file"] == "/run/secrets/alert-receiver-oncall"
    assert (mail["auth_username"], mail["require_tls"], mail["send_resolved"]) == (
        "lab",
        True,
        True,
    )
    assert rendered["pager"].settings == {
        "webhook_configs": [
            {"send_resolved": True, "url_file": "/run/secrets/alert-receiver-pager"}
        ]
    }
    assert rendered["pager"].matchers == ('severity="page"',)
    # Without a username the mail needs no secret.
    without_login = {key: value for key, value in MAIL.items() if key != "username"}
    (anonymous,) = parse({"alertReceivers": [without_login]}).alert_receivers
    assert anonymous.secret_file is None
    assert "auth_password_file" not in anonymous.receiver().settings["email_configs"][0]


def test_the_secrets_reach_alertmanager_as_0400_files_and_never_its_config():
    result = capture(
        {"lab:alertReceivers": [SLACK, MAIL, HOOK], "lab:alertReceiverSecrets": SECRETS}
    )
    inputs = containers(result)["lab-dev-alertmanager"]["inputs"]
    files = {u["file"]: u for u in inputs["uploads"]}
    for name, value in SECRETS.items():
        upload = files[f"/run/secrets/alert-receiver-{name}"]
        assert (upload["content"], upload["permissions"], upload["owner"]) == (
            value,
            "0400",
            "65534",
        )
    config = files[alertmanager_yaml.CONFIG_FILE]["content"]
    assert not any(value in config for value in SECRETS.values())
    routes = yaml.safe_load(config)["route"]["routes"]
    # Next to the Logstash webhook, each with `continue`: every receiver gets its alerts.
    assert [r["receiver"] for r in routes] == [
        alertmanager_yaml.WEBHOOK_RECEIVER,
        "team",
        "oncall",
        "pager",
    ]
    assert all(r["continue"] for r in routes)
    for key in ("envs", "command", "entrypoints"):
        assert not any(v in str(inputs.get(key)) for v in SECRETS.values()), key


def test_a_receiver_without_its_secret_is_refused_before_anything_is_declared():
    with pytest.raises(ProgramFailed) as refused:
        capture({"lab:alertReceivers": [SLACK], "lab:alertReceiverSecrets": {"other": "x"}})
    assert refused.value.resources == []
    assert "['team'] need their secret" in refused.value.error
    assert "lab:alertReceiverSecrets.<name>" in refused.value.error


def _config(tmp_path: Path, receivers, **timing) -> Path:
    """The rendered config, its secret files under tmp_path instead of /run/secrets."""
    text = alertmanager_yaml.render(
        traefik_down_alert=TRAEFIK_DOWN,
        webhook_url="http://logstash:8088/alerts",
        extra_receivers=[r.receiver() for r in receivers],
        **timing,
    )
    text = text.replace(alert_receivers.SECRET_DIR + "/", f"{tmp_path}/")
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    return path


def test_amtool_accepts_the_slack_and_email_receivers(amtool, tmp_path):
    """Debian's amtool here is 0.25, which has `api_url_file` and `auth_password_file` but not
    the webhook's `url_file` (v0.26.0); the webhook's shape is checked above."""
    receivers = parse({"alertReceivers": [SLACK, MAIL]}).alert_receivers
    for name in ("team", "oncall"):
        (tmp_path / f"alert-receiver-{name}").write_text(SECRETS[name])
    result = run_amtool(amtool, "check-config", str(_config(tmp_path, receivers)))
    assert result.returncode == 0, result.stdout + result.stderr
    # The discard receiver, the Logstash webhook and the two added.
    assert "4 receivers" in result.stdout, result.stdout


@pytest.fixture
def receivers_lab(alertmanager_binary, tmp_path) -> Iterator[tuple[str, Webhook, SmtpSink]]:  # noqa: F811
    slack, smtp = Webhook().start(), SmtpSink().start()
    mail = {**MAIL, "smarthost": smtp.address, "requireTls": False}
    receivers = parse({"alertReceivers": [SLACK, mail]}).alert_receivers
    (tmp_path / "alert-receiver-team").write_text(slack.url)
    (tmp_path / "alert-receiver-oncall").write_text(SECRETS["oncall"])
    config = _config(tmp_path, receivers, group_wait="1s", group_interval="1s")
    try:
        with running_alertmanager(alertmanager_binary, config, tmp_path) as url:
            yield url, slack, smtp
    finally:
        slack.close()
        smtp.close()


@pytest.mark.slow
def test_a_real_alertmanager_notifies_slack_and_email_firing_then_resolved(receivers_lab):
    url, slack, smtp = receivers_lab
    post(url, alert("LabTargetDown", function="fibonacci", instance="fibonacci-1:8080"))

    def titled(status: str):
        return lambda sent: any(
            a.get("title", "").startswith(f"[{status}") for n in sent for a in n["attachments"]
        )

    firing = slack.wait_for(titled("FIRING:1]"))
    # Slack's incoming-webhook format: the channel and one attachment per notification.
    (message,) = [n for n in firing if titled("FIRING:1]")([n])]
    assert message["channel"] == "#lab"
    assert "LabTargetDown" in message["attachments"][0]["title"]
    smtp.wait_for(lambda _m: any(s.startswith("[FIRING:1]") for s in smtp.subjects()))
    assert smtp.logins[0] == ("lab", SECRETS["oncall"])  # the password file's content
    assert smtp.messages[0]["To"] == MAIL["to"]

    post(url, alert("LabTargetDown", ended=True, function="fibonacci", instance="fibonacci-1:8080"))
    slack.wait_for(titled("RESOLVED]"))
    smtp.wait_for(lambda _m: any(s.startswith("[RESOLVED]") for s in smtp.subjects()))
