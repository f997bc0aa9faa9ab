#!/usr/bin/env bash
# Run every test, on a fresh machine that has only rustup's stable toolchain.
# Installs what is missing (the wasm32-wasip2 target the plugins build for, moto's S3
# server from PyPI, Debian's restic for the interop tests), builds the
# plugins and the host, and runs the whole suite: the host's, then the SDK's own unit and
# doc tests. Extra arguments go to the host's `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2
# moto: the second, independent S3 server the s3 plugin is tested against.
command -v moto_server >/dev/null 2>&1 || python3 -m pip install --quiet 'moto[server]'
# restic: the interop tests check that it reads Warden's repositories and the other way round.
if ! command -v restic >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get install -y -qq restic >/dev/null 2>&1 \
        || { $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq restic >/dev/null; }
fi
cargo test --workspace --locked "$@"
cargo test --locked --manifest-path sdk-guest/Cargo.toml -p warden-sdk
