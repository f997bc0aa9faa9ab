//! Backups: restic-format repositories written through `rustic_core`, on any target plugin
//! (through the restic layout adapter in [`backend`]), fed by importer plugins and restored
//! through exporter plugins.
//!
//! rustic_core is synchronous and calls its backend from many threads: every function here
//! blocks, and must run on a thread that may block and is not one of the tokio runtime's
//! workers (`spawn_blocking`, or a thread of its own).

pub mod backend;
mod crypto;
pub mod lock;
mod restore;
mod source;

use std::path::PathBuf;
use std::sync::Arc;

use rustic_core::repofile::SnapshotFile;
use rustic_core::{
    ConfigOptions, Credentials, KeyOptions, OpenStatus, Repository, RepositoryBackends, RepositoryOptions, RusticError,
};

use backend::{FileKind, RusticBackend};
pub use backend::{RepoFiles, StoreBackend, TargetBackend};
pub use restore::{RestoreOptions, RestoreReport, restore};
pub use source::{BackupOptions, BackupReport, SourceFailure, backup};

use crate::error::{Error, ErrorClass, Result};

/// rustic_core's open repository.
pub type OpenRepository = Repository<OpenStatus>;

/// An open repository and the backend it lives on (for what rustic_core does not do: locks).
pub struct Repo {
    inner: OpenRepository,
    files: Arc<dyn RepoFiles>,
    progress: Option<std::sync::Arc<dyn rustic_core::ProgressBars>>,
}

impl Repo {
    /// How the operator names the repository.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The repository's id (hex).
    pub fn id(&self) -> String {
        self.inner.config().id.to_hex().to_string()
    }

    /// Take a restic-compatible lock, shared or `exclusive`.
    pub fn lock(&self, exclusive: bool) -> Result<lock::RepoLock> {
        lock::RepoLock::acquire(&self.files, &self.inner.key(), self.name(), exclusive)
    }

    /// Remove stale locks (every lock with `all`); returns how many were removed.
    pub fn unlock(&self, all: bool) -> Result<usize> {
        lock::unlock(&self.files, &self.inner.key(), all)
    }

    /// The locks present, with their ids.
    pub fn locks(&self) -> Result<Vec<(String, lock::LockInfo)>> {
        lock::list(&self.files, &self.inner.key())
    }

    /// Replace the key rustic_core made (scrypt N = 2^17: 128 MiB and ~0.3 s on every open)
    /// with one at restic's cost (N = 2^15) for the same master key and password.
    fn rekey_at_restics_cost(&self, password: &str) -> Result<()> {
        let mut salt = vec![0u8; 64];
        rand::fill(salt.as_mut_slice());
        let derived = crypto::derive(password, &salt, crypto::RESTIC_LOG_N);
        let master = serde_json::to_vec(&self.inner.key()).expect("a master key serializes");
        let file = rustic_core::repofile::KeyFile {
            hostname: Some(gethostname::gethostname().to_string_lossy().into_owned()),
            username: Some(lock::user_name()),
            created: Some(rustic_core::jiff::Zoned::now()),
            kdf: "scrypt".into(),
            n: 1 << crypto::RESTIC_LOG_N,
            r: 8,
            p: 1,
            data: crypto::encrypt(&derived, &master),
            salt,
        };
        let json = serde_json::to_vec(&file).expect("a key file serializes");
        let id = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&json));
        self.files.write(FileKind::Key, &id, vec![json.into()])?;
        if let Some(old) = self.inner.key_id() {
            // Keep the old key if the new one cannot be listed: never leave no key.
            if self.files.list(FileKind::Key)?.iter().any(|(listed, _)| *listed == id) {
                self.files.delete(FileKind::Key, old.to_hex().as_str())?;
            }
        }
        Ok(())
    }

    /// A progress report of `kind` (hidden when no bars were asked for).
    pub(crate) fn progress(&self, kind: rustic_core::ProgressType, what: &str) -> rustic_core::Progress {
        match &self.progress {
            Some(bars) => bars.progress(kind, what),
            None => rustic_core::Progress::hidden(),
        }
    }

    pub(crate) fn into_inner(self) -> OpenRepository {
        self.inner
    }
}

/// How the engine runs.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Where the engine caches snapshot and index files (they stay encrypted); `None`
    /// disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Where progress goes (bars on a terminal); `None` for none.
    pub progress: Option<std::sync::Arc<dyn rustic_core::ProgressBars>>,
}

fn repository(files: &Arc<dyn RepoFiles>, options: &EngineOptions) -> Result<Repository<()>> {
    let mut opts = RepositoryOptions::default();
    match &options.cache_dir {
        Some(dir) => opts.cache_dir = Some(dir.clone()),
        None => opts.no_cache = true,
    }
    let backends = RepositoryBackends::new(Arc::new(RusticBackend(files.clone())), None);
    let opened = match &options.progress {
        Some(bars) => Repository::new_with_progress(&opts, &backends, SharedBars(bars.clone())),
        None => Repository::new(&opts, &backends),
    };
    opened.map_err(|e| engine_error(&files.location(), "open", e))
}

