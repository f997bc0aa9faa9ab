//! `warden plugin new NAME`: a plugin crate that builds to wasm32-wasip2 with one command and
//! passes `warden plugin test` as it is. The SDK and the WIT contract are written beside it,
//! so it builds with no Warden checkout (only crates.io).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

const SDK_CARGO_TOML: &str = include_str!("../../../sdk-guest/Cargo.toml");
const LIB_RS: &str = include_str!("template/lib.rs.txt");

/// Write a new plugin crate named `name` into `parent/name`; returns its directory.
pub fn create(parent: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.as_bytes()[0].is_ascii_lowercase();
    if !valid {
        bail!("a plugin name is 1 to 64 lower-case letters, digits or `-`, starting with a letter (got {name:?})");
    }
    let dir = parent.join(name);
    if dir.exists() {
        bail!("{} already exists; pick another name or remove it", dir.display());
    }
    let crate_name = name.replace('-', "_");
    let files: Vec<(String, Vec<u8>)> = [
        ("Cargo.toml".to_string(), cargo_toml(name).into_bytes()),
        ("warden.toml".to_string(), warden_toml(name).into_bytes()),
        (".cargo/config.toml".to_string(), b"[build]\ntarget = \"wasm32-wasip2\"\n".to_vec()),
        (".gitignore".to_string(), b"/target\n".to_vec()),
        ("README.md".to_string(), readme(name, &crate_name).into_bytes()),
        ("src/lib.rs".to_string(), LIB_RS.replace("{{name}}", name).replace("{{crate}}", &crate_name).into_bytes()),
        ("warden-sdk/Cargo.toml".to_string(), vendored_sdk_manifest().into_bytes()),
    ]
    .into_iter()
    .chain(SDK_FILES.iter().map(|(path, bytes)| (path.to_string(), bytes.to_vec())))
    .collect();
    for (rel, bytes) in files {
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir)
}

/// The SDK's manifest without its workspace section (the new crate's workspace takes it in).
fn vendored_sdk_manifest() -> String {
    let cut = SDK_CARGO_TOML.find("# ---- not copied").unwrap_or(SDK_CARGO_TOML.len());
    SDK_CARGO_TOML[..cut].trim_end().to_string() + "\n"
}

fn cargo_toml(name: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
warden-sdk = {{ path = "warden-sdk" }}

[workspace]

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
strip = "debuginfo"
panic = "abort"
"#
    )
}

fn warden_toml(name: &str) -> String {
    format!(
        r#"# The plugin's manifest: embedded into the .wasm by warden_sdk::export_target!.
name = "{name}"
version = "0.1.0"
description = "Objects as files in one directory (a template: replace with your storage)."
kinds = ["target"]

[config.path]
description = "The directory that holds the objects."
type = "path"
required = true

# The host preopens the directory named by the setting `path`, and nothing else.
[[capabilities.directories]]
config = "path"
access = "read-write"
"#
    )
}

fn readme(name: &str, crate_name: &str) -> String {
    format!(
        r#"# {name}

A Warden target plugin, made by `warden plugin new {name}`.

```sh
cargo build --release                                        # builds target/wasm32-wasip2/release/{crate_name}.wasm
warden plugin test target/wasm32-wasip2/release/{crate_name}.wasm   # the contract suite, sandboxed
warden plugin install target/wasm32-wasip2/release/{crate_name}.wasm
warden target add mine --plugin {name} --set path=/srv/objects
```

- `src/lib.rs`: the plugin (the `Target` trait from `warden-sdk`).
- `warden.toml`: its manifest: name, settings, the capabilities it asks for.
- `wit/`: the contract, `warden:plugin@0.1.0`, with every rule written down.
- `warden-sdk/`: the SDK, copied here so the crate builds on its own.

Needs the `wasm32-wasip2` Rust target: `rustup target add wasm32-wasip2`.
"#
    )
}
