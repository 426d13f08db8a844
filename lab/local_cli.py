"""`make local`'s command line: start LocalLab (lab/local.py), print its addresses, and run
until Ctrl-C, SIGTERM or a process of the lab exits."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence

from lab import support
from lab.local import DEFAULT_PORTS, LocalLab
from lab.support import LabError
from stack.settings import LabSettings

DESCRIPTION = "The lab as plain processes on 127.0.0.1, with no Docker and no Pulumi."


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make local",
        description="The lab as plain processes on 127.0.0.1, with no Docker and no Pulumi.",
    )
    parser.add_argument("--replicas", type=int, default=LabSettings().replicas)
    for key, port in DEFAULT_PORTS.items():
        parser.add_argument(f"--{key}-port", type=int, default=port)
    parser.add_argument(
        "--free-ports", action="store_true", help="pick free ports instead of 8000/8080/9090"
    )
    parser.add_argument("--no-prometheus", action="store_true", help="skip Prometheus")
    parser.add_argument("--scrape-interval", default="5s")
    parser.add_argument("--workdir", default=str(support.BUILD_DIR / "local"))
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM takes the same clean path as Ctrl-C: unwinding through LocalLab.__exit__.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Explicitly, for SIGINT too: a shell starts background jobs with SIGINT ignored, and
    # Python keeps an inherited "ignore", which would make `kill -INT` do nothing.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    chosen = {key: getattr(args, f"{key}_port") for key in DEFAULT_PORTS}
    lab = LocalLab(
        replicas=args.replicas,
        with_prometheus=False if args.no_prometheus else None,
        scrape_interval=args.scrape_interval,
        ports={} if args.free_ports else chosen,
        workdir=args.workdir,
    )
    print("starting the lab's processes on 127.0.0.1 ...", file=sys.stderr, flush=True)
    try:
        with lab:
            width = max(len(name) for name in lab.urls())
            for name, url in lab.urls().items():
                print(f"{name:<{width}}  {url}")
            if not lab.with_prometheus:
                print("(prometheus: not installed or switched off)")
            print(f"logs: {lab.workdir}/logs/", flush=True)
            print("Ctrl-C stops everything.", file=sys.stderr, flush=True)
            while not (gone := lab.exited()):
                time.sleep(0.5)
            for child in gone:
                print(
                    f"{child.name} exited with {child.process.returncode}; its log:\n"
                    f"{child.log_tail()}",
                    file=sys.stderr,
                )
            return 1
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 0
    except LabError as error:
        print(f"the lab did not start: {error}", file=sys.stderr)
        return 1
