"""/prometheus through the real traefik and a real Prometheus (Debian's binary): the route asks
for Traefik's login, and Prometheus serves at / as the lab network sees it while its UI and API
answer under /prometheus/ for a browser (--web.external-url, --web.route-prefix=/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from lab.support import free_port, wait_for_http, wait_until
from stack.configs import traefik_yaml
from tests.stack.test_configs_traefik import backend  # noqa: F401 (fixture)
from tests.support.processes import stop_process

PASSWORD = "a generated password"


def start(argv: list[str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


stop = stop_process


@pytest.mark.slow
def test_prometheus_answers_under_its_route_and_at_its_own_root(
    tmp_path,
    prometheus_binary,
    backend,  # noqa: F811
):
    web_port, api_port, prometheus_port = free_port(), free_port(), free_port()
    prometheus_url = f"http://127.0.0.1:{prometheus_port}"
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\n")
    users = tmp_path / "users"
    users.write_text(traefik_yaml.basic_auth_users(PASSWORD, "a generated salt"))
    dynamic = tmp_path / "dynamic.yml"
    dynamic.write_text(
        traefik_yaml.dynamic(
            {"fibonacci": [backend]}, prometheus_url=prometheus_url, users_file=str(users)
        )
    )
    static = tmp_path / "traefik.yml"
    static.write_text(
        traefik_yaml.static(
            web_port=web_port, api_port=api_port, dynamic_file=str(dynamic), host="127.0.0.1"
        )
    )
    public = f"http://127.0.0.1:{web_port}/prometheus/"
    prometheus = start(
        [
            prometheus_binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
            f"--web.external-url={public}",
            "--web.route-prefix=/",
        ],
        tmp_path / "prometheus.log",
    )
    traefik = start(
        [str(Path(sys.executable).parent / "traefik"), f"--configFile={static}"],
        tmp_path / "traefik.log",
    )
    login = ("admin", PASSWORD)
    try:
        wait_for_http(f"{prometheus_url}/-/ready", timeout=30, process=prometheus)
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
        print(f"\n/prometheus: {anonymous.status_code} without, {through.status_code} with login")
        assert anonymous.status_code == 401
        assert through.status_code == 200
        assert through.json()["data"]["result"][0]["value"][1] == "1"
        assert direct.status_code == 200  # Grafana, probes and the front door call it at /
        # The UI's root redirects under the public prefix (Debian's 2.42 to its classic page,
        # v3 to its own), and that page answers through the route.
        first = requests.get(public, auth=login, timeout=5, allow_redirects=False)
        assert first.headers["Location"].startswith("/prometheus/"), first.headers
        page = requests.get(public, auth=login, timeout=5)
        assert page.status_code == 200
        assert page.url.startswith(public), page.url
        assert 'href="/prometheus/' in page.text  # its links carry the prefix too
    finally:
        stop(traefik)
        stop(prometheus)
