"""The way in: each UI's URL, the user to sign in with and the command that prints its
password. The end of `make up`, and of `make status` when the lab is up."""

from __future__ import annotations

import sys
from typing import TextIO

from app.contract import FUNCTIONS, sample_path
from lab.credentials import LOGINS, MONITORING
from lab.status import configured_urls
from stack.settings import LabSettings

NO_LOGIN = "no login"


def show_command(place: str) -> str:
    """What prints the password of the login used at `place` (lab/credentials.py --show)."""
    return f"make credentials SHOW={place}"


def rows(settings: LabSettings) -> list[tuple[str, str, str, str]]:
    """(what, URL, user, how to get the password) for everything a person opens."""
    urls = configured_urls(settings)
    parts = settings.parts()
    logins = {login.place: login for login in LOGINS if login.place and login.part in parts}
    found: list[tuple[str, str, str, str]] = []

    def add(what: str, url: str, place: str | None) -> None:
        login = logins.get(place)
        if login is None:
            found.append((what, url, "-", NO_LOGIN))
        else:
            found.append((what, url, login.user, show_command(place)))

    if "grafana" in urls:
        add("Grafana", urls["grafana"], "grafana")
    if "kibana" in urls:
        add("Kibana", urls["kibana"], "kibana")
    add("Traefik dashboard", urls["traefik"], "traefik")
    for ui in MONITORING:
        if ui in parts:
            add(ui.capitalize(), settings.url("api", f"/{ui}/"), "traefik")
    if "elasticsearch" in urls:
        add("Elasticsearch API", urls["elasticsearch"], "elasticsearch")
    add("Function API", urls["api"] + sample_path(FUNCTIONS[0]), None)
    for entry in settings.services:
        add(f"Your service {entry.name}", settings.url("api", entry.path + "/"), None)
    return found


def print_way_in(settings: LabSettings, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    table = [("open", "URL", "user", "password"), *rows(settings)]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    print("\nThe way in (passwords are generated; each command prints one):", file=out)
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  " + "  ".join([*cells, row[3]]), file=out)
