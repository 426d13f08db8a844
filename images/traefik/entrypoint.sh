#!/bin/sh
# Like the upstream Traefik image: flags (`--entrypoints...`) or a traefik subcommand
# (`healthcheck --ping`, `version`) as the container command run traefik with them as arguments;
# anything else (a shell, another program) runs as given.
set -e
if [ "$#" -eq 0 ]; then
    set -- traefik
fi
case "$1" in
    -*) set -- traefik "$@" ;;
    traefik) ;;
    *)
        if traefik "$1" --help >/dev/null 2>&1; then
            set -- traefik "$@"
        fi
        ;;
esac
exec "$@"
