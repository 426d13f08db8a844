"""`make down` (issue 14): `pulumi destroy` keeps the data volumes (retain_on_delete), then the
front door deletes this lab's labelled volumes, naming each, unless KEEP_DATA=1."""

from __future__ import annotations

import contextlib
import uuid
from types import SimpleNamespace

import docker
import pytest

from lab import automation, deploy, volumes


class FakeVolumes:
    def __init__(self, names, in_use=()):
        self.names, self.in_use, self.filters, self.removed = list(names), set(in_use), [], []

    def list(self, filters):
        self.filters.append(filters)
        return [SimpleNamespace(name=name) for name in self.names]

    def get(self, name):
        def remove():
            if name in self.in_use:
                raise docker.errors.APIError("conflict", explanation=f"volume is in use - [{name}]")
            self.removed.append(name)

        return SimpleNamespace(remove=remove)


class FakeStack:
    def __init__(self, events):
        self.events = events

    def destroy(self, on_output):
        self.events.append("destroy")


@pytest.fixture
def events():
    return []


def run_down(events, names, *, keep_data, in_use=()):
    client = SimpleNamespace(volumes=FakeVolumes(names, in_use))
    code = deploy.down(FakeStack(events), client, keep_data=keep_data)
    return code, client.volumes


def test_down_names_the_volumes_then_deletes_them_after_destroy(events, capsys):
    names = ["lab-dev-elasticsearch-data", "lab-dev-prometheus-data"]
    code, fake = run_down(events, names, keep_data=False)
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert events == ["destroy"]
    assert fake.removed == names
    assert out == [
        "deleting the data volumes after the containers (KEEP_DATA=1 keeps them):"
        " lab-dev-elasticsearch-data, lab-dev-prometheus-data",
        "deleted volume lab-dev-elasticsearch-data",
        "deleted volume lab-dev-prometheus-data",
    ]
    project = automation.project_name()
    assert fake.filters == [{"label": [f"lab.project={project}", f"lab.stack={automation.STACK}"]}]


def test_keep_data_destroys_the_containers_and_keeps_every_volume(events, capsys):
    code, fake = run_down(events, ["lab-dev-prometheus-data"], keep_data=True)
    assert code == 0
    assert events == ["destroy"]
    assert fake.removed == []
    assert capsys.readouterr().out == (
        "keeping the data volumes (KEEP_DATA=1): lab-dev-prometheus-data\n"
    )


def test_a_volume_in_use_is_named_and_down_fails(events, capsys):
    with pytest.raises(deploy.LabError, match=r"still in use, not deleted: b-data$"):
        run_down(events, ["a-data", "b-data"], keep_data=False, in_use={"b-data"})
    out = capsys.readouterr().out
    assert "deleted volume a-data" in out
    assert "volume b-data: not deleted: volume is in use - [b-data]" in out


def test_main_passes_keep_data_and_refuses_it_elsewhere(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(deploy, "run", lambda command, keep_data: seen.append(keep_data) or 0)
    assert deploy.main(["down", "--keep-data"]) == 0
    assert deploy.main(["down"]) == 0
    assert seen == [True, False]
    assert deploy.main(["up", "--keep-data"]) == 2
    assert "usage" in capsys.readouterr().err


@pytest.mark.live
def test_only_this_stacks_volumes_are_deleted_on_the_real_daemon(docker_client, monkeypatch):
    stack = f"helperd-down-{uuid.uuid4().hex[:6]}"
    monkeypatch.setattr(automation, "STACK", stack)
    project = automation.project_name()
    ours = [f"{stack}-{part}-data" for part in ("prometheus", "elasticsearch")]
    other = f"{stack}-other-stack-data"
    for name in ours:
        docker_client.volumes.create(
            name, labels={"lab.project": project, "lab.stack": stack, "lab.part": "x"}
        )
    docker_client.volumes.create(
        other, labels={"lab.project": project, "lab.stack": f"{stack}-x", "lab.part": "x"}
    )
    try:
        assert volumes.lab_volumes(docker_client, project, stack) == sorted(ours)
        assert deploy.down(FakeStack([]), docker_client, keep_data=True) == 0
        assert volumes.lab_volumes(docker_client, project, stack) == sorted(ours)
        assert deploy.down(FakeStack([]), docker_client, keep_data=False) == 0
        assert volumes.lab_volumes(docker_client, project, stack) == []
        assert docker_client.volumes.get(other).name == other  # another stack's data stays
    finally:
        for name in (*ours, other):
            with contextlib.suppress(docker.errors.NotFound):
                docker_client.volumes.get(name).remove()
