"""Temporary re-export of stack/configs/ under its old names, for scripts/ until it moves to lab/.

Delete once nothing imports `stack.render` (scripts/local.py and scripts/bench.py did).
"""

from app.contract import FUNCTIONS, HISTOGRAM_BUCKETS, LOG_FIELD_TYPES, LOGS_INDEX_PATTERN
from stack.configs import elasticsearch_template, logstash_conf, prometheus_yaml, traefik_yaml

TRAEFIK_DYNAMIC_FILE = traefik_yaml.DYNAMIC_FILE
traefik_static = traefik_yaml.static
traefik_dynamic = traefik_yaml.dynamic
prometheus_config = prometheus_yaml.render
logstash_pipeline = logstash_conf.pipeline
elasticsearch_index_template = elasticsearch_template.template

__all__ = [
    "FUNCTIONS",
    "HISTOGRAM_BUCKETS",
    "LOGS_INDEX_PATTERN",
    "LOG_FIELD_TYPES",
    "TRAEFIK_DYNAMIC_FILE",
    "elasticsearch_index_template",
    "logstash_pipeline",
    "prometheus_config",
    "traefik_dynamic",
    "traefik_static",
]
