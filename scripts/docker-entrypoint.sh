#!/bin/sh
# Entrypoint of the Spool container image: one image, every role. The first argument picks
# the program; options alone run spoold with them.
#   docker run IMAGE                               spoold (listens on $SPOOL_LISTEN)
#   docker run IMAGE --log-level debug             spoold --log-level debug
#   docker run IMAGE spoold --config /etc/spool/spoold.conf
#   docker run IMAGE spool migrate                 any spool command
#   docker run IMAGE spool-worker ...              the worker, when the image has it
# Anything else (sh, for a look around) is run as given. exec keeps the program as PID 1,
# so it receives docker stop's SIGTERM itself and shuts down cleanly.
set -eu
case "${1:-}" in
'' | -*) set -- spoold "$@" ;;
esac
exec "$@"
