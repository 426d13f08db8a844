"""`make local` and LocalLab: real app processes, the real Traefik and Prometheus on loopback."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from lab import local_host, local_probes, traffic, traffic_traces
from lab.local import LabStartError, LocalLab
from lab.support import LOCAL_LOGS_DIR, REPO_ROOT, http_status, wait_until


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but still has a pid until reaped; it holds no port and runs no code.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def metric_value(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_every_replica_is_healthy_and_traefik_balances_over_them(local_lab):
    lab = local_lab
    for function, urls in lab.service_urls.items():
        assert len(urls) == 2
        for url in urls:
            assert http_status(f"{url}/health") == 200, url
        for n in range(12):
            args = f"{n % 4}/{n % 5}" if function == "ackermann" else str(n)
            with urllib.request.urlopen(f"{lab.api_url}/{function}/{args}/") as response:
                assert response.status == 200
        for url in urls:
            with urllib.request.urlopen(f"{url}/metrics") as response:
                metrics = response.read().decode()
            served = metric_value(metrics, "lab_requests_total", function=function, code="200")
            assert served > 0, f"{url} got no traffic from Traefik"
    assert http_status(f"{lab.traefik_url}/ping") == 200
    assert lab.prometheus_url is None


def test_traffic_through_local_traefik_gets_only_right_answers(local_lab, capsys):
    lab = local_lab
    code = traffic.main(["--url", lab.api_url, "--count", "240", "--concurrency", "6"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "240 calls" in out
    assert "404: " in out  # Traefik's own 404 for unrouted paths and the app's for bad arity


def test_a_part_that_cannot_start_is_reported_and_nothing_is_left(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        lab = LocalLab(replicas=1, with_prometheus=False, ports={"api": taken}, workdir=tmp_path)
        started = []
        original_spawn = lab._spawn

        def spawn_and_remember(*args, **kwargs):
            child = original_spawn(*args, **kwargs)
            started.append(child.process.pid)
            return child

        lab._spawn = spawn_and_remember
        with pytest.raises(LabStartError, match="traefik"):
            lab.start()
    assert len(started) == 4  # three replicas and Traefik
    assert not [pid for pid in started if alive(pid)]
    assert (tmp_path / "logs" / "traefik.log").exists()


def test_prometheus_scrapes_every_part(prometheus_binary):
    with LocalLab(replicas=1, with_prometheus=True, scrape_interval="1s") as lab:
        health = lab.wait_for_targets(timeout=60)
        parts = {"prometheus": "up", "traefik": "up", **dict.fromkeys(lab.functions, "up")}
        # The black-box exporter is installed here (scripts/provision.sh): its jobs too.
        parts |= {"probe-calls": "up", "probe-parts": "up"} if local_probes.exporter_path() else {}
        # node-exporter too, where Debian's package is installed (scripts/provision.sh).
        parts |= {local_host.JOB: "up"} if local_host.exporter_path() else {}
        assert health == parts
        with urllib.request.urlopen(f"{lab.prometheus_url}/api/v1/status/config") as response:
            assert b"job_name: fibonacci" in response.read()
        # The dashboards' rule file is loaded, as in the stack.
        with urllib.request.urlopen(f"{lab.prometheus_url}/api/v1/rules") as response:
            groups = json.load(response)["data"]["groups"]
        assert groups
        assert all(group["file"].startswith(str(lab.workdir)) for group in groups)
        # Exemplars are stored (issue 19): a call's trace id comes back from Prometheus.
        trace_id = os.urandom(16).hex()
        call = urllib.request.Request(
            f"{lab.api_url}/fibonacci/20/",
            headers={"traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01"},
        )

        def stored() -> bool:
            urllib.request.urlopen(call).read()  # again: a probe may have taken the bucket
            query = urllib.parse.urlencode(
                {"query": "lab_request_duration_seconds_bucket", "start": time.time() - 60}
            )
            url = f"{lab.prometheus_url}/api/v1/query_exemplars?{query}"
            with urllib.request.urlopen(url) as response:
                series = json.load(response)["data"]
            return any(
                exemplar["labels"].get("trace_id") == trace_id
                for one in series
                for exemplar in one["exemplars"]
            )

        wait_until(stored, timeout=30, interval=1.5, what="the call's exemplar in Prometheus")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_make_local_stops_every_process_on_signal(tmp_path, signum):
    options = ["--free-ports", "--replicas", "1", "--no-prometheus", "--workdir", str(tmp_path)]
    process = subprocess.Popen(
        [sys.executable, "-m", "lab.local", *options],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Started as a shell starts a background job (SIGINT ignored): `kill -INT` must work too.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        printed = []

        def printed_its_urls() -> bool:
            # `logs:` is the last URL it prints; a closed stdout (it exited) ends the wait too,
            # so the assertion below shows what it did print.
            line = process.stdout.readline()
            printed.append(line)
            return not line or line.startswith("logs:")

        wait_until(printed_its_urls, timeout=60, interval=0, what="make local printing its URLs")
        output = "".join(printed)
        api = re.search(r"^api\s+(http://127\.0\.0\.1:\d+)$", output, re.MULTILINE)
        assert api, (
            f"no api URL printed: {output!r} {process.stderr.read() if process.poll() else ''}"
        )
        with urllib.request.urlopen(f"{api.group(1)}/factorial/5/") as response:
            assert response.status == 200
            assert b'"120"' in response.read()
        children = children_of(process.pid)
        assert len(children) == 4, children  # three replicas and Traefik

        process.send_signal(signum)
        assert process.wait(30) == 0
        time.sleep(0.2)
        assert not [pid for pid in children if alive(pid)]
        assert http_status(f"{api.group(1)}/factorial/5/", timeout=1) is None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_traffic_ends_with_each_functions_slowest_call_and_where_its_lines_are(local_lab, capsys):
    """`make traffic` against `make local`: per function its slowest call's trace id (the
    answer's W3C traceresponse), the make-local log files holding that call's lines (the
    replica's ECS line and Traefik's access line), and the Kibana link of that trace."""
    lab = local_lab
    logs = lab.workdir / LOCAL_LOGS_DIR
    kibana = "http://127.0.0.1:8000/kibana"
    argv = ["--url", lab.api_url, "--count", "60", "--concurrency", "4", "--seed", "5"]
    code = traffic.main([*argv, "--logs", str(logs), "--kibana-url", kibana])
    out = capsys.readouterr().out
    assert code == 0, out
    tail = out.split("slowest call of each function", 1)[1]
    found = dict(re.findall(r"^  (\w+): .* trace\.id ([0-9a-f]{32})$", tail, re.MULTILINE))
    assert set(found) == set(lab.functions), tail
    for function, trace_id in found.items():
        assert f"query:'trace.id:%22{trace_id}%22'" in tail
        wait_until(
            lambda trace_id=trace_id, function=function: (
                {path.name.rsplit("-", 1)[0] for path in traffic_traces.files_with(trace_id, logs)}
                >= {"traefik.log", function}
            ),
            timeout=10,
            what=f"{function}'s slowest call in a replica log and in traefik.log",
        )
        replica_lines = [
            json.loads(line)
            for path in logs.glob(f"{function}-*.log")
            for line in path.read_text().splitlines()
            if trace_id in line
        ]
        assert [line["trace"]["id"] for line in replica_lines] == [trace_id]
    # Each file printed under a call holds a line of that call.
    for block in re.split(r"^  (?=\w+: )", tail, flags=re.MULTILINE)[1:]:
        trace_id = re.search(r"trace\.id ([0-9a-f]{32})", block)[1]
        for path in re.findall(r"^    (/\S+\.log)$", block, re.MULTILINE):
            assert trace_id in Path(path).read_text(), (path, trace_id)
