//! The plugin kit as a third party uses it: `warden plugin new`, build, `test`, `install`,
//! use by name, `remove`; `pack` for a component built without the SDK; `test` catching a
//! broken plugin; install refusals.

mod support;

use std::path::PathBuf;
use std::process::Command;

use predicates::prelude::*;
use support::{World, test_plugin};

fn null_sink_manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/testing/null-sink/warden.toml")
}

#[test]
fn a_new_plugin_builds_passes_the_suite_installs_and_serves_a_target() {
    let w = World::new();
    w.warden().args(["plugin", "new", "demo-store", "--dir"]).arg(w.root.path()).assert().success();
    let crate_dir = w.path("demo-store");
    for file in
        ["Cargo.toml", "warden.toml", "src/lib.rs", "warden-sdk/src/lib.rs", "wit/types.wit", ".cargo/config.toml"]
    {
        assert!(crate_dir.join(file).is_file(), "{file} is written");
    }
    // One command builds it (the target comes from .cargo/config.toml). A shared target dir
    // keeps repeated test runs quick.
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scaffold-target");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .unwrap();
    assert!(status.success(), "the scaffold builds");
    let wasm = target_dir.join("wasm32-wasip2/release/demo_store.wasm");

    w.warden()
        .args(["plugin", "test", "--large-mib", "8"])
        .arg(&wasm)
        .assert()
        .success()
        .stdout(predicate::str::contains("0 failed"));
    w.warden()
        .args(["plugin", "install"])
        .arg(&wasm)
        .assert()
        .success()
        .stdout(predicate::str::contains("installed plugin `demo-store`"));
    w.warden().args(["plugin", "install"]).arg(&wasm).assert().code(5).stderr(predicate::str::contains("--force"));
    w.warden().args(["plugin", "install", "--force"]).arg(&wasm).assert().success();
    w.warden()
        .args(["plugin", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("demo-store\t0.1.0\tinstalled"));
    w.warden().args(["plugin", "test", "demo-store", "--large-mib", "1"]).assert().success();

    let data = w.path("demo-data");
    w.warden()
        .args(["target", "add", "d", "--plugin", "demo-store", "--set"])
        .arg(format!("path={}", data.display()))
        .assert()
        .success();
    w.warden().args(["target", "put", "d", "greeting"]).write_stdin("hello").assert().success();
    w.warden().args(["target", "get", "d", "greeting"]).assert().success().stdout("hello");
    w.warden()
        .args(["plugin", "remove", "demo-store"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("targets `d` use plugin"));
    w.warden().args(["target", "remove", "d"]).assert().success();
    w.warden().args(["plugin", "remove", "demo-store"]).assert().success();
    w.warden().args(["plugin", "inspect", "demo-store"]).assert().code(3);
}

#[test]
fn the_broken_example_fails_with_each_violated_rule_named() {
    let w = World::new();
    let junit = w.path("report.xml");
    let run = w
        .warden()
        .args(["plugin", "test", "--large-mib", "1", "--junit"])
        .arg(&junit)
        .arg(test_plugin("broken_target"))
        .assert()
        .code(1);
    let out = String::from_utf8_lossy(&run.get_output().stdout).to_string();
    for rule in [
        "overwrite",
        "create-only",
        "ranges",
        "missing-key",
        "delete",
        "listing-pages",
        "size-mismatch",
        "printable-ascii-keys",
    ] {
        assert!(out.lines().any(|l| l.contains("FAIL") && l.contains(rule)), "`{rule}` is reported failed:\n{out}");
    }
    assert!(out.contains("expected a `not-found` error, got `other`"), "{out}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite name=\"warden-conformance.broken\""));
    assert!(xml.matches("<failure").count() >= 8, "{xml}");

    let json = w
        .warden()
        .args(["--json", "plugin", "test", "--large-mib", "1"])
        .arg(test_plugin("broken_target"))
        .assert()
        .code(1);
    let report: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    let overwrite = report["cases"].as_array().unwrap().iter().find(|c| c["name"] == "overwrite").unwrap();
    assert_eq!(overwrite["outcome"], "fail");
    assert!(overwrite["rule"].as_str().unwrap().contains("replaces"));
}

#[test]
fn plugin_test_passes_the_builtin_fs_plugin_with_a_scratch_directory() {
    let w = World::new();
    w.warden()
        .args(["plugin", "test", "fs", "--large-mib", "8"])
        .assert()
        .success()
        .stdout(predicate::str::contains("18 passed, 0 failed, 0 skipped"));
}

#[test]
fn the_memory_example_installs_and_passes() {
    let w = World::new();
    w.warden().args(["plugin", "install"]).arg(test_plugin("memory_target")).assert().success();
    w.warden()
        .args(["plugin", "test", "memory", "--large-mib", "16"])
        .assert()
        .success()
        .stdout(predicate::str::contains("18 passed, 0 failed, 0 skipped"));
}

#[test]
fn pack_makes_a_plain_component_installable() {
    let w = World::new();
    let plain = test_plugin("warden_plugin_null_sink");
    // Without a manifest it is refused, and says how to fix it.
    w.warden()
        .args(["plugin", "install"])
        .arg(&plain)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("warden plugin pack"));
    let packed = w.path("null-sink.wasm");
    w.warden()
        .args(["plugin", "pack"])
        .arg(&plain)
        .arg("--manifest")
        .arg(null_sink_manifest())
        .arg("-o")
        .arg(&packed)
        .assert()
        .success()
        .stdout(predicate::str::contains("packed plugin `null-sink`"));
    w.warden().args(["plugin", "install"]).arg(&packed).assert().success();
    w.warden()
        .args(["plugin", "inspect", "null-sink"])
        .assert()
        .success()
        .stdout(predicate::str::contains("api:         warden:plugin@0.1.0"));
    // Packing twice, a bad manifest, an unsupported version: refused, nothing written.
    let again = w.path("again.wasm");
    w.warden()
        .args(["plugin", "pack"])
        .arg(&packed)
        .arg("--manifest")
        .arg(null_sink_manifest())
        .arg("-o")
        .arg(&again)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("already carries"));
    let bad = w.path("bad.toml");
    std::fs::write(&bad, "name = \"Bad Name\"\nversion = \"1\"\nkinds = [\"target\"]\n").unwrap();
    w.warden()
        .args(["plugin", "pack"])
        .arg(&plain)
        .arg("--manifest")
        .arg(&bad)
        .arg("-o")
        .arg(&again)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("lower-case"));
    w.warden()
        .args(["plugin", "pack", "--api-version", "9.9.9"])
        .arg(&plain)
        .arg("--manifest")
        .arg(null_sink_manifest())
        .arg("-o")
        .arg(&again)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("supports 0.1.0"));
    assert!(!again.exists());
}

#[test]
fn install_refuses_builtin_names_and_tampered_files() {
    let w = World::new();
    // A plugin whose manifest calls it `fs` cannot shadow the built-in one.
    let fs_copy = w.path("fs-copy.wasm");
    std::fs::write(&fs_copy, warden::plugin::builtin::FS).unwrap();
    w.warden()
        .args(["plugin", "install", "--force"])
        .arg(&fs_copy)
        .assert()
        .code(5)
        .stderr(predicate::str::contains("built-in"));
    // A swapped installed file is refused, not run.
    w.warden().args(["plugin", "install"]).arg(test_plugin("memory_target")).assert().success();
    let installed = w.path("config/plugins/memory.wasm");
    std::fs::write(&installed, std::fs::read(test_plugin("broken_target")).unwrap()).unwrap();
    w.warden()
        .args(["plugin", "inspect", "memory"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("no longer matches"));
}
