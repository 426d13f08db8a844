"""stack/logstash_exporter.py: the lab's own image, scraped by Prometheus, watching Logstash."""

from __future__ import annotations

from stack import logstash_exporter as exporter
from tests.stack.captured import containers, runs, scrape_targets


def test_runs_from_the_app_image_and_is_scraped(declared):
    found = containers(declared)
    if not runs(declared, "logstash_exporter"):
        assert "lab-dev-logstash_exporter" not in found
        return
    container = found["lab-dev-logstash_exporter"]
    replica = next(c for name, c in found.items() if name.startswith("lab-dev-fibonacci-"))
    assert container["inputs"]["image"] == replica["inputs"]["image"]
    assert container["inputs"]["entrypoints"] == ["python", "-m", "app.logstash_exporter"]
    assert container["options"]["depends_on"] == [found["lab-dev-logstash"]["urn"]]
    assert scrape_targets(found, exporter.JOB) == [f"logstash_exporter:{exporter.PORT}"]
