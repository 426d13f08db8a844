"""/prometheus through the real traefik and a real Prometheus (Debian's binary, 2.42): Prometheus
asks for its own login (--web.config.file, web_config.render: issue 22), which Traefik passes
through, and serves at / as the lab network sees it while its UI and API answer under
/prometheus/ for a browser (--web.external-url, --web.route-prefix=/)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from lab.support import free_port, wait_until
from stack.configs import traefik_yaml, web_config
from tests.stack.test_configs_traefik import backend  # noqa: F401 (fixture)
from tests.support.processes import running
from tests.support.real_traefik import api_answers, running_traefik

PASSWORD = "a generated password"
MONITORING_PASSWORD = "the lab's own clients' password"
SALT = "a generated salt"


@pytest.mark.slow
def test_prometheus_answers_under_its_route_and_at_its_own_root(
    tmp_path,
    prometheus_binary,
    backend,  # noqa: F811
):
    prometheus_port = free_port()
    prometheus_url = f"http://127.0.0.1:{prometheus_port}"
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\n")
    users = tmp_path / "users"
    users.write_text(traefik_yaml.basic_auth_users(PASSWORD, SALT))
    web = tmp_path / "web-config.yml"
    web.write_text(
        web_config.render(
            admin_password=PASSWORD, monitoring_password=MONITORING_PASSWORD, lab_salt=SALT
        )
    )
    # promtool, the same release's checker, accepts the web config.
    checked = subprocess.run(
        [str(Path(prometheus_binary).with_name("promtool")), "check", "web-config", str(web)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    dynamic = traefik_yaml.dynamic(
        {"fibonacci": [backend]}, prometheus_url=prometheus_url, users_file=str(users)
    )
    login = ("admin", PASSWORD)
    monitoring = (web_config.MONITORING_USER, MONITORING_PASSWORD)
    with running_traefik(
        tmp_path,
        dynamic,
        api_answers(login),
        what="traefik up",
    ) as traefik:
        public = f"{traefik.web}/prometheus/"
        argv = [
            prometheus_binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
            f"--web.external-url={public}",
            "--web.route-prefix=/",
            f"--web.config.file={web}",
        ]
        # Ready when it answers the monitoring login.
        ready = f"{prometheus_url}/-/ready"
        with running(argv, ready, tmp_path / "prometheus.log", auth=monitoring):
            # requests' errors are OSErrors: nothing listening yet counts as not ready.
            wait_until(
                lambda: requests.get(f"{public}-/ready", auth=login, timeout=1).status_code == 200,
                timeout=30,
                interval=0.2,
                what=f"traefik's /prometheus route answering 200 with the login at {public}-/ready",
            )
            query = "api/v1/query?query=vector(1)"
            anonymous = requests.get(f"{public}{query}", timeout=5)
            through = requests.get(f"{public}{query}", auth=login, timeout=5)
            direct = requests.get(f"{prometheus_url}/{query}", timeout=5)
            signed_in = requests.get(f"{prometheus_url}/{query}", auth=monitoring, timeout=5)
            wrong = requests.get(f"{public}{query}", auth=("admin", "guess"), timeout=5)
            print(
                f"\n/prometheus: {anonymous.status_code} without, {through.status_code} with login"
            )
            # Prometheus itself refuses (issue 22: the direct port skipped Traefik's login).
            assert anonymous.status_code == 401
            assert wrong.status_code == 401
            assert direct.status_code == 401
            assert through.status_code == 200
            assert through.json()["data"]["result"][0]["value"][1] == "1"
            # Grafana, probes and Prometheus itself call it at / as the monitoring user.
            assert signed_in.status_code == 200
            # The UI's root redirects under the public prefix (Debian's 2.42 to its classic page,
            # v3 to its own), and that page answers through the route.
            first = requests.get(public, auth=login, timeout=5, allow_redirects=False)
            assert first.headers["Location"].startswith("/prometheus/"), first.headers
            page = requests.get(public, auth=login, timeout=5)
            assert page.status_code == 200
            assert page.url.startswith(public), page.url
            assert 'href="/prometheus/' in page.text  # its links carry the prefix too
