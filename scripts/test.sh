#!/usr/bin/env bash
# The whole test suite, from a fresh clone: formatting, lints, and every test of every crate.
# Installs nothing today beyond the Rust toolchain the machine has; as backends and browser
# tests arrive, their set-up goes here too, so that this one command stays the whole story.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked
