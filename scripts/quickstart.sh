#!/usr/bin/env bash
# Build Warden and run its main job on the embedded default: a local target served by the
# built-in fs plugin (a round trip today: put a file, get it back, compare).
# Extra arguments go to `warden quickstart` (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2
cargo build --release --locked --bin warden
exec ./target/release/warden quickstart "$@"