/// A shared `ProgressBars` as the owned one rustic_core takes.
#[derive(Debug)]
struct SharedBars(std::sync::Arc<dyn rustic_core::ProgressBars>);

impl rustic_core::ProgressBars for SharedBars {
    fn progress(&self, kind: rustic_core::ProgressType, prefix: &str) -> rustic_core::Progress {
        self.0.progress(kind, prefix)
    }
}

/// The repository at `files` (not yet opened), and whether one exists there.
fn existing(files: &Arc<dyn RepoFiles>, options: &EngineOptions, op: &'static str) -> Result<(Repository<()>, bool)> {
    let repo = repository(files, options)?;
    let exists = repo.config_id().map_err(|e| engine_error(&files.location(), op, e))?.is_some();
    Ok((repo, exists))
}

/// Create a new repository protected by `password`.
pub fn init(files: &Arc<dyn RepoFiles>, password: &str, options: &EngineOptions) -> Result<Repo> {
    let (repo, exists) = existing(files, options, "init")?;
    let name = files.location();
    if exists {
        return Err(Error::Repository {
            repo: name,
            op: "init",
            class: ErrorClass::AlreadyExists,
            detail: "a repository already exists there; use it as it is, or pick another location".into(),
        });
    }
    let credentials = Credentials::password(password);
    let inner = repo
        .init(&credentials, &KeyOptions::default(), &ConfigOptions::default())
        .map_err(|e| engine_error(&name, "init", e))?;
    let repo = Repo { inner, files: files.clone(), progress: options.progress.clone() };
    repo.rekey_at_restics_cost(password)?;
    Ok(repo)
}

/// Open an existing repository with `password`.
pub fn open(files: &Arc<dyn RepoFiles>, password: &str, options: &EngineOptions) -> Result<Repo> {
    let (repo, exists) = existing(files, options, "open")?;
    let name = files.location();
    if !exists {
        return Err(Error::Repository {
            repo: name,
            op: "open",
            class: ErrorClass::NotFound,
            detail: "there is no repository there; create one with `warden init`".into(),
        });
    }
    let inner = repo.open(&Credentials::password(password)).map_err(|e| engine_error(&name, "open", e))?;
    Ok(Repo { inner, files: files.clone(), progress: options.progress.clone() })
}

/// Every snapshot, oldest first.
pub fn snapshots(repo: &Repo) -> Result<Vec<SnapshotFile>> {
    let mut all = repo.inner.get_all_snapshots().map_err(|e| engine_error(repo.name(), "snapshots", e))?;
    all.sort_by(|a, b| a.time.cmp(&b.time));
    Ok(all)
}

