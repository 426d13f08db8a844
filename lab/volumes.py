"""The data volumes of one lab (`make down`, issue 14): the program keeps them on delete
(`retain_on_delete`), so `pulumi destroy` leaves them, and the front door removes them by their
labels unless KEEP_DATA=1 asks to keep the metrics and logs for the next `make up`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def labels(project: str, stack: str) -> list[str]:
    """The label filter that selects this project's stack, and nothing of another lab."""
    return [f"lab.project={project}", f"lab.stack={stack}"]


def lab_volumes(client: Any, project: str, stack: str) -> list[str]:
    """Names of the volumes labelled with this project and stack, sorted."""
    found = client.volumes.list(filters={"label": labels(project, stack)})
    return sorted(volume.name for volume in found)


def announce(names: list[str], *, keep: bool) -> str:
    if not names:
        return "no data volumes of this lab to delete"
    listed = ", ".join(names)
    if keep:
        return f"keeping the data volumes (KEEP_DATA=1): {listed}"
    return f"deleting the data volumes after the containers (KEEP_DATA=1 keeps them): {listed}"


def remove(client: Any, names: list[str], report: Callable[[str], None] = print) -> list[str]:
    """Remove each volume, reporting each one; returns the ones that could not be removed."""
    import docker

    failed = []
    for name in names:
        try:
            client.volumes.get(name).remove()
        except docker.errors.NotFound:
            report(f"volume {name}: already gone")
        except docker.errors.APIError as error:  # in use by a container the lab did not declare
            report(f"volume {name}: not deleted: {error.explanation or error}")
            failed.append(name)
        else:
            report(f"deleted volume {name}")
    return failed
