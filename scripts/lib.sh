# shellcheck shell=bash
# What scripts/test.sh and scripts/demo.sh share: installing the system packages Spool needs,
# configuring and building a tree, finding a free loopback port and starting a private
# PostgreSQL. Sourced, not run; the caller sets `set -euo pipefail`.

SPOOL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SPOOL_PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

# Debian 12 packages: the C toolchain and libraries, PostgreSQL 15 with pgTAP and pg_prove,
# libmicrohttpd for spoold, curl, jq and python3 for the integration tests (HTTP requests,
# JSON checks, free ports, a client that never reads). (postgresql-contrib-15 is a virtual
# package that postgresql-15 provides in Debian 12, so it is not listed.)
SPOOL_PACKAGES=(build-essential cmake pkg-config libpq-dev libjson-c-dev libcmocka-dev
                libmicrohttpd-dev postgresql-15 postgresql-client-15 postgresql-15-pgtap
                libtap-parser-sourcehandler-pgtap-perl jq curl python3
                libcurl4-openssl-dev) # libcurl: spool-worker's connectors and S3 output store
# What bench/ adds: wrk drives bench/http.sh. pgbench (the plain references of bench/core.sh
# and bench/http.sh) is /usr/lib/postgresql/15/bin/pgbench, part of postgresql-15 above.
SPOOL_BENCH_PACKAGES=(wrk)

spool_log() { printf '==> %s\n' "$*" >&2; }
spool_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# spool_install_packages [EXTRA...]: installs whatever of SPOOL_PACKAGES (and EXTRA) is
# missing. Nothing is done when every package is already installed, so reruns are quick.
spool_install_packages() {
    local pkgs=("${SPOOL_PACKAGES[@]}" "$@") missing=() p
    if ! command -v dpkg >/dev/null 2>&1; then
        spool_log "not a Debian system: make sure these (or their equivalents) are installed:"
        printf '    %s\n' "${pkgs[@]}" >&2
        return 0
    fi
    for p in "${pkgs[@]}"; do
        dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    spool_log "installing: ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            printf 'error: missing packages and not root (no sudo). As root, run:\n' >&2
            printf '    apt-get update && apt-get install -y --no-install-recommends %s\n' \
                "${missing[*]}" >&2
            exit 1
        fi
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}"
}

# spool_build DIR [CMAKE ARGS...]: configures (once) and builds a tree under the repo root.
spool_build() {
    local dir=$1
    shift
    local jobs
    jobs=$(nproc 2>/dev/null || echo 2)
    cmake -S "$SPOOL_ROOT" -B "$SPOOL_ROOT/$dir" "$@" >/dev/null
    cmake --build "$SPOOL_ROOT/$dir" -j "$jobs"
}

# spool_port_free PORT: true when nothing listens on 127.0.0.1:PORT (pure bash).
spool_port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# spool_free_port: prints a free loopback port; python3 when present, else bash probing.
spool_free_port() {
    local port
    if command -v python3 >/dev/null 2>&1; then
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null) &&
            { echo "$port"; return 0; }
    fi
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 30000))
        if spool_port_free "$port"; then echo "$port"; return 0; fi
    done
    spool_die "could not find a free port"
}

# spool_pg_start DIR: starts a private cluster in DIR (scripts/pg.sh) on a free port, trying
# again on another port if the first was taken meanwhile. Prints the port.
spool_pg_start() {
    local dir=$1 port try
    for try in 1 2 3; do
        port=$(spool_free_port)
        if bash "$SPOOL_ROOT/scripts/pg.sh" start "$dir" "$port" >/dev/null; then
            echo "$port"
            return 0
        fi
        spool_log "PostgreSQL did not start on port $port (try $try); see $dir/postgres.log"
    done
    tail -n 20 "$dir/postgres.log" >&2 2>/dev/null || true
    return 1
}

spool_pg_stop() {
    bash "$SPOOL_ROOT/scripts/pg.sh" stop "$1" || true
}

# spool_psql URL ARGS...: psql without .psqlrc, stopping at the first error.
spool_psql() {
    local url=$1
    shift
    psql "$url" -X -v ON_ERROR_STOP=1 "$@"
}
