"""Write every rendered dashboard, rule file and saved-object file into a folder.

`python -m dashboards.render OUT_DIR` (`make dashboards`): the same text the Pulumi program
uploads, for a person to read or diff.
"""

import argparse
from pathlib import Path

from dashboards import kibana, rules
from dashboards.grafana import common, overview
from stack.render import FUNCTIONS

# The default of the stack config `lab:slowCallMs`.
SLOW_CALL_MS = 5


def render_all(
    out_dir: Path, functions=FUNCTIONS, *, slow_call_ms: int = SLOW_CALL_MS
) -> list[Path]:
    """Render everything into out_dir; returns the files written."""
    files = {
        out_dir / "grafana" / f"{overview.UID}.json": common.dump(overview.build(functions)),
        out_dir / "prometheus" / "lab-rules.yml": rules.render(functions),
        out_dir / "kibana" / "lab-saved-objects.ndjson": kibana.render(slow_call_ms=slow_call_ms),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--slow-call-ms", type=int, default=SLOW_CALL_MS)
    args = parser.parse_args(argv)
    for path in render_all(args.out_dir, slow_call_ms=args.slow_call_ms):
        print(path)


if __name__ == "__main__":
    main()
