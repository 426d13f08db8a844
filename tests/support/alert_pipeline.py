"""The alerts branch of the Logstash pipeline (stack/configs/logstash_alerts.py) applied to a
webhook payload, for its shape: which events come out, with which fields and types.

Logstash cannot run here, so this reads the rendered filter (not a copy of it) and follows its
four steps as the bundled plugins define them: `split` puts each element of the array field in
the field's place, one event per element (logstash-filter-split lib/logstash/filters/split.rb);
mutate `rename` moves a field and skips a missing one (logstash-filter-mutate v3.5.8
lib/logstash/filters/mutate.rb); a conditional `remove_field`; `prune` keeps the top-level
fields whose name matches a whitelist regexp (logstash-filter-prune lib/logstash/filters/
prune.rb). Field types are checked against the alerts index template as Elasticsearch reads a
JSON value for that type.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stack.configs import logstash_alerts
from stack.configs.alertmanager_yaml import FUNCTION_LABEL
from tests.support import index_templates

_REF = r"(?:\[[^\]\"]+\])+"
# elastic/elasticsearch DateFieldMapper.DEFAULT_DATE_TIME_FORMATTER is
# strict_date_optional_time||epoch_millis; DateFormatters STRICT_DATE_OPTIONAL_TIME: a 4-digit
# year, optional time, a fraction of 1 to 9 digits, an optional Z or +hh:mm offset.
_STRICT_DATE_OPTIONAL_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
)


def path(reference: str) -> tuple[str, ...]:
    """`[alerts][labels][function]` -> ("alerts", "labels", "function")."""
    return tuple(re.findall(r"\[([^\]]+)\]", reference))


@dataclass(frozen=True)
class AlertFilter:
    """What the rendered filter does, read from its text."""

    split_field: str
    renames: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]
    # (field tested, value it equals, field removed)
    removals: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...]
    keep: tuple[re.Pattern, ...]

    @classmethod
    def rendered(cls, text: str | None = None) -> AlertFilter:
        text = logstash_alerts.filter_block() if text is None else text
        (split_field,) = re.findall(r'split \{\s*field => "([^"]+)"', text)
        renames = tuple(
            (path(source), path(target))
            for source, target in re.findall(rf'"({_REF})" => "({_REF})"', text)
        )
        removals = tuple(
            (path(tested), value, path(removed))
            for tested, value, removed in re.findall(
                rf'if ({_REF}) == "([^"]*)" \{{\s*mutate \{{\s*remove_field => \["({_REF})"\]',
                text,
            )
        )
        (whitelist,) = re.findall(r"whitelist_names => \[([^\]]*)\]", text)
        keep = tuple(re.compile(name) for name in re.findall(r'"([^"]+)"', whitelist))
        return cls(split_field, renames, removals, keep)

    def events(self, payload: Mapping[str, Any]) -> list[dict]:
        """The events one webhook notification becomes (the http input's own fields, which
        prune drops anyway, left out)."""
        elements = payload[self.split_field]
        assert isinstance(elements, list), f"{self.split_field} is not an array: {elements!r}"
        received = {"@timestamp": datetime.now(UTC).isoformat(), "tags": [logstash_alerts.TAG]}
        found = []
        for element in elements:
            event = {**copy.deepcopy(dict(payload)), **received}
            event[self.split_field] = copy.deepcopy(element)
            for source, target in self.renames:
                value = _pop(event, source)
                if value is not _MISSING:
                    _put(event, target, value)
            for tested, value, removed in self.removals:
                if _get(event, tested) == value:
                    _pop(event, removed)
            found.append({k: v for k, v in event.items() if any(p.search(k) for p in self.keep)})
        return found

    def missing_sources(self, payload: Mapping[str, Any]) -> list[tuple[int, str]]:
        """(alert index, webhook field) for each field a rename reads that an alert lacks."""
        return [
            (index, ".".join(source[1:]))
            for index, element in enumerate(payload[self.split_field])
            for source, _ in self.renames
            if _get({self.split_field: element}, source) is _MISSING
        ]


def template_types() -> dict[str, str]:
    """Dotted field -> mapped type, from the alerts index template the pipeline installs."""
    return index_templates.template_types(logstash_alerts.template())


def type_problems(event: Mapping[str, Any], types: Mapping[str, str]) -> list[str]:
    """Each field of `event` that the template does not map, or whose value Elasticsearch
    would not take as the mapped type."""
    problems = []
    for dotted, value in _leaves(event):
        kind = types.get(dotted)
        if dotted == "tags":
            continue  # Logstash's own; the template leaves it to dynamic mapping
        if kind is None:
            problems.append(f"{dotted} is not in the template")
        elif kind in ("keyword", "text") and not isinstance(value, str):
            problems.append(f"{dotted} = {value!r} is not a string ({kind})")
        elif kind == "date" and not (
            isinstance(value, int) or _STRICT_DATE_OPTIONAL_TIME.match(str(value))
        ):
            problems.append(f"{dotted} = {value!r} is not strict_date_optional_time")
    return problems


_MISSING = object()


def _leaves(event: Mapping[str, Any], prefix: str = ""):
    for name, value in event.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, f"{prefix}{name}.")
        else:
            yield prefix + name, value


def _get(event: Mapping, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(event, Mapping) or key not in event:
            return _MISSING
        event = event[key]
    return event


def _pop(event: dict, keys: tuple[str, ...]) -> Any:
    parent = _get(event, keys[:-1])
    if not isinstance(parent, dict) or keys[-1] not in parent:
        return _MISSING
    return parent.pop(keys[-1])


def _put(event: dict, keys: tuple[str, ...], value: Any) -> None:
    for key in keys[:-1]:
        event = event.setdefault(key, {})
    event[keys[-1]] = value


def check_payloads(payloads: list[Mapping[str, Any]], lab_wide_alerts: set[str]) -> None:
    """Every field the rendered filter reads is in each alert of these webhook payloads, and
    every event it makes has the template's types; only an alert about the whole lab (one of
    `lab_wide_alerts`) may lack the function label, and a firing alert's event has no end."""
    pipeline, types = AlertFilter.rendered(), template_types()
    for payload in payloads:
        for index, field in pipeline.missing_sources(payload):
            labels = payload[pipeline.split_field][index]["labels"]
            assert field == f"labels.{FUNCTION_LABEL}", (field, payload)
            assert labels["alertname"] in lab_wide_alerts, labels
        for event in pipeline.events(payload):
            problems = type_problems(event, types)
            assert not problems, (problems, payload)
            if event["alert"]["status"] == logstash_alerts.FIRING:
                assert "ends_at" not in event["alert"], event
