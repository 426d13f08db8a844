"""Logstash 8.19.4's rules over the rendered pipeline, settings and health check.

Plugin versions are the ones bundled with 8.19.4 (elastic/logstash
Gemfile.jruby-3.1.lock.release at v8.19.4, recorded in docs/product-rules.md): option names
come from each plugin's `config :name` declarations at that tag.
"""

import datetime
import fnmatch
import json
import re

import pytest

from stack.configs import elasticsearch_template, logstash_conf, logstash_health

# logstash-core/lib/logstash/{inputs,filters,outputs}/base.rb and plugin_mixins: common options.
COMMON = {
    "input": {"id", "enable_metric", "type", "tags", "add_field", "codec", "ecs_compatibility"},
    "filter": {"id", "enable_metric", "add_field", "add_tag", "remove_field", "remove_tag"}
    | {"periodic_flush", "ecs_compatibility"},
    "output": {"id", "enable_metric", "codec", "workers", "ecs_compatibility"},
}
# Each plugin's own `config :name` at its bundled tag.
OPTIONS = {
    # logstash-plugins/logstash-input-gelf v3.3.2 lib/logstash/inputs/gelf.rb
    ("input", "gelf"): {"host", "port", "port_tcp", "port_udp", "use_udp", "use_tcp"}
    | {"remap", "strip_leading_underscore"},
    # logstash-plugins/logstash-input-http v3.10.3 lib/logstash/inputs/http.rb
    ("input", "http"): {"host", "port", "user", "password", "threads", "max_pending_requests"}
    | {"response_headers", "response_code", "additional_codecs", "max_content_length"}
    | {"remote_host_target_field", "request_headers_target_field", "ssl_enabled"},
    # logstash-plugins/logstash-filter-json v3.2.1 lib/logstash/filters/json.rb
    ("filter", "json"): {"source", "target", "skip_on_invalid_json", "tag_on_failure"},
    # logstash-plugins/logstash-filter-mutate v3.5.8 lib/logstash/filters/mutate.rb
    ("filter", "mutate"): {"rename", "replace", "update", "convert", "gsub", "uppercase"}
    | {"lowercase", "capitalize", "strip", "split", "join", "merge", "copy", "coerce"}
    | {"tag_on_failure"},
    # logstash-plugins/logstash-filter-split lib/logstash/filters/split.rb
    ("filter", "split"): {"field", "target", "terminator"},
    # logstash-plugins/logstash-filter-prune lib/logstash/filters/prune.rb
    ("filter", "prune"): {"whitelist_names", "blacklist_names", "whitelist_values"}
    | {"blacklist_values", "interpolate"},
    # logstash-plugins/logstash-output-elasticsearch v11.22.13 lib/logstash/outputs/elasticsearch.rb
    # and lib/logstash/plugin_mixins/elasticsearch/api_configs.rb, data_stream_support.rb
    ("output", "elasticsearch"): {"hosts", "index", "manage_template", "template_name"}
    | {"template", "template_overwrite", "template_api", "ilm_enabled", "data_stream"}
    | {"user", "password", "api_key", "ssl_enabled", "ssl_certificate_authorities"}
    | {"ssl_verification_mode", "action", "document_id", "pipeline", "dlq_custom_codes"},
}
# Typed values: template_api and data_stream/ilm_enabled validate these lists.
ENUMS = {
    "template_api": {'"auto"', '"legacy"', '"composable"'},
    "data_stream": {'"true"', '"false"', '"auto"', "true", "false"},
    "ilm_enabled": {'"true"', '"false"', '"auto"', "true", "false"},
}
PLUGIN_OPEN = re.compile(r"^\s*([a-z_]+)\s*\{\s*$")
OPTION = re.compile(r"^\s*([a-z_]+)\s*=>\s*(.*)$")


def pipeline(alerts: bool) -> str:
    """The logs pipeline, and the alerts pipeline after it with `alerts` (both files' text)."""
    url = "http://elasticsearch:9200"
    alerts_text = logstash_conf.alerts_pipeline(elasticsearch_url=url) if alerts else ""
    return logstash_conf.pipeline(elasticsearch_url=url) + alerts_text


