//! Shared helpers for the integration tests: a sandboxed `warden` command with its own
//! config and cache directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub mod fault_proxy;
pub mod http_server;
pub mod moto;
pub mod restic;
pub mod s3_server;

/// A scratch world for one test: config, cache and data directories under one temp dir.
pub struct World {
    pub root: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        World { root: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// `warden` with this world's config and a shared compile cache.
    pub fn warden(&self) -> Command {
        let mut cmd = Command::cargo_bin("warden").expect("the warden binary is built");
        cmd.env("WARDEN_CONFIG_DIR", self.path("config"))
            .env("WARDEN_CACHE_DIR", shared_cache())
            .env("XDG_DATA_HOME", self.path("xdg-data"))
            .env_remove("WARDEN_REPO")
            .env_remove("WARDEN_PASSWORD")
            .env_remove("WARDEN_PASSWORD_FILE")
            .env_remove("WARDEN_LOG")
            .env_remove("WARDEN_MASTER_SECRET")
            .env_remove("WARDEN_CALL_TIMEOUT")
            .env_remove("WARDEN_MEMORY_LIMIT_MIB");
        cmd
    }

    /// Add an fs target `name` over `data/<name>` and return that directory.
    pub fn add_fs_target(&self, name: &str) -> PathBuf {
        let dir = self.path(&format!("data/{name}"));
        self.warden()
            .args(["target", "add", name, "--plugin", "fs", "--set"])
            .arg(format!("path={}", dir.display()))
            .assert()
            .success();
        dir
    }
}

/// One compile cache for all tests, so the plugin compiles once per test run.
pub fn shared_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("warden-test-cache")
}

/// Every file below `dir`, as paths relative to it, sorted.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            out.push(path.strip_prefix(dir).unwrap().to_path_buf());
        }
    }
    out.sort();
    out
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A compiled test plugin's path.
pub fn test_plugin(stem: &str) -> PathBuf {
    warden::plugin::builtin::testing::path(stem)
}

/// Rename the manifest section (every mention of its name) so the component has none.
pub fn without_manifest(mut bytes: Vec<u8>) -> Vec<u8> {
    let marker = b"warden:manifest";
    let mut renamed = 0;
    while let Some(at) = bytes.windows(marker.len()).position(|w| w == marker) {
        bytes[at..at + marker.len()].copy_from_slice(b"wardenXmanifest");
        renamed += 1;
    }
    assert!(renamed > 0, "the section is present");
    bytes
}

/// Append a custom section to a component, bypassing `pack`'s checks.
pub fn with_section(mut bytes: Vec<u8>, name: &str, data: &[u8]) -> Vec<u8> {
    fn leb(out: &mut Vec<u8>, mut v: usize) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            out.push(if v == 0 { b } else { b | 0x80 });
            if v == 0 {
                return;
            }
        }
    }
    let mut body = Vec::new();
    leb(&mut body, name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    bytes.push(0);
    leb(&mut bytes, body.len());
    bytes.extend_from_slice(&body);
    bytes
}
