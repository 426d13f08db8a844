"""Logstash's part of the alert receiver: an HTTP input for Alertmanager's webhook that splits
each notification into one event per alert, in its own index with its own template (installed
by the security setup step, stack/elasticsearch.py index_templates()).

The field names come from dashboards/alert_events.py; logstash_conf.alerts_pipeline() places
these blocks in a pipeline of their own, apart from the GELF logs (issue 22).
"""

from __future__ import annotations

from dashboards.alert_events import (
    ALERT_FIELDS,
    ALERTS_INDEX_PATTERN,
    ALERTS_INDEX_PREFIX,
    EVENT_FIELD_TYPES,
)
from stack.configs.elasticsearch_template import _nested_properties

# Inside the lab network only: Alertmanager posts here, nothing on the host does.
PORT = 8088
PATH = "/"
TAG = "lab_alert"
# Where the webhook's list of alerts is, and where each alert sits after the split.
ALERTS_FIELD = "alerts"
# The status Alertmanager's webhook gives an alert that has not ended.
FIRING = "firing"


def webhook_url(host: str = "logstash") -> str:
    """Alertmanager's webhook target (alertmanager_yaml.render(webhook_url=...))."""
    return f"http://{host}:{PORT}{PATH}"


def _logstash_path(dotted: str) -> str:
    return "".join(f"[{part}]" for part in dotted.split("."))


def _event_field(webhook_field: str) -> str:
    """The event field an alert's top-level webhook field becomes (alert_events.ALERT_FIELDS)."""
    (name,) = [name for name, (source, _) in ALERT_FIELDS.items() if source == (webhook_field,)]
    return name


def input_block(login: str = "") -> str:
    """The HTTP input; `login` its `user`/`password` lines (logstash-input-http v3.10.3
    http.rb: `config :user`, `config :password, :validate => :password`; without them it
    takes any request), rendered by logstash_conf so the password is quoted as Logstash reads
    it."""
    # Alertmanager sends application/json, which the input decodes to the event's root.
    lines = "".join(f"    {line}\n" for line in login.splitlines())
    return f"""\
  http {{
    port => {PORT}
    tags => ["{TAG}"]
{lines}  }}
"""


def filter_block() -> str:
    """One event per alert, its fields renamed; everything else of the payload dropped.

    A firing alert has not ended: Alertmanager sends its endsAt as Go's zero time,
    0001-01-01T00:00:00Z (prometheus/alertmanager v0.28.1 types/types.go `Alerts`: "If the end
    timestamp is not reached yet, do not expose it"), which the index would store as an alert
    that ended in year 1; so a firing alert's event has no end time.
    """
    ends_at, status = _logstash_path(_event_field("endsAt")), _logstash_path(_event_field("status"))
    renames = "\n".join(
        f'        "{_logstash_path(ALERTS_FIELD + "." + ".".join(source))}" => '
        f'"{_logstash_path(name)}"'
        for name, (source, _) in ALERT_FIELDS.items()
    )
    return f"""\
  if "{TAG}" in [tags] {{
    split {{
      field => "{ALERTS_FIELD}"
    }}
    mutate {{
      rename => {{
{renames}
      }}
    }}
    if {status} == "{FIRING}" {{
      mutate {{
        remove_field => ["{ends_at}"]
      }}
    }}
    prune {{
      whitelist_names => ["^@timestamp$", "^alert$", "^lab$", "^tags$"]
    }}
  }}
"""


def output_block(elasticsearch_url: str, credentials: str = "") -> str:
    """The alerts' elasticsearch output; `credentials` are the writer's login lines as
    logstash_conf renders them for its own output (the writer role covers both indices)."""
    login = "".join(f"  {line}\n" for line in credentials.splitlines())
    return f"""\
  if "{TAG}" in [tags] {{
    elasticsearch {{
      hosts => ["{elasticsearch_url}"]
      index => "{ALERTS_INDEX_PREFIX}%{{+YYYY.MM.dd}}"
      data_stream => "false"
      ilm_enabled => "false"
      manage_template => false
{login}    }}
  }}
"""


def template() -> dict:
    return {
        "index_patterns": [ALERTS_INDEX_PATTERN],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {"properties": _nested_properties(EVENT_FIELD_TYPES)},
        },
        "_meta": {"description": "Alertmanager notifications, one document per alert"},
    }
