# Thin aliases over cargo; every recipe works without `just` by running its line.

# Build the plugins (wasm32-wasip2) on their own.
build-plugins:
    cargo build --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml

# The whole test suite (what CI runs).
test:
    bash scripts/test.sh

# The benchmarks: ratios against native baselines measured in the same run.
bench:
    cargo bench --locked --bench throughput

# Backup and restore of a generated 1 GiB tree against restic (apt-get install restic).
bench-backup:
    cargo bench --locked --bench backup

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Check that the WIT contract parses, through the host's bindings.
wit-check:
    cargo check --locked -p warden

# The S3 benchmark: the s3 plugin against native aws-sdk-s3 and rclone on a local S3 server,
# plus the host's RSS while putting 4 GiB (rclone: apt-get install rclone).
bench-s3:
    cargo build --release --locked --bin warden
    cargo run --release --manifest-path bench/s3/Cargo.toml

# Coverage-guided fuzzing (needs nightly and `cargo install cargo-fuzz`); the guests still
# build with stable's rustc, which has the wasm target. CI runs host/tests/fuzz.rs instead.
fuzz target="keys" seconds="60":
    cd fuzz && WARDEN_GUEST_RUSTC=$(rustup which --toolchain stable rustc) cargo +nightly fuzz run {{target}} -- -max_total_time={{seconds}}
