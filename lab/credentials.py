"""`make credentials`: every login of the lab (stack/settings_tables.SECRETS): its user, what
uses it, the file a container reads it from, its Pulumi config key; the passwords themselves
only with `--show` (`make credentials SHOW=1`), read from the stack's secret config."""

from __future__ import annotations

import argparse
import sys
from typing import NamedTuple, TextIO

from lab import automation
from lab.status import configured_urls
from stack import settings as lab_settings
from stack.configs import (
    alertmanager_yaml,
    kibana_yml,
    logstash_api,
    logstash_conf,
    traefik_yaml,
    web_config,
)
from stack.settings import LabSettings, SettingsError

# Where the components upload each secret (a front door may not import a component;
# tests/lab/test_credentials.py keeps these equal to the components' constants).
GRAFANA_PASSWORD_FILE = "/run/secrets/grafana-admin-password"
ELASTIC_PASSWORD_FILE = "/run/secrets/elastic-password"
MONITOR_PASSWORD_FILE = "/run/secrets/elasticsearch-monitor-password"
GRAFANA_SECRET_KEY_FILE = "/run/secrets/grafana-secret-key"


class Login(NamedTuple):
    key: str  # lab:<key>, a Pulumi secret
    user: str
    part: str  # the part that must run for the login to exist (LabSettings.parts())
    place: str | None  # the URL key (lab.status.PARTS) where a person signs in; None: a service
    file: str | None = None  # where the container reads it (0400), None: no container file
    uid: str | None = None
    note: str = ""


LOGINS = (
    Login("grafanaAdminPassword", "admin", "grafana", "grafana", GRAFANA_PASSWORD_FILE, "472"),
    Login(
        "elasticPassword",
        "elastic",
        "elasticsearch",
        "elasticsearch",
        ELASTIC_PASSWORD_FILE,
        "1000",
    ),
    Login(
        "kibanaSystemPassword",
        "kibana_system",
        "kibana",
        None,
        kibana_yml.CONFIG_FILE,
        kibana_yml.KIBANA_UID,
    ),
    Login(
        "logstashWriterPassword",
        "lab_logstash_writer",
        "logstash",
        None,
        logstash_conf.PIPELINE_FILE,
        "1000",
    ),
    Login(
        "kibanaImporterPassword",
        "lab_kibana_importer",
        "kibana",
        None,
        note="no container file: the program's saved-objects import signs in with it",
    ),
    Login("labUserPassword", "lab", "kibana", "kibana"),
    Login(
        "monitorPassword",
        "lab_monitor",
        "elasticsearch_exporter",
        None,
        MONITOR_PASSWORD_FILE,
        "65534",
    ),
    Login(
        "traefikAdminPassword",
        traefik_yaml.ADMIN_USER,
        "traefik",
        "traefik",
        traefik_yaml.USERS_FILE,
        "65534",
        note="the file holds its bcrypt hash (salt: lab:passwordHashSalt); Prometheus and"
        " Alertmanager take the same login (their web config)",
    ),
    Login(
        "alertWebhookPassword",
        alertmanager_yaml.WEBHOOK_USER,
        "alertmanager",
        None,
        alertmanager_yaml.WEBHOOK_PASSWORD_FILE,
        "65534",
        note="Logstash's alerts pipeline holds it too (its HTTP input's user)",
    ),
    Login(
        "monitoringApiPassword",
        web_config.MONITORING_USER,
        "prometheus",
        None,
        web_config.PASSWORD_FILE,
        "65534",
        note="the lab's own clients of Prometheus and Alertmanager (Grafana, probes, checks)",
    ),
    Login(
        logstash_api.SECRET,
        logstash_api.USER,
        "logstash",
        None,
        logstash_api.CURL_CONFIG_FILE,
        "1000",
        note="Logstash's API: its logstash.yml and health check, the Logstash exporter and the"
        " blackbox probe (each from a 0400 file)",
    ),
)


class Key(NamedTuple):
    """A generated secret that is no login: a product's encryption key or the hashes' salt."""

    key: str  # lab:<key>, a Pulumi secret
    part: str  # the part that reads it (LabSettings.parts())
    file: str | None  # where the container reads it (0400); None: the program only
    uid: str | None = None


