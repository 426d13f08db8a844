"""Logstash's pipeline (GELF over TCP in, ECS fields at the root, a daily index out) and
`logstash.yml` (persisted queue and dead-letter queue on the data volume)."""

from __future__ import annotations

from collections.abc import Mapping

import yaml

from app.contract import LOGS_INDEX_PREFIX, TRACEPARENT_HEADER, TRACERESPONSE_HEADER
from stack.configs import elasticsearch_security, logstash_alerts, logstash_api
from stack.settings import LOGSTASH_GELF_PORT

PIPELINE_DIR = "/usr/share/logstash/pipeline"
PIPELINE_FILE = f"{PIPELINE_DIR}/logstash.conf"
# The alerts have a pipeline of their own (issue 22): no log line, whatever JSON it holds, can
# reach the alerts' output. Logstash runs every pipeline of pipelines.yml when logstash.yml sets
# no `path.config` (logstash-core/lib/logstash/config/source/local.rb `match?` takes
# `path.config`, multi_local.rb reads pipelines.yml otherwise; docs: "Multiple Pipelines").
ALERTS_PIPELINE_FILE = f"{PIPELINE_DIR}/alerts.conf"
PIPELINES_FILE = "/usr/share/logstash/config/pipelines.yml"
LOGS_PIPELINE_ID = "main"
ALERTS_PIPELINE_ID = "alerts"
SETTINGS_FILE = "/usr/share/logstash/config/logstash.yml"
DATA_DIR = "/usr/share/logstash/data"
DEAD_LETTER_QUEUE_DIR = f"{DATA_DIR}/dead_letter_queue"
# Documents Elasticsearch refuses (400/404) wait here instead of being logged and dropped; past
# this size the oldest go first (and are counted: the exporter reads the DLQ's dropped events).
DEAD_LETTER_QUEUE_MAX_BYTES = "256mb"
QUEUE_MAX_BYTES = "256mb"


# GELF metadata the Docker driver adds, moved to ECS names or dropped (docs/contract.md).
GELF_RENAMES: Mapping[str, str] = {
    "container_name": "[container][name]",
    "container_id": "[container][id]",
    "image_name": "[container][image][name]",
    "host": "[host][name]",
}
GELF_DROPPED = (
    "level",
    "facility",
    "version",
    "source_host",
    "created",
    "command",
    "tag",
    "image_id",
)

# Traefik's JSON access line (accessLog format json) to the ECS names the app's lines use, so one
# search finds a call in both; `lab.function` comes from the service name without `@file`.
TRAEFIK_ACCESS_RENAMES: Mapping[str, str] = {
    "RequestPath": "[url][path]",
    "RequestMethod": "[http][request][method]",
    "DownstreamStatus": "[http][response][status_code]",
    "Duration": "[event][duration]",
    "RequestHost": "[url][domain]",
    "ClientHost": "[source][address]",
    "RetryAttempts": "[lab][retry_attempts]",
    "ServiceName": "[lab][function]",
}
# The W3C trace headers as Traefik's access line names them (traefik_yaml.TRACE_HEADERS kept):
# `request_`, `origin_` (the replica's answer) or `downstream_` (what the client got) and the
# header in Go's canonical form (textproto.CanonicalMIMEHeaderKey: `Traceparent`).
TRAEFIK_TRACEPARENT = "request_" + TRACEPARENT_HEADER.capitalize()
TRAEFIK_TRACERESPONSE = "downstream_" + TRACERESPONSE_HEADER.capitalize()
TRAEFIK_TRACE_KEYS = (
    TRAEFIK_TRACEPARENT,
    "origin_" + TRACERESPONSE_HEADER.capitalize(),
    TRAEFIK_TRACERESPONSE,
)
# A well-formed trace header (W3C Trace Context 3.2.2: lowercase hex, version not ff, ids not
# all zero); its second field is the trace id. Oniguruma (Logstash's regexps) reads it as
# Python's `re` does.
TRACE_HEADER_PATTERN = (
    r"^(?!ff)[0-9a-f]{2}-(?!0{32})([0-9a-f]{32})-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}(-.*)?$"
)
# The rest of Traefik's keys, left out of the index (times and sizes it repeats, its own level).
TRAEFIK_ACCESS_DROPPED = (
    "ClientAddr",
    "ClientPort",
    "ClientUsername",
    "DownstreamContentSize",
    "OriginContentSize",
    "OriginDuration",
    "OriginStatus",
    "Overhead",
    "RequestAddr",
    "RequestContentSize",
    "RequestCount",
    "RequestPort",
    "RequestProtocol",
    "RequestScheme",
    "RouterName",
    "ServiceAddr",
    "ServiceURL",
    "StartLocal",
    "StartUTC",
    "entryPointName",
    "msg",
    "time",
    "TLSCipher",
    "TLSVersion",
    *TRAEFIK_TRACE_KEYS,
)
TRAEFIK_SERVICE_NAME = "traefik"
TRAEFIK_ACCESS_DATASET = "traefik.access"


