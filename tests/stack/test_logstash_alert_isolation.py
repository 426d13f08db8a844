"""Only Alertmanager can write an alert (issue 22, item 3): a log line whose JSON carries the
alerts' tag never reaches `lab-alerts-*`, because the GELF input and the alerts' output are in
different pipelines of the declared Logstash.

Which pipelines Logstash runs follows its source (elastic/logstash v8.19.4,
logstash-core/lib/logstash/config/source/local.rb `match?`: a `path.config` in logstash.yml
makes every file of that path one pipeline, `main`; otherwise multi_local.rb runs each entry of
pipelines.yml, each from its own `path.config`; docs "Multiple Pipelines": events never cross
between pipelines unless a `pipeline` output sends them). Within a pipeline every event meets
every output whose `if "<tag>" in [tags]` conditions hold (logstash-core's conditional
compilation). The log line goes through the lab's modelled filters (tests/dashboards/
logstash_shape.py: the JSON merges at the event's root, so its `tags` become the event's).
"""

from __future__ import annotations

import json
import re

import yaml

from dashboards.alert_events import ALERTS_INDEX_PREFIX
from stack.configs import logstash_alerts, logstash_conf
from tests.dashboards import logstash_shape
from tests.stack.captured import containers, declared_under

CONDITION = re.compile(r'^\s*if\s+"([^"]+)"\s+(not\s+)?in\s+\[tags\]\s*\{\s*$')
OPEN = re.compile(r"^\s*([a-z_]+)\s*\{\s*$")
INDEX = re.compile(r'^\s*index\s*=>\s*"([^"]+)"')


def declared_pipelines(logstash: dict) -> dict[str, str]:
    """pipeline id -> its config text, as Logstash 8.19 picks them from the uploads."""
    uploads = {entry["file"]: entry["content"] for entry in logstash["inputs"]["uploads"]}
    settings = yaml.safe_load(uploads[logstash_conf.SETTINGS_FILE])
    if settings.get("path.config"):
        directory = settings["path.config"].rstrip("/") + "/"
        texts = [text for path, text in sorted(uploads.items()) if path.startswith(directory)]
        return {"main": "\n".join(texts)}
    entries = yaml.safe_load(uploads[logstash_conf.PIPELINES_FILE])
    return {entry["pipeline.id"]: uploads[entry["path.config"]] for entry in entries}


def sections(text: str, name: str) -> str:
    """The lines of every top-level `name { ... }` section of a pipeline file."""
    lines, depth, inside = [], 0, False
    for line in text.splitlines():
        if depth == 0 and re.match(rf"^{name}\s*\{{\s*$", line):
            inside, depth = True, 1
            continue
        if inside:
            depth += line.count("{") - line.count("}")
            if depth <= 0:
                inside, depth = False, 0
                continue
            lines.append(line)
    return "\n".join(lines)


def outputs(text: str) -> list[tuple[str, list[tuple[str, bool]]]]:
    """(plugin, conditions) per output plugin; a condition is (tag, wanted in [tags])."""
    found, stack = [], []  # stack: a condition per `if`, None per plugin block
    for line in sections(text, "output").splitlines():
        if match := CONDITION.match(line):
            stack.append((match.group(1), match.group(2) is None))
        elif match := OPEN.match(line):
            found.append([match.group(1), [c for c in stack if c], None])
            stack.append(None)
        elif (match := INDEX.match(line)) and found:
            found[-1][2] = match.group(1)
        elif line.strip() == "}" and stack:
            stack.pop()
    return [(index or plugin, conditions) for plugin, conditions, index in found]


def reached(text: str, event: dict) -> list[str]:
    """The outputs (by index) an event at the end of the filters reaches in this pipeline."""
    tags = event.get("tags") or []
    return [
        index
        for index, conditions in outputs(text)
        if all((tag in tags) == wanted for tag, wanted in conditions)
    ]


def forged_line() -> dict:
    """A function replica's stdout line dressed as an alert document (tags, timestamp,
    service), as Docker's gelf driver ships it."""
    line = json.dumps(
        {
            "@timestamp": "2026-01-01T00:00:00Z",
            "tags": [logstash_alerts.TAG],
            "message": "forged",
            "alert": {"name": "LabTargetDown", "status": "firing"},
            "service": {"name": "prometheus"},
        }
    )
    return logstash_shape.gelf_message(line, container="lab-dev-fibonacci-1")


def test_a_forged_log_line_never_reaches_the_alerts_index():
    logstash = containers(declared_under("default"))["lab-dev-logstash"]
    pipelines = declared_pipelines(logstash)
    (gelf_pipeline,) = [i for i, text in pipelines.items() if "gelf {" in sections(text, "input")]
    event = logstash_shape.shape(forged_line())
    assert logstash_alerts.TAG in event["tags"]  # the JSON did merge its tags at the root
    indices = reached(pipelines[gelf_pipeline], event)
    assert indices, "the forged line reached no output at all"
    forged = [index for index in indices if index.startswith(ALERTS_INDEX_PREFIX)]
    assert not forged, f"a log line with tags {event['tags']} reaches {forged}"
    # Whatever a line holds: the GELF pipeline has no alerts output and sends to no pipeline.
    written = [index for index, _ in outputs(pipelines[gelf_pipeline])]
    assert not [index for index in written if index.startswith(ALERTS_INDEX_PREFIX)], written
    assert "pipeline" not in written


def test_alertmanagers_webhook_still_reaches_the_alerts_index():
    """The split keeps the alerts path: the HTTP input's pipeline writes `lab-alerts-*`."""
    logstash = containers(declared_under("default"))["lab-dev-logstash"]
    pipelines = declared_pipelines(logstash)
    (http_pipeline,) = [i for i, text in pipelines.items() if "http {" in sections(text, "input")]
    alert = {"tags": [logstash_alerts.TAG], "alert": {"name": "LabTargetDown"}}
    (index,) = reached(pipelines[http_pipeline], alert)
    assert index.startswith(ALERTS_INDEX_PREFIX), index
    assert "gelf {" not in sections(pipelines[http_pipeline], "input")
