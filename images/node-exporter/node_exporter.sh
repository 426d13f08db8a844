#!/bin/sh
# Debian patches two defaults that upstream's node_exporter does not have: the systemd collector
# is on (it wants the host's D-Bus and logs an error on every scrape without it) and text files
# are read from /var/lib/prometheus/node-exporter. Reset them to upstream's, so the stand-in
# exports what prom/node-exporter exports; the container's own flags come after and still win.
exec /usr/bin/prometheus-node-exporter --no-collector.systemd --collector.textfile.directory= "$@"