/// The node `SNAPSHOT[:PATH]` names, with errors that say which part was not found.
pub(crate) fn snapshot_node(
    repo: &Repository<rustic_core::IndexedFullStatus>,
    name: &str,
    op: &'static str,
    snap_path: &str,
) -> Result<rustic_core::repofile::Node> {
    repo.node_from_snapshot_path(snap_path, |_| true).map_err(|e| {
        let text = e.display_log();
        let (snapshot, path) = snap_path.split_once(':').unwrap_or((snap_path, ""));
        let detail = if text.contains("No suitable id found") || text.contains("no snapshots") {
            format!(
                "no snapshot matches `{snapshot}`; name one by id, a unique prefix of one, or `latest` (`warden snapshots` lists them)"
            )
        } else if text.contains("not found in tree") {
            format!("snapshot `{snapshot}` holds no `{path}`; `warden ls {snapshot}` lists what it holds")
        } else {
            return engine_error(name, op, e);
        };
        Error::Repository { repo: name.to_string(), op, class: ErrorClass::NotFound, detail }
    })
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
pub fn list_files(repo: Repo, snap_path: &str) -> Result<Vec<FileEntry>> {
    let name = repo.name().to_string();
    let repo = repo.into_inner().to_indexed().map_err(|e| engine_error(&name, "ls", e))?;
    let (_, inner) = snap_path.split_once(':').unwrap_or((snap_path, ""));
    let base = PathBuf::from(if inner.is_empty() { "/" } else { inner });
    let node = snapshot_node(&repo, &name, "ls", snap_path)?;
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
pub fn check(repo: Repo, read_data: bool) -> Result<CheckReport> {
    let name = repo.name().to_string();
    let _lock = repo.lock(false)?;
    let mut opts = rustic_core::CheckOptions::default();
    opts.read_data = read_data;
    let results = repo.inner.check(opts).map_err(|e| engine_error(&name, "check", e))?;
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

/// Which snapshots `forget` keeps, by restic's rules: per group of snapshots of the same host
/// and paths, the last N, and the last of each of the latest N hours, days, ...
#[derive(Debug, Clone, Default)]
pub struct KeepPolicy {
    /// The last N snapshots.
    pub last: Option<u32>,
    /// The last snapshot of each of the latest N hours.
    pub hourly: Option<u32>,
    /// ... days.
    pub daily: Option<u32>,
    /// ... weeks.
    pub weekly: Option<u32>,
    /// ... months.
    pub monthly: Option<u32>,
    /// ... years.
    pub yearly: Option<u32>,
    /// Every snapshot with one of these tags.
    pub tags: Vec<String>,
}

impl KeepPolicy {
    /// Whether the policy keeps anything at all (an empty policy would forget everything).
    pub fn is_empty(&self) -> bool {
        [self.last, self.hourly, self.daily, self.weekly, self.monthly, self.yearly].iter().all(Option::is_none)
            && self.tags.is_empty()
    }
}

/// One snapshot's fate in `forget`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ForgetDecision {
    /// The snapshot's id (hex).
    pub id: String,
    /// When it was taken.
    pub time: String,
    /// Whether it is kept.
    pub keep: bool,
    /// Why (which rules matched).
    pub reasons: Vec<String>,
}

/// Decide which snapshots the policy keeps and, unless `dry_run`, remove the others. Takes an
/// exclusive lock. Their data stays until `prune`.
pub fn forget(repo: &Repo, policy: &KeepPolicy, dry_run: bool) -> Result<Vec<ForgetDecision>> {
    use rustic_core::{ForgetGroups, Grouped, KeepOptions, SnapshotGroupCriterion, StringList};
    let name = repo.name().to_string();
    let _lock = repo.lock(true)?;
    let to_i32 = |n: Option<u32>| n.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
    let mut keep = KeepOptions::default();
    keep.keep_last = to_i32(policy.last);
    keep.keep_hourly = to_i32(policy.hourly);
    keep.keep_daily = to_i32(policy.daily);
    keep.keep_weekly = to_i32(policy.weekly);
    keep.keep_monthly = to_i32(policy.monthly);
    keep.keep_yearly = to_i32(policy.yearly);
    for tag in &policy.tags {
        let list = tag.parse::<StringList>().map_err(|e| Error::Repository {
            repo: name.clone(),
            op: "forget",
            class: ErrorClass::InvalidInput,
            detail: format!("--keep-tag {tag:?}: {e}"),
        })?;
        keep.keep_tags.push(list);
    }
    let snapshots = repo.inner.get_all_snapshots().map_err(|e| engine_error(&name, "forget", e))?;
    let grouped = Grouped::from_items(snapshots, SnapshotGroupCriterion::default());
    let groups = ForgetGroups::from_grouped_snapshots_with_retention(grouped, &keep, &rustic_core::jiff::Zoned::now())
        .map_err(|e| engine_error(&name, "forget", e))?;
    let mut decisions = Vec::new();
    let mut remove = Vec::new();
    for group in groups.0 {
        for item in group.items {
            if !item.keep {
                remove.push(item.snapshot.id);
            }
            decisions.push(ForgetDecision {
                id: item.snapshot.id.to_hex().to_string(),
                time: item.snapshot.time.to_string(),
                keep: item.keep,
                reasons: item.reasons,
            });
        }
    }
    if !dry_run && !remove.is_empty() {
        repo.inner.delete_snapshots(&remove).map_err(|e| engine_error(&name, "forget", e))?;
    }
    Ok(decisions)
}

/// How long a temp file must sit untouched before `prune` removes it.
const LEFTOVER_IDLE_SECONDS: u64 = 600;

/// What `prune` removed (or would remove).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PruneReport {
    /// Pack files removed whole.
    pub packs_removed: u64,
    /// Pack files rewritten to drop unused parts.
    pub packs_repacked: u64,
    /// Bytes of unused data removed.
    pub bytes_removed: u64,
    /// Leftovers of interrupted writes removed (temp files of killed backups).
    pub leftovers_removed: u64,
}

/// Remove data no snapshot uses. Takes an exclusive lock.
pub fn prune(repo: &Repo, dry_run: bool) -> Result<PruneReport> {
    let name = repo.name().to_string();
    let _lock = repo.lock(true)?;
    // Delete at once, as restic does: the exclusive lock keeps every other process out (the
    // default marks packs and deletes them a day later, for lock-less repositories).
    let mut opts = rustic_core::PruneOptions::default();
    opts.instant_delete = true;
    let plan = repo.inner.prune_plan(&opts).map_err(|e| engine_error(&name, "prune", e))?;
    let stats = &plan.stats;
    let mut report = PruneReport {
        packs_removed: stats.packs.unused,
        packs_repacked: stats.packs.repack,
        bytes_removed: stats.size.iter().map(|(_, s)| s.remove + s.repackrm).sum(),
        leftovers_removed: 0,
    };
    if !dry_run {
        repo.inner.prune(&opts, plan).map_err(|e| engine_error(&name, "prune", e))?;
        // The exclusive lock keeps Warden's writers out; ten idle minutes keep a write to
        // the same location by something else (`warden target put`) safe too.
        report.leftovers_removed = repo.files.gc(LEFTOVER_IDLE_SECONDS)?;
    }
    Ok(report)
}
