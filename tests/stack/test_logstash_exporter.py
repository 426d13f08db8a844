"""stack/logstash_exporter.py: the lab's own image, scraped by Prometheus, watching Logstash."""

from __future__ import annotations

import yaml

from stack import logstash_exporter as exporter
from tests.stack.captured import containers, runs, upload


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
    config = yaml.safe_load(upload(found["lab-dev-prometheus"], "/etc/prometheus/prometheus.yml"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs[exporter.JOB]["static_configs"][0]["targets"] == [
        f"logstash_exporter:{exporter.PORT}"
    ]