def _traefik_access_filter() -> str:
    renames = "\n".join(
        f'        "{src}" => "{dst}"' for src, dst in TRAEFIK_ACCESS_RENAMES.items()
    )
    dropped = ", ".join(f'"{field}"' for field in TRAEFIK_ACCESS_DROPPED)
    return f"""\
  # Traefik's access line: ECS names, its service without the provider suffix.
  if [RequestPath] and [DownstreamStatus] {{
    mutate {{
      rename => {{
{renames}
      }}
    }}
{_traefik_trace_id_filter()}    mutate {{
      remove_field => [{dropped}]
      gsub => ["[lab][function]", "@.*$", ""]
      replace => {{
        "[service][name]" => "{TRAEFIK_SERVICE_NAME}"
        "[event][dataset]" => "{TRAEFIK_ACCESS_DATASET}"
      }}
    }}
  }}
"""


def _traefik_trace_id_filter() -> str:
    """`trace.id` of Traefik's line, the id the replica's line carries (docs/tracing.md): from
    the replica's `traceresponse` when the client got one (the caller's trace if its
    traceparent was valid, else the replica's new one), else from the caller's valid
    `traceparent` (Traefik answered itself: 429, 502). Two mutates: within one, `copy` runs
    after `gsub` (logstash-filter-mutate v3.5.8 mutate.rb, filter())."""
    pattern = TRACE_HEADER_PATTERN
    copies = "\n    else ".join(
        f"""if [{key}] =~ /{pattern}/ {{
      mutate {{
        copy => {{ "{key}" => "[trace][id]" }}
      }}
    }}"""
        for key in (TRAEFIK_TRACERESPONSE, TRAEFIK_TRACEPARENT)
    )
    return f"""\
    {copies}
    mutate {{
      gsub => ["[trace][id]", "{pattern}", "\\1"]
    }}
"""


# The gelf extra field of a user's service (stack/service_replicas.py: the driver's `labels`
# option adds `_lab.service`; the gelf input strips the underscore).
OWN_SERVICE_FIELD = "lab.service"


def _own_service_filter() -> str:
    """A user's own service (lab:services): its entry's name is its `service.name`, whatever
    its lines say, so a search by service finds them."""
    return f"""\
  if [{OWN_SERVICE_FIELD}] {{
    mutate {{
      replace => {{ "[service][name]" => "%{{[{OWN_SERVICE_FIELD}]}}" }}
      remove_field => ["{OWN_SERVICE_FIELD}"]
    }}
  }}
"""


def _credentials(writer: tuple[str, str] | None) -> str:
    """The output's login and `action => "create"`: the writer's role grants create_doc and
    create_index only, and the default action `index` would get a 403 per document, which the
    output retries forever (logstash-output-elasticsearch v11.22.13 common.rb)."""
    if writer is None:
        return ""
    user, password = writer
    # Quoted so Logstash reads back exactly these strings, or refused without printing them
    # (a backslash, both quotes or a `${...}` reference): elasticsearch_security.py's rule.
    user_literal = elasticsearch_security.logstash_string(user, "the Logstash writer's user")
    password_literal = elasticsearch_security.logstash_string(password)
    # The password ends the file: a syntax error prints the text before it (logstash-core
    # compiler.rb raises treetop's failure_reason, "... after <input>"). With alerts, the
    # alert output's copy comes first, followed only by the rendered log output.
    return f"""\
    action => "create"
    user => {user_literal}
    password => {password_literal}
"""


def _tls(ca_file: str | None) -> str:
    """The output's trust for an https URL: only the lab's CA, with full verification (the
    default `ssl_verification_mode`). `ssl_certificate_authorities` is the option of the
    v11.22.13 that Logstash 8.19 bundles (plugin_mixins/elasticsearch/api_configs.rb;
    docs/product-rules.md L4); `cacert` is its deprecated form (Logstash 8.11 release notes)."""
    if ca_file is None:
        return ""
    return f'    ssl_certificate_authorities => ["{ca_file}"]\n'


