"""`make logs`: follow the lab's containers through the Docker SDK, one stream per container,
selected by the `lab.project`/`lab.stack` labels every container carries."""

from __future__ import annotations

import argparse
import queue
import sys
import threading
from collections.abc import Callable, Iterable
from typing import TextIO

from lab import automation


def lab_containers(client, project: str, stack: str) -> list:
    labels = [f"lab.project={project}", f"lab.stack={stack}"]
    return sorted(client.containers.list(filters={"label": labels}), key=lambda c: c.name)


def _pump(container, lines: queue.Queue, tail: int, follow: bool) -> None:
    """Push one container's log lines, prefixed with its name, until its stream ends."""
    pending = b""
    try:
        for chunk in container.logs(stream=True, follow=follow, tail=tail):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                lines.put(f"{container.name} | {line.decode(errors='replace')}")
    except Exception as error:  # the container went away or the daemon hung up
        lines.put(f"{container.name} | (log stream ended: {error})")
    if pending:
        lines.put(f"{container.name} | {pending.decode(errors='replace')}")
    lines.put(None)  # this stream is done


def follow_logs(
    containers: Iterable,
    out: TextIO = sys.stdout,
    *,
    tail: int = 20,
    follow: bool = True,
) -> None:
    """Interleave the containers' log lines on `out` until every stream has ended."""
    lines: queue.Queue = queue.Queue()
    pumps = [
        threading.Thread(target=_pump, args=(c, lines, tail, follow), daemon=True)
        for c in containers
    ]
    for pump in pumps:
        pump.start()
    running = len(pumps)
    while running:
        try:
            line = lines.get(timeout=0.5)  # a timeout keeps Ctrl-C responsive
        except queue.Empty:
            continue
        if line is None:
            running -= 1
        else:
            print(line, file=out, flush=True)


def docker_client():
    import docker

    client = docker.from_env(timeout=30)
    client.ping()
    return client


def print_logs(
    out: TextIO = sys.stdout,
    *,
    project: str | None = None,
    stack: str | None = None,
    tail: int = 20,
    follow: bool = True,
    client_factory: Callable = docker_client,
) -> int:
    project, stack = project or automation.project_name(), stack or automation.STACK
    try:
        client = client_factory()
    except Exception as error:  # no daemon, no permission, DOCKER_HOST wrong
        print(f"cannot reach Docker ({error}); is DOCKER_HOST right?", file=out)
        return 1
    try:
        containers = lab_containers(client, project, stack)
        if not containers:
            print(
                f"no running container labelled lab.project={project}, lab.stack={stack}:"
                " is the lab up (`make up`)?",
                file=out,
            )
            return 1
        names = ", ".join(c.name for c in containers)
        print(f"following {names} (Ctrl-C stops)", file=out, flush=True)
        follow_logs(containers, out, tail=tail, follow=follow)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.logs", description=__doc__.split(",")[0])
    parser.add_argument("--tail", type=int, default=20, help="earlier lines to show first")
    parser.add_argument("--no-follow", action="store_true", help="print and exit")
    parser.add_argument("--project", help="lab.project label (default: Pulumi.yaml's name)")
    parser.add_argument("--stack", help=f"lab.stack label (default: {automation.STACK})")
    args = parser.parse_args(argv)
    return print_logs(
        project=args.project, stack=args.stack, tail=args.tail, follow=not args.no_follow
    )


if __name__ == "__main__":
    sys.exit(main())
