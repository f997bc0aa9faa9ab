//! Builds the plugins in `plugins/` for wasm32-wasip2 so the `warden` binary can embed the
//! built-in ones (wasmtime's test-programs pattern). The plugins are a workspace of their own,
//! built into `target/plugins`, so this nested build never contends with the host's.

use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-wasip2";
/// The guest workspaces to build: the plugins, and the SDK with its examples.
const WORKSPACES: &[&str] = &["plugins", "sdk-guest"];
/// Every plugin the tests and the binary use, as (package, artifact stem).
const PLUGINS: &[(&str, &str)] = &[
    ("memory-target", "memory_target"),
    ("warden-plugin-s3", "warden_plugin_s3"),
    ("broken-target", "broken_target"),
    ("warden-plugin-fs", "warden_plugin_fs"),
    ("warden-plugin-null-sink", "warden_plugin_null_sink"),
    ("warden-plugin-not-a-target", "warden_plugin_not_a_target"),
    ("warden-plugin-hostile", "warden_plugin_hostile"),
    ("warden-plugin-hostile-importer", "warden_plugin_hostile_importer"),
    ("warden-plugin-missing-import", "warden_plugin_missing_import"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir.parent().expect("host/ has a parent").to_path_buf();
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    for dir in ["plugins/fs", "plugins/s3", "plugins/testing", "plugins/Cargo.toml", "plugins/Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    for dir in ["sdk-guest/src", "sdk-guest/examples", "sdk-guest/Cargo.toml", "sdk-guest/Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    // The guests may need another toolchain than the host: a nightly host build (cargo-fuzz)
    // can point them at stable's rustc, which has the wasm target.
    println!("cargo:rerun-if-env-changed=WARDEN_GUEST_RUSTC");
    let rustc =
        std::env::var("WARDEN_GUEST_RUSTC").or_else(|_| std::env::var("RUSTC")).unwrap_or_else(|_| "rustc".into());
    check_wasm_target(&rustc);

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    // target/plugins beside the host's own target dir, so repeated builds reuse it.
    let target_dir =
        std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target")).join("plugins");
    for workspace in WORKSPACES {
        build_workspace(&root.join(workspace), &target_dir, &rustc);
    }
    let built = target_dir.join(WASM_TARGET).join("release");
    for (_, stem) in PLUGINS {
        let from = built.join(format!("{stem}.wasm"));
        let to = out_dir.join(format!("{stem}.wasm"));
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
    }
    println!("cargo:rustc-env=WARDEN_PLUGIN_DIR={}", out_dir.display());
    write_sdk_files(&root, &out_dir);
    println!("cargo:rustc-env=WASMTIME_VERSION={}", wasmtime_version(&root));
}

/// Build one guest workspace for wasm32-wasip2 (release) into `target_dir`.
fn build_workspace(dir: &Path, target_dir: &Path, rustc: &str) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--locked")
        .arg("--workspace")
        .arg("--target")
        .arg(WASM_TARGET)
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .env("RUSTC", rustc);
    // The outer build's settings are for the host, not for wasm: don't let them leak in.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PROFILE_RELEASE_DEBUG",
        "CARGO_LLVM_COV",
        "LLVM_PROFILE_FILE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().unwrap_or_else(|e| panic!("could not run cargo to build the plugins: {e}"));
    if !status.success() {
        panic!("building the plugins in {} for {WASM_TARGET} failed (see the errors above)", dir.display());
    }
}

/// Fail early, saying exactly what to run, when the wasm target is not installed.
fn check_wasm_target(rustc: &str) {
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| PathBuf::from(s.trim()));
    let Some(sysroot) = sysroot else { return };
    let lib = sysroot.join("lib").join("rustlib").join(WASM_TARGET);
    if !Path::new(&lib).exists() {
        panic!(
            "\n\nWarden's built-in plugins are WebAssembly components, and the Rust target \
             `{WASM_TARGET}` is not installed for this toolchain ({}).\n\
             Add it with:\n\n    rustup target add {WASM_TARGET}\n\n\
             (scripts/quickstart.sh and scripts/test.sh do this for you.)\n",
            sysroot.display()
        );
    }
}

/// The wasmtime version pinned in the lock file (part of the compile cache's key).
fn wasmtime_version(root: &Path) -> String {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasmtime\""
            && let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return v.trim_end_matches('"').to_string();
        }
    }
    "unknown".to_string()
}

/// List the SDK's sources and the WIT contract for `warden plugin new`, which writes them
/// beside a new plugin so it builds with no other checkout.
fn write_sdk_files(root: &Path, out_dir: &Path) {
    let mut entries = Vec::new();
    for (dir, prefix) in [(root.join("sdk-guest/src"), "warden-sdk/src"), (root.join("wit"), "wit")] {
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            let mut children: Vec<PathBuf> =
                std::fs::read_dir(&d).expect("listing SDK files").map(|e| e.expect("entry").path()).collect();
            children.sort();
            for path in children {
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(&dir).expect("below dir").to_string_lossy().replace('\\', "/");
                    entries.push(format!(
                        "    ({:?}, include_bytes!({:?})),",
                        format!("{prefix}/{rel}"),
                        path.display().to_string()
                    ));
                }
            }
        }
    }
    let code = format!(
        "/// Files `warden plugin new` writes: the SDK's sources and the WIT contract.\npub const SDK_FILES: &[(&str, &[u8])] = &[\n{}\n];\n",
        entries.join("\n")
    );
    std::fs::write(out_dir.join("sdk_files.rs"), code).expect("writing sdk_files.rs");
}
