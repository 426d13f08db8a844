"""stack/kibana_import.py when Kibana answers HTTP 200 but leaves objects out.

The stand-in builds the answer as elastic/kibana
src/core/packages/saved-objects/import-export-server-internal/src/import/import_saved_objects.ts
does (`success: errors.length === 0`, per-object `errors`, still HTTP 200).
"""

from __future__ import annotations

import json

import pytest

from dashboards import kibana_objects
from stack import kibana_import
from tests.support.standins import import_answer

NDJSON = kibana_objects.render(slow_call_ms=5)


def _without_the_data_view(ndjson: str) -> str:
    lines = [line for line in ndjson.splitlines() if line.strip()]
    return "".join(line + "\n" for line in lines if json.loads(line)["type"] != "index-pattern")


def test_the_stand_in_answers_200_with_per_object_errors():
    answer = import_answer(_without_the_data_view(NDJSON))
    assert answer["success"] is False
    assert answer["successCount"] == 1  # the dashboard: its panels are in the same file
    assert {e["error"]["type"] for e in answer["errors"]} == {"missing_references"}


def test_per_object_errors_in_a_200_answer_fail_with_each_object_named(kibana):
    url = f"http://127.0.0.1:{kibana.server_port}/kibana"
    with pytest.raises(RuntimeError) as failure:
        kibana_import.import_saved_objects(url, _without_the_data_view(NDJSON))
    message = str(failure.value)
    assert message.startswith("Kibana imported 1 saved objects and refused 8:"), message
    assert "visualization lab-status-codes (Lab: status codes): missing_references" in message
    assert '"id": "lab-logs"' in message


def test_a_clean_import_still_succeeds(kibana):
    url = f"http://127.0.0.1:{kibana.server_port}/kibana"
    answer = kibana_import.import_saved_objects(url, NDJSON)
    assert answer["success"] is True
    assert answer["successCount"] == len(NDJSON.strip().splitlines())
