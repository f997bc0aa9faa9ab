#!/usr/bin/env bash
# Run every test, on a fresh machine that has only rustup's stable toolchain.
# Installs what is missing (the wasm32-wasip2 target the plugins build for), builds the
# plugins and the host, and runs the whole suite: the host's, then the SDK's own unit and
# doc tests. Extra arguments go to the host's `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2
cargo test --workspace --locked "$@"
cargo test --locked --manifest-path sdk-guest/Cargo.toml -p warden-sdk
