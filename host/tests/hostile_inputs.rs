//! Files that are not (valid) plugins, given to the real CLI: each gets a clear error, a
//! non-zero exit, no panic, and nothing is registered.

mod support;

use predicates::prelude::*;
use support::{World, test_plugin};

fn fs_wasm() -> Vec<u8> {
    warden::plugin::builtin::FS.to_vec()
}

/// Replace the API version in a component's `warden:api-version` section (same length).
fn with_api_version(mut bytes: Vec<u8>, version: &[u8; 5]) -> Vec<u8> {
    let marker = b"warden:api-version";
    let at = bytes.windows(marker.len()).position(|w| w == marker).expect("the section is present") + marker.len();
    assert_eq!(&bytes[at..at + 5], b"0.1.0");
    bytes[at..at + 5].copy_from_slice(version);
    bytes
}

use support::{with_section, without_manifest};

#[test]
fn malformed_plugin_files_are_refused_clearly() {
    let w = World::new();
    let fs = fs_wasm();
    let mut random = support::pattern(200_000, 99);
    random[..4].copy_from_slice(b"\0asm");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.wasm", Vec::new(), "the file is empty"),
        ("text.wasm", b"#!/bin/sh\necho hi\n".to_vec(), "not WebAssembly"),
        ("random.wasm", support::pattern(100_000, 5), "not WebAssembly"),
        ("random-with-magic.wasm", random, "not valid WebAssembly"),
        ("truncated.wasm", fs[..fs.len() / 2].to_vec(), "not valid WebAssembly"),
        ("core-module.wasm", b"\0asm\x01\0\0\0".to_vec(), "core WebAssembly module, not a component"),
        ("no-manifest.wasm", without_manifest(fs.clone()), "no `warden:manifest` section"),
        (
            "bad-manifest.wasm",
            with_section(without_manifest(fs.clone()), "warden:manifest", b"name = \"x\"\nkinds = 3\n"),
            "bad manifest",
        ),
        (
            "undeclared-http.wasm",
            with_section(
                without_manifest(std::fs::read(test_plugin("warden_plugin_hostile")).unwrap()),
                "warden:manifest",
                b"name = \"sneaky\"\nversion = \"1\"\nkinds = [\"target\"]\n",
            ),
            "imports `wasi:http/",
        ),
        (
            "two-manifests.wasm",
            with_section(fs.clone(), "warden:manifest", b"name = \"x\""),
            "more than one `warden:manifest` section",
        ),
        (
            "too-new.wasm",
            with_api_version(fs.clone(), b"9.9.9"),
            "built for Warden plugin API 9.9.9, but this host supports 0.1.0",
        ),
        ("too-old.wasm", with_api_version(fs.clone(), b"0.0.1"), "API 0.0.1"),
        (
            "other-world.wasm",
            std::fs::read(test_plugin("warden_plugin_not_a_target")).unwrap(),
            "it is a target plugin, which must export `warden:plugin/target@0.1.0`",
        ),
        (
            "missing-import.wasm",
            std::fs::read(test_plugin("warden_plugin_missing_import")).unwrap(),
            "plugin `missing-import` cannot be loaded: it imports something this host does not provide",
        ),
    ];
    for (name, bytes, message) in cases {
        let path = w.path(name);
        std::fs::write(&path, &bytes).unwrap();
        for args in [vec!["plugin", "inspect"], vec!["target", "add", "t", "--set", "path=/tmp", "--plugin"]] {
            let assert = w.warden().args(&args).arg(&path).assert().code(4).stderr(predicate::str::contains(message));
            let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
            assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        }
    }
    assert!(!w.path("config/config.toml").exists(), "no target was registered");
}

#[test]
fn an_oversized_file_is_refused_before_it_is_read() {
    let w = World::new();
    let path = w.path("huge.wasm");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(100 << 20).unwrap(); // sparse: 100 MiB on paper
    w.warden()
        .args(["plugin", "inspect"])
        .arg(&path)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("100 MiB, more than the 64 MiB a plugin may be"));
}

#[test]
fn a_directory_or_missing_file_is_not_a_plugin() {
    let w = World::new();
    std::fs::create_dir_all(w.path("dir.wasm")).unwrap();
    w.warden()
        .args(["plugin", "inspect"])
        .arg(w.path("dir.wasm"))
        .assert()
        .code(4)
        .stderr(predicate::str::contains("not a file"));
    w.warden()
        .args(["plugin", "inspect"])
        .arg(w.path("missing.wasm"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing.wasm"));
}
