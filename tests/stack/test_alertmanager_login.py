"""Alertmanager behind its own login, and its webhook signed in to Logstash's alerts input
(issue 22, item 1), with the declared files: amtool and promtool accept the uploaded config
and web config, and the real Alertmanager (Debian's 0.25) refuses an anonymous call, answers
the monitoring user, and posts its notifications with the login Logstash's HTTP input asks
(the user and password of the declared alerts pipeline)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
import yaml

from lab.support import free_port
from stack.configs import alertmanager_yaml, logstash_conf, web_config
from tests.stack.captured import containers, declared_under, upload
from tests.stack.test_configs_alertmanager_delivery import alert, alertmanager_binary  # noqa: F401
from tests.support.capture import MOCK_SECRETS
from tests.support.processes import running
from tests.support.webhook_receiver import Webhook


def local_files(tmp_path: Path, webhook_url: str) -> tuple[Path, Path]:
    """The declared alertmanager.yml (its webhook pointed at `webhook_url`, its password_file
    at the local copy of the declared upload) and the declared web config, written locally."""
    container = containers(declared_under("default"))["lab-dev-alertmanager"]
    uploads = {entry["file"]: entry for entry in container["inputs"]["uploads"]}
    config = yaml.safe_load(upload(container, alertmanager_yaml.CONFIG_FILE))
    (receiver,) = [r for r in config["receivers"] if r.get("webhook_configs")]
    (webhook,) = receiver["webhook_configs"]
    auth = webhook["http_config"]["basic_auth"]
    declared = uploads[auth["password_file"]]
    assert (declared["permissions"], declared["owner"]) == ("0400", "65534")
    password = tmp_path / "webhook-password"
    password.write_text(declared["content"])
    auth["password_file"], webhook["url"] = str(password), webhook_url
    config["route"]["group_wait"] = "1s"  # the test's only change of timing
    config_file = tmp_path / "alertmanager.yml"
    config_file.write_text(yaml.safe_dump(config))
    web = tmp_path / "web-config.yml"
    web.write_text(upload(container, web_config.WEB_CONFIG_FILE))
    assert f"--web.config.file={web_config.WEB_CONFIG_FILE}" in container["inputs"]["command"]
    return config_file, web


def http_input_login() -> tuple[str, str]:
    """The user and password the declared alerts pipeline's HTTP input asks for."""
    logstash = containers(declared_under("default"))["lab-dev-logstash"]
    text = upload(logstash, logstash_conf.ALERTS_PIPELINE_FILE)
    http = text[text.index("http {") :]
    user = re.search(r'user => "([^"]*)"', http)
    password = re.search(r'password => "([^"]*)"', http)
    assert user, f"the alerts' HTTP input takes anyone:\n{http}"
    assert password, f"the alerts' HTTP input has no password:\n{http}"
    return user.group(1), password.group(1)


@pytest.mark.slow
def test_the_declared_alertmanager_asks_a_login_and_signs_in_to_logstash(
    alertmanager_binary,  # noqa: F811
    tmp_path,
):
    webhook = Webhook().start()
    config, web = local_files(tmp_path, webhook.url)
    for argv in (
        ["amtool", "check-config", str(config)],
        ["promtool", "check", "web-config", str(web)],
    ):
        if shutil.which(argv[0]) is None:
            pytest.fail(f"{argv[0]} is not installed (Debian's prometheus packages)")
        checked = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    url = f"http://127.0.0.1:{free_port()}"
    argv = [
        alertmanager_binary,
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address={url.removeprefix('http://')}",
        "--web.route-prefix=/alertmanager",
        "--cluster.listen-address=",
        f"--web.config.file={web}",
    ]
    monitoring = (web_config.MONITORING_USER, MOCK_SECRETS["lab:monitoringApiPassword"])
    base = f"{url}/alertmanager"
    try:
        # Ready when it answers the monitoring login.
        with running(argv, f"{base}/-/ready", tmp_path / "alertmanager.log", auth=monitoring):
            # Issue 22: anyone on the network could silence every alert.
            assert requests.get(f"{base}/api/v2/silences", timeout=5).status_code == 401
            wrong = ("admin", "guess")
            assert requests.get(f"{base}/api/v2/silences", auth=wrong, timeout=5).status_code == 401
            admin = ("admin", MOCK_SECRETS["lab:traefikAdminPassword"])
            assert requests.get(f"{base}/api/v2/silences", auth=admin, timeout=5).status_code == 200
            posted = requests.post(
                f"{base}/api/v2/alerts",
                json=[alert("LabTargetDown", function="fibonacci", instance="fibonacci-1:8080")],
                auth=monitoring,
                timeout=5,
            )
            assert posted.status_code == 200, posted.text
            webhook.wait_for(lambda notifications: len(notifications) >= 1, timeout=30)
    finally:
        webhook.close()
    user, password = http_input_login()
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    assert webhook.authorizations[0] == expected
    assert user == alertmanager_yaml.WEBHOOK_USER