KEYS = (
    Key("passwordHashSalt", "traefik", None),
    Key("grafanaSecretKey", "grafana", GRAFANA_SECRET_KEY_FILE, "472"),
    Key("kibanaSecurityEncryptionKey", "kibana", kibana_yml.CONFIG_FILE, kibana_yml.KIBANA_UID),
    Key(
        "kibanaSavedObjectsEncryptionKey",
        "kibana",
        kibana_yml.CONFIG_FILE,
        kibana_yml.KIBANA_UID,
    ),
    Key("kibanaReportingEncryptionKey", "kibana", kibana_yml.CONFIG_FILE, kibana_yml.KIBANA_UID),
)
# Parts without a login of their own, which Traefik serves behind this basic auth.
MONITORING = traefik_yaml.MONITORING_ROUTES
HIDDEN = "(hidden: `make credentials SHOW=1` prints it)"
ALL = "all"  # --show without a place


def read_secrets(keys: list[str]) -> tuple[dict[str, str], str | None]:
    """The values of `lab:<key>` from the stack's secret config, or {} and why not."""
    if not automation.cli_present():
        return {}, "the Pulumi CLI is not installed here"
    if not automation.STATE_DIR.exists():
        return {}, "no Pulumi state yet: `make up` generates the passwords"
    try:
        automation.check_secrets()  # a missing passphrase is not replaced by a new one
        stack = automation.select_stack(install=False)
        # `pulumi config get` decrypts one key, as `--show-secrets` would.
        values = {key: stack.get_config(f"{lab_settings.NAMESPACE}:{key}").value for key in keys}
    except Exception as error:  # missing stack or key, wrong passphrase, corrupted value
        if explained := automation.explain(error):
            return {}, explained
        last = (str(error).strip().splitlines() or [type(error).__name__])[-1].strip()
        return {}, f"could not read them: {last[:200]}"
    return values, None


def print_credentials(
    settings: LabSettings, out: TextIO = sys.stdout, *, show: bool = False
) -> int:
    urls = configured_urls(settings)
    parts = settings.parts()
    running = [login for login in LOGINS if login.part in parts]
    values, why_not = read_secrets([login.key for login in running]) if show else ({}, None)
    stack, namespace = automation.STACK, lab_settings.NAMESPACE
    lines = [
        f"Logins of stack {stack}: each password is a Pulumi secret (generated by the first"
        " `make up`, kept after); by hand:",
        # env -u: a PULUMI_CONFIG_PASSPHRASE in the user's shell would win over the file.
        f"  env -u PULUMI_CONFIG_PASSPHRASE PULUMI_BACKEND_URL=file://{automation.STATE_DIR}"
        f" PULUMI_CONFIG_PASSPHRASE_FILE={automation.PASSPHRASE_FILE}"
        f" pulumi config get {namespace}:<key> --stack {stack}",
    ]
    for login in running:
        where = urls.get(login.place) if login.place else None
        lines.append(
            f"  {login.part:<22} user {login.user:<20}"
            f" {where or 'used by the lab itself, not a person'}"
        )
        lines.append(f"  {'':<22} for: {lab_settings.tables.SECRETS[login.key]}")
        lines.append(f"  {'':<22} key: {namespace}:{login.key}")
        if login.file:
            lines.append(
                f"  {'':<22} in the container: {login.file} (0400, uid {login.uid}),"
                " never in its environment"
            )
        if login.note:
            lines.append(f"  {'':<22} {login.note}")
        if login.key == "traefikAdminPassword":
            guarded = [settings.url("api", f"/{ui}/") for ui in MONITORING if ui in parts]
            if guarded:
                lines.append(f"  {'':<22} also signs in at {', '.join(guarded)}")
        if show:
            value = values.get(login.key)
            lines.append(f"  {'':<22} password: {value if value else f'(not read: {why_not})'}")
        else:
            lines.append(f"  {'':<22} password: {HIDDEN}")
    keys = [key for key in KEYS if key.part in parts]
    if keys:
        lines.append("Generated keys (no login, never shown; the command above reads one):")
    for key in keys:
        where = (
            f"in the container: {key.file} (0400, uid {key.uid})"
            if key.file
            else "read by the program only"
        )
        lines.append(f"  {key.part:<22} key: {namespace}:{key.key}, {where}")
        lines.append(f"  {'':<22} for: {lab_settings.tables.SECRETS[key.key]}")
    off = sorted({login.part for login in LOGINS} - set(parts))
    if off:
        lines.append(f"Switched off, so no login: {', '.join(off)}.")
    if settings.engine == "swarm":
        lines.append("On Swarm every port is published on every interface of its node.")
    else:
        lines.append(f"Every port is published on {settings.bind_address} only (lab:bindAddress).")
    if settings.allow_open_ports:
        lines.append(
            f"lab:allowOpenPorts names {', '.join(settings.allow_open_ports)}:"
            " these answer anyone there without a login."
        )
    print("\n".join(lines), file=out)
    return 0 if not show or values else 1


