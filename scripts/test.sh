#!/usr/bin/env bash
# Run every test, on a fresh machine that has only rustup's stable toolchain.
# Installs what is missing (the wasm32-wasip2 target the plugins build for), builds the
# plugins and the host, and runs the whole suite. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2
cargo test --workspace --locked "$@"
