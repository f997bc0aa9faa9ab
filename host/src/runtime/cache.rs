//! The on-disk cache of compiled plugins.
//!
//! Entries are keyed by the wasmtime version, the engine's compatibility hash and the SHA-256
//! of the component's bytes. Deserializing compiled code is only safe for artifacts this host
//! wrote, so each artifact has a sidecar with its own SHA-256, written after the artifact; an
//! entry whose bytes do not match its sidecar is recompiled, never loaded.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{Error, Result};

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    /// Open (creating with mode 0700) the cache for this engine under `root`.
    pub fn open(root: PathBuf, engine: &Engine) -> Result<Self> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
        let compat = std::hash::Hasher::finish(&hasher);
        let dir = root.join(format!("wasmtime-{}", env!("WASMTIME_VERSION"))).join(format!("{compat:016x}"));
        create_private_dir(&dir)?;
        Ok(CompileCache { dir })
    }

    /// Load the compiled form of `bytes`, compiling and storing it on a miss.
    pub fn load_or_compile(&self, engine: &Engine, name: &str, bytes: &[u8]) -> Result<Component> {
        let key = hex::encode(Sha256::digest(bytes));
        let artifact = self.dir.join(format!("{key}.cwasm"));
        let sidecar = self.dir.join(format!("{key}.sha256"));
        if let Some(component) = self.load(engine, &artifact, &sidecar) {
            return Ok(component);
        }
        let component = super::compile_uncached(engine, name, bytes)?;
        if let Err(e) = self.store(&component, &artifact, &sidecar) {
            tracing::warn!("could not cache the compiled plugin `{name}`: {e}");
        }
        Ok(component)
    }

    fn load(&self, engine: &Engine, artifact: &Path, sidecar: &Path) -> Option<Component> {
        let expected = fs::read_to_string(sidecar).ok()?;
        // Read once and check what was read, so the file cannot change between check and use.
        let compiled = fs::read(artifact).ok()?;
        if hex::encode(Sha256::digest(&compiled)) != expected.trim() {
            tracing::warn!("ignoring a damaged cache entry {}", artifact.display());
            return None;
        }
        // SAFETY: the bytes were written by `store` below (the sidecar, written after the
        // artifact in a directory only this user can write, vouches for them) for an engine
        // with the same compatibility hash.
        match unsafe { Component::deserialize(engine, &compiled) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("ignoring an unusable cache entry {}: {e}", artifact.display());
                None
            }
        }
    }

    fn store(&self, component: &Component, artifact: &Path, sidecar: &Path) -> Result<()> {
        let compiled = component.serialize().map_err(|e| Error::Runtime {
            plugin: "-".into(),
            op: "cache",
            detail: format!("{e:#}"),
        })?;
        write_atomically(artifact, &compiled)?;
        write_atomically(sidecar, hex::encode(Sha256::digest(&compiled)).as_bytes())
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| Error::io("creating the compile cache", dir, e))
}

/// Write a file through a temp file and a rename, so readers never see it half-written.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io("creating a temp file", dir, e))?;
    temp.write_all(bytes).map_err(|e| Error::io("writing", path, e))?;
    temp.as_file().sync_all().map_err(|e| Error::io("syncing", path, e))?;
    temp.persist(path).map_err(|e| Error::io("replacing", path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::builtin::FS;

    fn entries(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for entry in walk(dir) {
            if entry.extension().is_some_and(|e| e == "cwasm" || e == "sha256") {
                found.push(entry);
            }
        }
        found.sort();
        found
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }

    #[test]
    fn caches_and_never_loads_a_damaged_artifact() {
        let root = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = CompileCache::open(root.path().to_path_buf(), &engine).unwrap();
        cache.load_or_compile(&engine, "fs", FS).unwrap();
        let files = entries(root.path());
        assert_eq!(files.len(), 2, "{files:?}");
        let artifact = files.iter().find(|p| p.extension().unwrap() == "cwasm").unwrap().clone();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(artifact.parent().unwrap()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "the cache is private");
        }
        // A hit deserializes the same artifact.
        let before = fs::read(&artifact).unwrap();
        cache.load_or_compile(&engine, "fs", FS).unwrap();
        assert_eq!(fs::read(&artifact).unwrap(), before);
        // A damaged artifact is recompiled and replaced, never loaded.
        let mut damaged = before.clone();
        let mid = damaged.len() / 2;
        damaged[mid] ^= 0xff;
        fs::write(&artifact, &damaged).unwrap();
        cache.load_or_compile(&engine, "fs", FS).unwrap();
        assert_eq!(fs::read(&artifact).unwrap(), before);
    }
}
