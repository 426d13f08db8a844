"""lab/status.py on the Swarm stack: the lab's tasks listed per node, from a manager's API."""

from __future__ import annotations

import io
from types import SimpleNamespace

from lab import status


class FakeService:
    def __init__(self, name: str, tasks: list[dict]) -> None:
        self.name, self._tasks = name, tasks

    def tasks(self, filters=None):
        return self._tasks


class FakeSwarm:
    def __init__(self) -> None:
        self.nodes = SimpleNamespace(
            list=lambda: [
                SimpleNamespace(id="a", attrs={"Description": {"Hostname": "node1"}}),
                SimpleNamespace(id="b", attrs={"Description": {"Hostname": "node2"}}),
                SimpleNamespace(id="c", attrs={"Description": {"Hostname": "node3"}}),
            ]
        )
        self.asked: list[dict] = []
        running = {"State": "running"}
        fib = FakeService(
            "lab-swarm-fibonacci",
            [
                {"NodeID": "a", "Slot": 1, "Status": running},
                {"NodeID": "b", "Slot": 2, "Status": {"State": "starting"}},
            ],
        )
        self.services = SimpleNamespace(list=self._services)
        self._list = [fib]

    def _services(self, filters=None):
        self.asked.append(filters)
        return self._list


def test_tasks_are_listed_under_their_node_and_idle_nodes_say_so():
    swarm = FakeSwarm()
    placed = status.tasks_per_node(swarm, "swarm")
    assert swarm.asked == [{"label": "lab.stack=swarm"}]
    assert placed == {
        "node1": ["lab-swarm-fibonacci.1 running"],
        "node2": ["lab-swarm-fibonacci.2 starting"],
        "node3": [],
    }


def test_an_unreachable_manager_is_one_line_not_a_traceback(monkeypatch):
    import docker

    def refuse():
        raise docker.errors.DockerException("no manager")

    monkeypatch.setattr(docker, "from_env", refuse)
    out = io.StringIO()
    status.print_tasks("swarm", out)
    assert out.getvalue() == "tasks: cannot read the swarm (no manager)\n"