def print_password(settings: LabSettings, place: str, out: TextIO | None = None) -> int:
    """Only the password of the login a person uses at `place` (for the way in of `make up`)."""
    parts = settings.parts()
    places = {login.place: login for login in LOGINS if login.place and login.part in parts}
    login = places.get(place)
    if login is None:
        print(f"lab: no login at {place!r}; one of: {', '.join(sorted(places))}", file=sys.stderr)
        return 2
    values, why_not = read_secrets([login.key])
    if not values.get(login.key):
        print(f"lab: {login.user}'s password at {place} not read: {why_not}", file=sys.stderr)
        return 1
    print(values[login.key], file=out or sys.stdout)
    return 0


def find_login(name: str) -> Login:
    """The login `name` means: its user (unique ones), the place a person signs in with it
    (`grafana`, `traefik`: both users are `admin`) or its config key; LookupError otherwise."""
    for field in ("key", "place", "user"):
        found = [login for login in LOGINS if getattr(login, field) == name]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            places = " or ".join(login.place or login.key for login in found)
            raise LookupError(f"{name!r} is the user of more than one login: name {places}")
    users = sorted({login.user for login in LOGINS} - {"admin"} | {"grafana", "traefik"})
    raise LookupError(f"no login {name!r}; one of: {', '.join(users)}")


def rotate(name: str, out: TextIO | None = None) -> int:
    """A new generated password for one login, set as its Pulumi secret; the parts that use
    it take it on the next `make up` (their secret file changes, or the security setup re-runs)
    and the old one stops working there. An unknown name changes nothing."""
    out = out or sys.stdout
    try:
        login = find_login(name)
    except LookupError as error:
        print(f"lab: {error.args[0]}; nothing was changed", file=sys.stderr)
        return 2
    if not automation.cli_present() or not automation.STATE_DIR.exists():
        print(
            "lab: no Pulumi state yet: the first `make up` generates every password",
            file=sys.stderr,
        )
        return 1
    key = f"{lab_settings.NAMESPACE}:{login.key}"
    try:
        automation.check_secrets()  # a wrong passphrase is not papered over by a new value
        stack = automation.select_stack(install=False)
        from pulumi import automation as pulumi_automation

        stack.set_config(
            key, pulumi_automation.ConfigValue(value=automation.generated_secret(key), secret=True)
        )
    except Exception as error:  # the passphrase, the stack or the CLI: nothing was changed
        reason = automation.explain(error) or str(error).strip().splitlines()[-1][:200]
        print(f"lab: {key} not rotated: {reason}", file=sys.stderr)
        return 1
    print(
        f"lab: new password for {login.user} ({key}, {lab_settings.tables.SECRETS[login.key]})."
        " Run `make up` to apply it; the old one works until then.",
        file=out,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.credentials", description=__doc__.split(":")[0]
    )
    parser.add_argument(
        "--show",
        nargs="?",
        const=ALL,
        metavar="PLACE",
        help="print the passwords too; with a place (grafana, kibana, traefik, elasticsearch)"
        " only the password a person signs in with there",
    )
    parser.add_argument(
        "--rotate", metavar="USER", help="a new generated password for USER (or grafana, traefik)"
    )
    args = parser.parse_args(argv)
    if args.rotate is not None:
        return rotate(args.rotate)
    try:
        settings = automation.stack_settings()
        if args.show not in (None, ALL):
            return print_password(settings, args.show)
        return print_credentials(settings, show=args.show == ALL)
    except SettingsError as error:
        print(f"lab: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
