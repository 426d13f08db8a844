"""stack/logstash_exporter.py: the lab's own image, scraped by Prometheus, watching Logstash."""

from __future__ import annotations

from stack import logstash_exporter as exporter
from tests.stack.captured import part_container, scrape_targets


def test_runs_from_the_app_image_and_is_scraped(declared):
    found, container = part_container(declared, "logstash_exporter")
    if container is None:
        return
    replica = next(c for name, c in found.items() if name.startswith("lab-dev-fibonacci-"))
    assert container["inputs"]["image"] == replica["inputs"]["image"]
    assert container["inputs"]["entrypoints"] == ["python", "-m", "app.logstash_exporter"]
    assert container["options"]["depends_on"] == [found["lab-dev-logstash"]["urn"]]
    assert scrape_targets(found, exporter.JOB) == [f"logstash_exporter:{exporter.PORT}"]
