#!/usr/bin/env bash
# Build Warden and run its main job on the embedded default: back up a sample directory into
# the default repository (the built-in fs plugin, in the user's data directory), restore it
# elsewhere and compare.
# Extra arguments go to `warden quickstart` (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2
cargo build --release --locked --bin warden
exec ./target/release/warden quickstart "$@"
