"""`make dashboards`: write the Grafana dashboard, the Prometheus rules and the Kibana saved
objects into a folder, as the same text the Pulumi program uploads, for a person to read or diff."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from app.contract import FUNCTIONS
from dashboards import grafana_overview, grafana_panels, kibana_objects, prometheus_rules
from lab import automation
from stack.settings import SettingsError


def render_all(
    out_dir: Path, functions: Sequence[str] = FUNCTIONS, *, slow_call_ms: int
) -> list[Path]:
    """Render everything into out_dir; returns the files written."""
    files = {
        out_dir / "grafana" / f"{grafana_overview.UID}.json": grafana_panels.dump(
            grafana_overview.build(functions)
        ),
        out_dir / "prometheus" / "lab-rules.yml": prometheus_rules.render(functions),
        out_dir / "kibana" / "lab-saved-objects.ndjson": kibana_objects.render(
            slow_call_ms=slow_call_ms
        ),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.export", description=__doc__.split(",")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument(
        "--slow-call-ms", type=int, help="Kibana's slow-call search (default: lab:slowCallMs)"
    )
    args = parser.parse_args(argv)
    slow_call_ms = args.slow_call_ms
    if slow_call_ms is None:
        try:
            slow_call_ms = automation.stack_settings().slow_call_ms
        except SettingsError as error:
            print(f"lab: {error}", file=sys.stderr)
            return 1
    for path in render_all(args.out_dir, slow_call_ms=slow_call_ms):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