def pipelines(*, alerts: bool) -> str:
    """pipelines.yml: the logs pipeline, and with `alerts` the alerts pipeline beside it."""
    entries = [{"pipeline.id": LOGS_PIPELINE_ID, "path.config": PIPELINE_FILE}]
    if alerts:
        entries.append({"pipeline.id": ALERTS_PIPELINE_ID, "path.config": ALERTS_PIPELINE_FILE})
    return yaml.safe_dump(entries, sort_keys=False)


def alerts_pipeline(
    *,
    elasticsearch_url: str,
    writer: tuple[str, str] | None = None,
    webhook: tuple[str, str] | None = None,
    ca_file: str | None = None,
) -> str:
    """The alerts pipeline file: Alertmanager's webhook on an HTTP input, one event per alert
    in its own index (stack/configs/logstash_alerts.py). `writer` as for pipeline();
    `webhook` (user, password) the login the HTTP input asks of Alertmanager. The input comes
    last (Logstash takes the sections in any order), so its password ends the file."""
    return f"""\
filter {{
{logstash_alerts.filter_block()}}}

output {{
{logstash_alerts.output_block(elasticsearch_url, _tls(ca_file) + _credentials(writer))}}}

input {{
{logstash_alerts.input_block(_input_login(webhook))}}}
"""


def _input_login(login: tuple[str, str] | None) -> str:
    if login is None:
        return ""
    user, password = login
    user_literal = elasticsearch_security.logstash_string(user, "the alert webhook's user")
    password_literal = elasticsearch_security.logstash_string(
        password, "the alert webhook's password (lab:alertWebhookPassword)"
    )
    return f"user => {user_literal}\npassword => {password_literal}\n"


def pipeline(
    *,
    elasticsearch_url: str,
    writer: tuple[str, str] | None = None,
    ca_file: str | None = None,
) -> str:
    """The logs pipeline file: the app's JSON line decoded at the root, GELF metadata renamed.

    The alerts are not here (alerts_pipeline()): a line's JSON merges at the event's root, so
    in one pipeline it could carry the alerts' tag and be routed to their index.
    `writer`: (user, password) the log output signs in with; the password is literal in this
    file, which only Logstash's uid may read (docs/product-rules.md L10: no file form for
    `${VAR}`). None renders the output without a login.
    `ca_file`: the CA (PEM file) both outputs verify an https Elasticsearch with.
    """
    output_options = _tls(ca_file) + _credentials(writer)
    renames = "\n".join(f'      "{src}" => "{dst}"' for src, dst in GELF_RENAMES.items())
    dropped = ", ".join(f'"{field}"' for field in GELF_DROPPED)
    return f"""\
input {{
  # TCP: a slow pipeline holds Docker's driver back instead of losing datagrams.
  gelf {{
    port => {LOGSTASH_GELF_PORT}
    use_tcp => true
    use_udp => false
  }}
}}

filter {{
  # The app's stdout line is ECS JSON; merge it at the root (its `message` replaces GELF's).
  json {{
    source => "message"
    skip_on_invalid_json => true
  }}
  mutate {{
    rename => {{
{renames}
    }}
  }}
  mutate {{
    remove_field => [{dropped}]
  }}
{_traefik_access_filter()}{_own_service_filter()}}}

output {{
  elasticsearch {{
    hosts => ["{elasticsearch_url}"]
    index => "{LOGS_INDEX_PREFIX}%{{+YYYY.MM.dd}}"
    data_stream => "false"
    ilm_enabled => "false"
    # The setup step installs the template (elasticsearch_template.NAME): the writer may not.
    manage_template => false
{output_options}  }}
}}
"""


def settings(*, api_password: str) -> str:
    """`logstash.yml`: the API on every interface of the container behind its login
    (logstash_api.py: the file holds its password, so it is a secret), a persisted queue and
    the dead-letter queue on the data volume (defaults of each pipeline of pipelines.yml);
    `config.debug` stays off, since it would log the pipeline's text (the writer's password
    with it)."""
    return yaml.safe_dump(
        {
            "api.http.host": "0.0.0.0",
            **logstash_api.settings(api_password),
            # No path.config: it would make Logstash ignore pipelines.yml (PIPELINES_FILE).
            "config.debug": False,
            "queue.type": "persisted",
            "queue.max_bytes": QUEUE_MAX_BYTES,
            "path.queue": f"{DATA_DIR}/queue",
            "dead_letter_queue.enable": True,
            "dead_letter_queue.max_bytes": DEAD_LETTER_QUEUE_MAX_BYTES,
            "dead_letter_queue.storage_policy": "drop_older",
            "path.dead_letter_queue": DEAD_LETTER_QUEUE_DIR,
            "xpack.monitoring.enabled": False,
        },
        sort_keys=False,
    )
