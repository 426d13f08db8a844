#!/usr/bin/env bash
# Provision a Debian machine (as root) for the live tests: Docker engine, Prometheus/promtool,
# Alertmanager's amtool, the blackbox exporter, wrk and debootstrap. Idempotent: an already
# provisioned machine takes seconds, because apt is only touched for what is missing and dockerd
# is only started when `docker info` fails.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "provision.sh installs packages and starts dockerd: run it as root" >&2
    exit 1
fi

# Debian package -> a command it provides, to decide what is missing without asking apt.
declare -A command_of=(
    [docker.io]=dockerd
    [prometheus]=promtool
    # amtool checks and route-tests the rendered Alertmanager config; the exporter binary's
    # --config.check checks the probe modules and runs the probes of the config tests.
    [prometheus-alertmanager]=amtool
    [prometheus-blackbox-exporter]=prometheus-blackbox-exporter
    # make local's Host row (lab/local_host.py) and its real-data proof.
    [prometheus-node-exporter]=prometheus-node-exporter
    [wrk]=wrk
    [debootstrap]=debootstrap
)
missing=()
for package in "${!command_of[@]}"; do
    command -v "${command_of[$package]}" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! docker info >/dev/null 2>&1; then
    echo "starting dockerd (log: /tmp/dockerd.log)"
    nohup dockerd >/tmp/dockerd.log 2>&1 &
    # Bounded wait: a daemon that does not answer within a minute will not answer at all.
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    if ! docker info >/dev/null 2>&1; then
        echo "dockerd did not answer within 60 s; last lines of /tmp/dockerd.log:" >&2
        tail -n 20 /tmp/dockerd.log >&2
        exit 1
    fi
fi

echo "docker engine $(docker version --format '{{.Server.Version}}')"
promtool --version 2>&1 | head -n 1
prometheus --version 2>&1 | head -n 1
amtool --version 2>&1 | head -n 1
prometheus-blackbox-exporter --version 2>&1 | head -n 1
prometheus-node-exporter --version 2>&1 | head -n 1
wrk --version 2>&1 | head -n 1 || true
echo "debootstrap $(dpkg-query -W -f '${Version}' debootstrap)"
