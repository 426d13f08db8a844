"""stack/configs/logstash_conf.py: the pipeline and settings file the Logstash container reads."""

import pytest
import yaml

from app.contract import LOG_FIELD_TYPES, LOGS_INDEX_PATTERN, LOGS_INDEX_PREFIX
from stack.configs import elasticsearch_template, logstash_conf
from stack.settings import LOGSTASH_GELF_PORT
from tests.dashboards import logstash_shape

# What reaches the filters from Docker's gelf driver, besides `message` and `@timestamp`:
# moby/moby daemon/logger/gelf/gelf.go, New() (the `extra` map: _container_id,
# _container_name, _image_id, _image_name, _command, _tag, _created) and Log() (version,
# host, level), after logstash-input-gelf 3.3.2 (lib/logstash/inputs/gelf.rb, bundled with
# Logstash 8.19.4) strips the leading underscore and adds `source_host` (docs/product-rules.md
# L1).
DOCKER_GELF_FIELDS = {
    "container_id",
    "container_name",
    "image_id",
    "image_name",
    "command",
    "tag",
    "created",
    "version",
    "host",
    "level",
    "source_host",
}
# Where ECS keeps those facts (ECS 8.x field reference: container.id, container.name,
# container.image.name, host.name); the rest is GELF transport metadata, dropped.
ECS_HOME_OF_DOCKER_FIELDS = {
    "container_id": "container.id",
    "container_name": "container.name",
    "image_name": "container.image.name",
    "host": "host.name",
}


def test_logstash_pipeline_matches_the_contract():
    pipeline = logstash_conf.pipeline(elasticsearch_url="http://elasticsearch:9200")
    assert "gelf {" in pipeline
    assert f"port => {LOGSTASH_GELF_PORT}" in pipeline
    assert 'source => "message"' in pipeline
    assert "skip_on_invalid_json => true" in pipeline
    assert "target =>" not in pipeline  # ECS keys merge at the root
    renames, removed = logstash_shape.pipeline_renames(), logstash_shape.pipeline_removed()
    assert {src: ".".join(path) for src, path in renames.items()} == ECS_HOME_OF_DOCKER_FIELDS
    metadata = DOCKER_GELF_FIELDS - set(ECS_HOME_OF_DOCKER_FIELDS)
    assert set(removed) >= metadata
    # Besides, only GELF's optional `facility` (go-gelf: omitempty, Docker never sets it).
    assert set(removed) - metadata <= {"facility"}, set(removed) - metadata
    assert 'hosts => ["http://elasticsearch:9200"]' in pipeline
    assert f'index => "{LOGS_INDEX_PREFIX}%{{+YYYY.MM.dd}}"' in pipeline
    assert 'data_stream => "false"' in pipeline
    assert "manage_template => false" in pipeline
    assert pipeline.count("{") == pipeline.count("}")


def test_the_index_written_matches_the_templates_pattern():
    """A daily index outside the template's pattern would get dynamic mappings."""
    pattern = elasticsearch_template.template()["index_patterns"]
    assert pattern == [LOGS_INDEX_PATTERN]
    assert LOGS_INDEX_PATTERN == LOGS_INDEX_PREFIX + "*"
    pipeline = logstash_conf.pipeline(elasticsearch_url="http://elasticsearch:9200")
    assert f'index => "{LOGS_INDEX_PREFIX}%{{+YYYY.MM.dd}}"' in pipeline


def test_settings_persist_the_queue_on_the_data_volume():
    settings = yaml.safe_load(logstash_conf.settings(api_password="Password123$"))
    assert settings["queue.type"] == "persisted"
    assert settings["path.queue"].startswith(logstash_conf.DATA_DIR + "/")
    # No path.config: it would make Logstash ignore pipelines.yml (local.rb `match?`).
    assert "path.config" not in settings


def test_pipelines_yml_names_the_logs_and_the_alerts_pipeline_apart():
    """Logstash 8.19 docs "Multiple Pipelines": a list of `pipeline.id` + `path.config`."""
    assert yaml.safe_load(logstash_conf.pipelines(alerts=False)) == [
        {"pipeline.id": "main", "path.config": logstash_conf.PIPELINE_FILE}
    ]
    both = yaml.safe_load(logstash_conf.pipelines(alerts=True))
    assert [entry["pipeline.id"] for entry in both] == ["main", "alerts"]
    assert both[1]["path.config"] == logstash_conf.ALERTS_PIPELINE_FILE != both[0]["path.config"]


def test_traefik_access_lines_land_on_the_contracts_fields():
    for source, target in logstash_conf.TRAEFIK_ACCESS_RENAMES.items():
        field = ".".join(target.strip("[]").split("]["))
        assert field in LOG_FIELD_TYPES, (source, field)
    assert not set(logstash_conf.TRAEFIK_ACCESS_RENAMES) & set(logstash_conf.TRAEFIK_ACCESS_DROPPED)
    pipeline = logstash_conf.pipeline(elasticsearch_url="http://elasticsearch:9200")
    assert f'"[event][dataset]" => "{logstash_conf.TRAEFIK_ACCESS_DATASET}"' in pipeline


def test_gelf_arrives_over_tcp_only():
    """The UDP input lost 4,824 of 5,000 lines in a 3 s pause (issue 14); no UDP socket stays."""
    pipeline = logstash_conf.pipeline(elasticsearch_url="http://elasticsearch:9200")
    gelf = pipeline[pipeline.index("gelf {") : pipeline.index("}", pipeline.index("gelf {"))]
    assert "use_tcp => true" in gelf
    assert "use_udp => false" in gelf


def test_the_dead_letter_queue_is_on_under_the_data_volume():
    settings = yaml.safe_load(logstash_conf.settings(api_password="Password123$"))
    assert settings["dead_letter_queue.enable"] is True
    assert settings["path.dead_letter_queue"].startswith(logstash_conf.DATA_DIR + "/")
    assert settings["path.dead_letter_queue"] != settings["path.queue"]
    assert settings["config.debug"] is False  # it would log the pipeline, password included


def test_without_a_writer_the_output_has_no_login():
    pipeline = logstash_conf.pipeline(elasticsearch_url="http://elasticsearch:9200")
    assert "user =>" not in pipeline
    assert "password =>" not in pipeline
    assert "action =>" not in pipeline


def test_the_writer_signs_in_and_only_creates_documents():
    password = "s3cr-et_Value"
    pipeline = logstash_conf.pipeline(
        elasticsearch_url="http://elasticsearch:9200", writer=("lab_logstash_writer", password)
    )
    output = pipeline[pipeline.index("output {") :]
    assert 'user => "lab_logstash_writer"' in output
    assert f'password => "{password}"' in output
    assert 'action => "create"' in output
    assert pipeline.count(password) == 1
    assert pipeline.count("{") == pipeline.count("}")


@pytest.mark.parametrize("password", ["ab\\cd", "a${HOME}b", "a'b\"c"])
def test_a_password_logstash_cannot_read_back_is_refused_without_printing_it(password):
    """Logstash would read these differently (no escapes, `${...}` substituted) or not at all."""
    with pytest.raises(ValueError, match="choose another") as refused:
        logstash_conf.pipeline(
            elasticsearch_url="http://elasticsearch:9200", writer=("lab_logstash_writer", password)
        )
    assert password not in str(refused.value)


def test_a_password_with_a_double_quote_goes_in_single_quotes():
    pipeline = logstash_conf.pipeline(
        elasticsearch_url="http://elasticsearch:9200", writer=("lab_logstash_writer", 'ab"cd')
    )
    assert """password => 'ab"cd'""" in pipeline
