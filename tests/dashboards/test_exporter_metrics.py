"""The metrics the dashboards read from exporters that cannot run here exist under those names
in the exporter's source, at the versions the lab runs, and the lab starts it so it exports them."""

from types import SimpleNamespace

from app.contract import LOGS_INDEX_PREFIX
from dashboards import promql
from stack import elasticsearch_exporter


def test_indexed_lines_come_from_a_metric_the_declared_exporter_exports():
    """prometheus-community/elasticsearch_exporter collector/indices.go, tags v1.5.0 (Debian's
    prometheus-elasticsearch-exporter 1.5.0, the stand-in) and v1.9.0 (the pinned image):
    BuildFQName(namespace "elasticsearch", "indices", "docs_primary"), a gauge of
    Primaries.Docs.Count labelled `index` and `cluster`, exported only with `--es.indices`."""
    assert "_".join(("elasticsearch", "indices", "docs_primary")) == promql.INDEXED_DOCS
    args = SimpleNamespace(
        elasticsearch_url="http://elasticsearch:9200", username="lab_monitor", ca_certificate=None
    )
    shell_line = elasticsearch_exporter.start_command(args)[-1]
    assert "--es.indices" in shell_line.split()
    # The per-index label the query selects on, over the indices Logstash writes.
    assert f'{{index=~"{LOGS_INDEX_PREFIX}.*"}}' in promql.log_lines_indexed("10m")