def plugins(text: str) -> list[tuple[str, str, dict[str, str]]]:
    """(section, plugin, {option: raw value}) for each plugin block of a pipeline file."""
    found, stack = [], []  # stack frames: ("section"|"if"|"plugin"|"value", name)
    for line in text.splitlines():
        code = line.split("#", 1)[0].rstrip()
        if not code.strip():
            continue
        option = OPTION.match(code)
        opened = PLUGIN_OPEN.match(code)
        if code.strip() == "}":
            stack.pop()
        elif option and stack and stack[-1][0] == "plugin":
            found[-1][2][option[1]] = option[2].strip()
            if option[2].strip().endswith("{"):
                stack.append(("value", option[1]))
        elif code.strip().startswith(("if ", "else")) and code.endswith("{"):
            stack.append(("if", code.strip()))
        elif opened and not stack:
            stack.append(("section", opened[1]))
        elif opened and stack[-1][0] in ("section", "if"):
            section = next(name for kind, name in stack if kind == "section")
            found.append((section, opened[1], {}))
            stack.append(("plugin", opened[1]))
        elif stack and stack[-1][0] == "value":
            continue
        else:
            raise AssertionError(f"pipeline line the parser does not know: {line!r}")
    assert not stack, f"unbalanced braces: {stack}"
    return found


def test_every_plugin_and_option_exists_in_the_bundled_version():
    """elastic/logstash v8.19.4 Gemfile.jruby-3.1.lock.release (versions) and each plugin's
    `config` declarations (gelf.rb, http.rb, json.rb, mutate.rb, split.rb, prune.rb,
    outputs/elasticsearch.rb): an unknown option stops the pipeline at start."""
    for alerts in (False, True):
        for section, name, options in plugins(pipeline(alerts)):
            known = OPTIONS.get((section, name))
            assert known is not None, f"{section} plugin {name} not covered by the rules"
            unknown = set(options) - known - COMMON[section]
            assert not unknown, f"{section} {name}: unknown options {sorted(unknown)}"
            for option, allowed in ENUMS.items():
                if option in options:
                    assert options[option] in allowed, f"{name}: {option} {options[option]}"


def test_the_output_index_matches_the_template_pattern():
    """logstash-core/src/main/java/org/logstash/StringInterpolation.java (`%{+FMT}` is Joda in
    UTC): the daily index falls under the template the setup step installs."""
    template = json.loads(elasticsearch_template.render())
    outputs = [o for s, n, o in plugins(pipeline(False)) if s == "output"]
    (output,) = outputs
    day = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    index = re.sub(r"%\{\+YYYY\.MM\.dd\}", day.strftime("%Y.%m.%d"), json.loads(output["index"]))
    assert any(fnmatch.fnmatchcase(index, p) for p in template["index_patterns"]), index


@pytest.mark.parametrize("alerts", [False, True])
def test_no_output_installs_a_template(alerts):
    """logstash-output-elasticsearch v11.22.13 lib/logstash/outputs/elasticsearch.rb:
    `config :manage_template, :validate => :boolean, :default => true`, and
    template_manager.rb's install_template returns at once `if !plugin.manage_template`: left
    at its default, the output would PUT its template at start, which needs
    `manage_index_templates` (issue 22: the writer no longer has it)."""
    outputs = [o for s, n, o in plugins(pipeline(alerts)) if (s, n) == ("output", "elasticsearch")]
    assert len(outputs) == (2 if alerts else 1)
    for output in outputs:
        assert output.get("manage_template") == "false", output
        assert not {"template", "template_name", "template_overwrite"} & set(output), output


# The Elasticsearch the outputs write to (docs/product-rules.md: the pinned 8.19.4).
ELASTICSEARCH_MAJOR = 8


def test_each_template_goes_to_the_api_its_body_is_written_for():
    """logstash-output-elasticsearch v11.22.13 lib/logstash/outputs/elasticsearch/
    template_manager.rb (index_template_api?): "composable" -> _index_template, "legacy" ->
    _template, "auto" -> _index_template from Elasticsearch 8 on. The lab's template files
    are composable bodies (`template` object, `priority`; ComposableIndexTemplate.java), which
    the legacy API refuses: every output that manages a template must reach _index_template."""
    for alerts in (False, True):
        for section, name, options in plugins(pipeline(alerts)):
            if section != "output" or name != "elasticsearch" or "template" not in options:
                continue
            api = json.loads(options.get("template_api", '"auto"'))
            composable = api == "composable" or (api == "auto" and ELASTICSEARCH_MAJOR >= 8)
            assert composable, f"{options['template']}: template_api {api} -> _template"
    body = elasticsearch_template.template()
    assert isinstance(body["template"], dict), "not a composable template body"
    assert "priority" in body


def test_the_health_check_reads_the_pipeline_state():
    """elastic/logstash logstash-core/lib/logstash/api/modules/root.rb (GET / is 200 always)
    and org/logstash/health/PipelineIndicator.java (state RUNNING in /_health_report)."""
    script = logstash_health.script()
    assert logstash_health.HEALTH_REPORT_PATH in script
    assert '"state":"RUNNING"' in script
    assert f":{logstash_conf.LOGSTASH_GELF_PORT:04X} " in script
