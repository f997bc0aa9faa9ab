//! Backups: restic-format repositories written through `rustic_core`, on any target plugin
//! (through the restic layout adapter in [`backend`]), fed by importer plugins and restored
//! through exporter plugins.
//!
//! rustic_core is synchronous and calls its backend from many threads: every function here
//! blocks, and must run on a thread that may block and is not one of the tokio runtime's
//! workers (`spawn_blocking`, or a thread of its own).

pub mod backend;
mod restore;
mod source;

use std::path::PathBuf;

use rustic_core::repofile::SnapshotFile;
use rustic_core::{
    ConfigOptions, Credentials, KeyOptions, OpenStatus, Repository, RepositoryBackends, RepositoryOptions, RusticError,
};

pub use backend::TargetBackend;
pub use restore::{RestoreReport, restore};
pub use source::{BackupOptions, BackupReport, SourceFailure, backup};

use crate::error::{Error, ErrorClass, Result};

/// An open repository.
pub type OpenRepository = Repository<OpenStatus>;

/// Where the engine keeps its cache of snapshot and index files (they are encrypted).
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// The cache directory; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
}

fn repository(backend: &TargetBackend, options: &EngineOptions) -> Result<Repository<()>> {
    let mut opts = RepositoryOptions::default();
    match &options.cache_dir {
        Some(dir) => opts.cache_dir = Some(dir.clone()),
        None => opts.no_cache = true,
    }
    let backends = RepositoryBackends::new(backend::as_rustic(backend.clone()), None);
    Repository::new(&opts, &backends).map_err(|e| engine_error(&backend.location_name(), "open", e))
}

/// Create a new repository protected by `password`.
pub fn init(backend: &TargetBackend, password: &str, options: &EngineOptions) -> Result<OpenRepository> {
    let repo = repository(backend, options)?;
    let name = backend.location_name();
    if repo.config_id().map_err(|e| engine_error(&name, "init", e))?.is_some() {
        return Err(Error::Repository {
            repo: name,
            op: "init",
            class: ErrorClass::AlreadyExists,
            detail: "a repository already exists there; use it as it is, or pick another location".into(),
        });
    }
    let credentials = Credentials::password(password);
    repo.init(&credentials, &KeyOptions::default(), &ConfigOptions::default())
        .map_err(|e| engine_error(&name, "init", e))
}

/// Open an existing repository with `password`.
pub fn open(backend: &TargetBackend, password: &str, options: &EngineOptions) -> Result<OpenRepository> {
    let repo = repository(backend, options)?;
    let name = backend.location_name();
    if repo.config_id().map_err(|e| engine_error(&name, "open", e))?.is_none() {
        return Err(Error::Repository {
            repo: name,
            op: "open",
            class: ErrorClass::NotFound,
            detail: "there is no repository there; create one with `warden init`".into(),
        });
    }
    repo.open(&Credentials::password(password)).map_err(|e| engine_error(&name, "open", e))
}

/// Every snapshot, oldest first.
pub fn snapshots(repo: &OpenRepository) -> Result<Vec<SnapshotFile>> {
    let mut all = repo.get_all_snapshots().map_err(|e| engine_error(&repo.name, "snapshots", e))?;
    all.sort_by(|a, b| a.time.cmp(&b.time));
    Ok(all)
}

/// Turn a rustic_core error into ours, keeping a plugin's failure underneath it (its class
/// and message) when there is one. (rustic_core hands its errors over boxed.)
#[allow(clippy::boxed_local)]
pub(crate) fn engine_error(repo: &str, op: &'static str, e: Box<RusticError>) -> Error {
    if e.is_incorrect_password() {
        return Error::Repository {
            repo: repo.to_string(),
            op,
            class: ErrorClass::Unauthenticated,
            detail: "the password is wrong (no key of the repository opens with it); check --password-file or WARDEN_PASSWORD".into(),
        };
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&*e);
    while let Some(s) = source {
        if let Some(ours) = s.downcast_ref::<Error>() {
            return Error::Repository { repo: repo.to_string(), op, class: ours.class(), detail: ours.to_string() };
        }
        source = s.source();
    }
    Error::Repository { repo: repo.to_string(), op, class: ErrorClass::Other, detail: e.display_log() }
}

/// One entry of a snapshot, as `ls` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileEntry {
    /// The path inside the snapshot.
    pub path: PathBuf,
    /// `file`, `dir`, `symlink`, ...
    pub kind: String,
    /// Size in bytes (files).
    pub size: u64,
    /// Modification time, as recorded.
    pub mtime: Option<String>,
}

/// The entries of `snap_path` (`ID[:PATH]`, `latest[:PATH]`), depth first.
pub fn list_files(repo: OpenRepository, snap_path: &str) -> Result<Vec<FileEntry>> {
    let name = repo.name.clone();
    let repo = repo.to_indexed().map_err(|e| engine_error(&name, "ls", e))?;
    let (_, inner) = snap_path.split_once(':').unwrap_or((snap_path, ""));
    let base = PathBuf::from(if inner.is_empty() { "/" } else { inner });
    let node = repo.node_from_snapshot_path(snap_path, |_| true).map_err(|e| engine_error(&name, "ls", e))?;
    let mut out = Vec::new();
    if !node.is_dir() {
        out.push(file_entry(base, &node));
        return Ok(out);
    }
    for entry in repo.ls(&node, &rustic_core::LsOptions::default()).map_err(|e| engine_error(&name, "ls", e))? {
        let (path, node) = entry.map_err(|e| engine_error(&name, "ls", e))?;
        out.push(file_entry(base.join(path), &node));
    }
    Ok(out)
}

fn file_entry(path: PathBuf, node: &rustic_core::repofile::Node) -> FileEntry {
    let kind = match &node.node_type {
        rustic_core::repofile::NodeType::Symlink { .. } => "symlink".to_string(),
        other => other.to_string(),
    };
    FileEntry { path, kind, size: node.meta.size, mtime: node.meta.mtime.map(|t| t.to_string()) }
}

/// What `check` found: errors make the repository unsound, warnings do not.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CheckReport {
    /// Problems that make data unreadable or the repository inconsistent.
    pub errors: Vec<String>,
    /// Findings that do not (unused packs, say).
    pub warnings: Vec<String>,
}

/// Check the repository's structure; with `read_data`, read and verify every pack.
pub fn check(repo: OpenRepository, read_data: bool) -> Result<CheckReport> {
    let name = repo.name.clone();
    let mut opts = rustic_core::CheckOptions::default();
    opts.read_data = read_data;
    let results = repo.check(opts).map_err(|e| engine_error(&name, "check", e))?;
    let mut report = CheckReport::default();
    for (level, finding) in results.0 {
        // rustic_core does not export the level's type: tell them apart by name.
        if format!("{level:?}") == "Error" {
            report.errors.push(finding.to_string());
        } else {
            report.warnings.push(finding.to_string());
        }
    }
    Ok(report)
}
