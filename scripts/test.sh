#!/usr/bin/env bash
# The whole test suite, from a fresh clone: formatting, lints, and every test of every crate.
# Installs what the tests need beyond the Rust toolchain (Chromium and ChromeDriver for the
# browser tests, PostgreSQL for the tests of that backend), so that this one command stays the
# whole story. Screenshots of the pages land
# in target/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# A clean clone gains nothing from incremental compilation, which would double the build's size
# on disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
step "disk free where the build goes"
df -h . | tail -n 1

# The browser tests drive Debian's Chromium through ChromeDriver.
if ! command -v chromium > /dev/null || ! command -v chromedriver > /dev/null; then
    step "installing chromium and chromium-driver (Debian packages) for the browser tests"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver > /dev/null
fi

# PostgreSQL: a throwaway server of our own, unless ARMSTRACE_TEST_PG_URL names one. The store's
# tests run on SQLite and PostgreSQL; the end-to-end suite runs once per backend below.
if [ -z "${ARMSTRACE_TEST_PG_URL:-}" ]; then
    pg_dir=$(mktemp -d /tmp/armstrace-pg.XXXXXX)
    trap 'scripts/pg-server.sh stop "$pg_dir"' EXIT
    step "starting a throwaway PostgreSQL in $pg_dir"
    ARMSTRACE_TEST_PG_URL=$(scripts/pg-server.sh start "$pg_dir")
    export ARMSTRACE_TEST_PG_URL
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo clippy of the benchmark beside tantivy (feature peer-bench, off by default)"
cargo clippy -p armstrace --features peer-bench --locked -- -D warnings

step "cargo test (the store on SQLite and PostgreSQL, the end-to-end suite on SQLite)"
cargo test --workspace --locked

step "the end-to-end suite again, on PostgreSQL"
# --workspace as above, so that nothing is built again with other features.
ARMSTRACE_TEST_BACKEND=postgres cargo test --workspace --locked --test it

step "size of the build"
du -sh target 2>/dev/null || true
