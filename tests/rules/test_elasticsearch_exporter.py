"""prometheus-community/elasticsearch_exporter v1.9.0, read where the lab depends on it.

- Dockerfile: FROM quay.io/prometheus/busybox (so /bin/sh and wget exist for the start
  command and the health check), the binary at /bin/elasticsearch_exporter, USER nobody.
- main.go: credentials only from ES_USERNAME / ES_PASSWORD (os.Getenv) or the URI, the
  listen address default :9114, `--es.indices` off by default (per-index documents need it).
- collector/indices.go: `elasticsearch_indices_docs_primary` per index, what the dashboards
  compare with the calls answered.
"""

from stack import elasticsearch_exporter as exporter
from stack.settings import IMAGES

PINNED = "v1.9.0"
BINARY = "/bin/elasticsearch_exporter"  # Dockerfile COPY target and ENTRYPOINT
DEFAULT_LISTEN = ":9114"  # main.go webflag.AddFlags default
CREDENTIAL_ENV = ("ES_USERNAME", "ES_PASSWORD")  # main.go os.Getenv


def test_the_pinned_image_is_the_version_read():
    assert IMAGES["elasticsearch_exporter"].endswith(f":{PINNED}")


def test_the_start_command_runs_the_binary_with_env_credentials_from_the_file():
    class Args:
        elasticsearch_url = "http://elasticsearch:9200"
        username = "lab_monitor"
        ca_certificate = None

    shell, flag, script = exporter.start_command(Args())
    assert (shell, flag) == ("/bin/sh", "-c")
    assert f"exec {BINARY} " in script
    for name in CREDENTIAL_ENV:
        assert f"{name}=" in script
    assert f'"$(cat {exporter.PASSWORD_FILE})"' in script
    assert f"--web.listen-address=:{exporter.PORT}" in script
    assert f":{exporter.PORT}" == DEFAULT_LISTEN
