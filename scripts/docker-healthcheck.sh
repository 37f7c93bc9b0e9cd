#!/bin/bash
# HEALTHCHECK of the Spool container image. In a container running spoold it asks
# GET /healthz on the port of $SPOOL_LISTEN (bash's /dev/tcp: the slim image has no curl)
# and fails unless the answer is 200. Containers running spool or spool-worker have nothing
# to probe and report healthy.
set -u
running=0
for comm in /proc/[0-9]*/comm; do
    if [ "$(cat "$comm" 2>/dev/null)" = spoold ]; then
        running=1
        break
    fi
done
[ "$running" = 1 ] || exit 0
listen=${SPOOL_LISTEN:-0.0.0.0:8080}
port=${listen##*:}
host=127.0.0.1
case "$listen" in \[*) host=::1 ;; esac
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 2 status <&3 || exit 1
case "$status" in
"HTTP/1."?" 200"*) exit 0 ;;
*) exit 1 ;;
esac
