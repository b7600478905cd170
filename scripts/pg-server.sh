#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: `scripts/pg-server.sh start DIR` installs Debian's
# postgresql package when no server is on the machine, creates a cluster in DIR (trust
# authentication, listening on a free port of 127.0.0.1 only), starts it and prints its URL;
# `scripts/pg-server.sh stop DIR` stops it and removes DIR. Run as root, the server runs as the
# `postgres` user the package creates.
set -euo pipefail

bin_dir() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1 || true)
    if [ -z "$found" ] && command -v initdb > /dev/null; then
        found=$(dirname "$(command -v initdb)")
    fi
    printf '%s' "$found"
}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case "${1:-}" in
start)
    dir=$2
    bin=$(bin_dir)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        echo "installing postgresql (Debian package) for the PostgreSQL tests" >&2
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql > /dev/null
        bin=$(bin_dir)
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$dir/data" -U armstrace -A trust -E UTF8 --no-locale > "$dir/initdb.log" 2>&1
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
        "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start > /dev/null
    printf 'postgres://armstrace@127.0.0.1:%s/postgres\n' "$port"
    ;;
stop)
    dir=$2
    bin=$(bin_dir)
    if [ -d "$dir/data" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop > /dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start DIR | stop DIR" >&2
    exit 2
    ;;
esac
