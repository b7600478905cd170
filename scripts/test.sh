#!/usr/bin/env bash
# The whole test suite, from a fresh clone: formatting, lints, and every test of every crate.
# Installs what the tests need beyond the Rust toolchain (Chromium and ChromeDriver for the
# browser tests), so that this one command stays the whole story. Screenshots of the pages land
# in target/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# The browser tests drive Debian's Chromium through ChromeDriver.
if ! command -v chromium > /dev/null || ! command -v chromedriver > /dev/null; then
    step "installing chromium and chromium-driver (Debian packages) for the browser tests"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver > /dev/null
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked
