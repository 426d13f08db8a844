"""`make dashboards-export UID=...`: a dashboard someone made in Grafana's UI, written out as
JSON for a person to keep (in git, or to turn into code under dashboards/).

It asks Grafana's HTTP API as the lab's admin, `GET /api/dashboards/uid/<uid>` (grafana/grafana
pkg/api/dashboard.go GetDashboard: 200 with `{"dashboard": ..., "meta": ...}`, 404 "Dashboard not
found"), and writes the `dashboard` model without its `id` (a number only that database knows,
as Grafana's own "Export for sharing externally" drops it).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

from lab import automation
from lab.credentials import read_secrets
from lab.status import configured_urls
from stack.settings import SettingsError

# Grafana's own rule for a uid it generates or accepts: letters, digits, '-' and '_', at most 40.
UID = re.compile(r"[A-Za-z0-9_-]{1,40}")
ADMIN_USER = "admin"
PASSWORD_KEY = "grafanaAdminPassword"


class ExportError(RuntimeError):
    pass


def fetch_dashboard(grafana_url: str, uid: str, password: str, timeout: float = 10.0) -> dict:
    """Grafana's answer for `uid`: {"dashboard": ..., "meta": ...}; ExportError saying why not."""
    if not UID.fullmatch(uid):
        raise ExportError(f"{uid!r} is not a dashboard uid (letters, digits, '-', '_', at most 40)")
    url = grafana_url.rstrip("/") + f"/api/dashboards/uid/{uid}"
    login = base64.b64encode(f"{ADMIN_USER}:{password}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {login}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise ExportError(f"Grafana has no dashboard with uid {uid!r}") from None
        if error.code in (401, 403):
            raise ExportError(
                f"Grafana refused the admin login (HTTP {error.code}): `make up` sets the"
                " password from the secret; `make credentials SHOW=grafana` prints it"
            ) from None
        raise ExportError(f"Grafana answered HTTP {error.code} for {url}") from None
    except (OSError, ValueError) as error:
        raise ExportError(f"no answer from Grafana at {url}: {error} (make status)") from None


def export(grafana_url: str, uid: str, password: str, out_dir: Path) -> Path:
    """Write the dashboard to `out_dir/<uid>.json` (sorted, indented: clean diffs)."""
    answer = fetch_dashboard(grafana_url, uid, password)
    model = {key: value for key, value in answer["dashboard"].items() if key != "id"}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{uid}.json"
    path.write_text(json.dumps(model, indent=2, sort_keys=True) + "\n")
    if answer.get("meta", {}).get("provisioned"):
        print(
            f"lab: {uid} is provisioned by the lab: its code is in dashboards/ already",
            file=sys.stderr,
        )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make dashboards-export", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("uid", help="the dashboard's uid (in its URL: /grafana/d/<uid>/...)")
    parser.add_argument("--out", default="build/dashboards/exported", help="where to write it")
    parser.add_argument("--url", help="Grafana's URL (default: the stack's)")
    args = parser.parse_args(argv)
    try:
        settings = automation.stack_settings()
        url = args.url or configured_urls(settings).get("grafana")
        if not url:
            print("lab: Grafana is switched off in this stack (lab:grafana)", file=sys.stderr)
            return 1
        values, why_not = read_secrets([PASSWORD_KEY])
        if not values.get(PASSWORD_KEY):
            print(f"lab: Grafana's admin password not read: {why_not}", file=sys.stderr)
            return 1
        path = export(url, args.uid, values[PASSWORD_KEY], Path(args.out))
    except (ExportError, SettingsError) as error:
        print(f"lab: {error}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
