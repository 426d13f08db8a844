#!/bin/sh
# Start the node's own dockerd in the foreground.
#   LAB_NODE_NAME  the cgroup parent of every container this node runs (/<name> in each host
#                  cgroup hierarchy), so the harness can find and remove those folders.
#   LAB_NODE_TCP   "1": also listen on tcp://<this node's address>:2375, bound to the private
#                  network's address only (never 0.0.0.0), for the harness's SDK client;
#                  --tls=false says so explicitly, which spares the 15 s delay dockerd
#                  otherwise imposes on a TCP listener without TLS.
# Extra arguments are passed on to dockerd.
set -eu
name=${LAB_NODE_NAME:-$(hostname)}
set -- --cgroup-parent="/$name" --host=unix:///var/run/docker.sock "$@"
if [ "${LAB_NODE_TCP:-1}" = "1" ]; then
    address=$(ip -4 -o addr show dev eth0 | awk '{split($4, a, "/"); print a[1]}')
    set -- --host="tcp://$address:2375" --tls=false "$@"
fi
exec dockerd "$@"
