//! Backup: rustic_core's source over importer plugins, and the report of what could not be
//! read (rustic_core drops a file whose read fails with only a log line; we count it).

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustic_core::repofile::{Metadata, Node, NodeType, SnapshotFile};
use rustic_core::{ErrorKind, ReadSource, ReadSourceEntry, ReadSourceOpen, RusticError, RusticResult, SnapshotOptions};

use super::{Repo, engine_error};
use crate::error::{Error, Result};
use crate::importer::{Entry, EntryKind, FileReader, Importer, ScanCursor, ScanItem};

/// Go's file mode bits, as restic stores them.
const GO_MODE_DIR: u32 = 1 << 31;
const GO_MODE_SYMLINK: u32 = 1 << 27;

/// What to back up and record in the snapshot.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// Tags.
    pub tags: Vec<String>,
    /// The host name to record (default: this machine's).
    pub host: Option<String>,
    /// Glob patterns of entries to leave out, as restic takes them: a pattern with a `/`
    /// matches the whole absolute path, one without matches a name at any depth; a
    /// directory that matches is left out with everything in it.
    pub excludes: Vec<String>,
    /// Back up only the file of this name in the (one) source, and record it at this
    /// absolute path (`--stdin-filename`: the stream was spooled into that file).
    pub single_file: Option<(String, PathBuf)>,
}

/// The compiled exclude patterns.
struct Excludes {
    by_path: globset::GlobSet,
    by_name: globset::GlobSet,
}

impl Excludes {
    fn new(patterns: &[String]) -> Result<Excludes> {
        let (mut by_path, mut by_name) = (globset::GlobSetBuilder::new(), globset::GlobSetBuilder::new());
        for pattern in patterns {
            let glob = globset::GlobBuilder::new(pattern.trim_end_matches('/'))
                .literal_separator(true)
                .build()
                .map_err(|e| Error::Repository {
                    repo: String::new(),
                    op: "backup",
                    class: crate::error::ErrorClass::InvalidInput,
                    detail: format!("--exclude {pattern:?} is not a valid pattern: {e}"),
                })?;
            if pattern.trim_end_matches('/').contains('/') {
                by_path.add(glob)
            } else {
                by_name.add(glob)
            };
        }
        let build = |b: globset::GlobSetBuilder| b.build().unwrap_or_else(|_| globset::GlobSet::empty());
        Ok(Excludes { by_path: build(by_path), by_name: build(by_name) })
    }

    fn excludes(&self, path: &Path) -> bool {
        self.by_path.is_match(path) || path.file_name().is_some_and(|n| self.by_name.is_match(n))
    }
}

/// An entry that is not in the snapshot, or not whole, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceFailure {
    /// The path, as it would appear in the snapshot.
    pub path: PathBuf,
    /// What went wrong.
    pub reason: String,
}

/// What a backup did.
#[derive(Debug, Clone)]
pub struct BackupReport {
    /// The saved snapshot (with rustic_core's summary).
    pub snapshot: SnapshotFile,
    /// Entries that could not be read: they are missing from the snapshot.
    pub failures: Vec<SourceFailure>,
    /// Special files (devices, sockets, FIFOs) recorded without content.
    pub skipped: Vec<PathBuf>,
}

#[derive(Default)]
struct Shared {
    failures: Vec<SourceFailure>,
    skipped: Vec<PathBuf>,
    /// A failure that makes the snapshot worthless (the scan itself failed or broke the
    /// contract): the snapshot is removed and the backup fails.
    fatal: Option<Error>,
}

type SharedState = Arc<Mutex<Shared>>;

fn lock(s: &SharedState) -> std::sync::MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// Back up `sources` (absolute path as recorded in the snapshot, importer that reads it)
/// into `repo`. The paths must not overlap.
pub fn backup(repo: Repo, sources: Vec<(PathBuf, Importer)>, options: &BackupOptions) -> Result<BackupReport> {
    let name = repo.name().to_string();
    let _lock = repo.lock(false)?;
    let repo = repo.into_inner();
    let mut sources = sources;
    sources.sort_by(|a, b| a.0.cmp(&b.0));
    let mut paths: Vec<PathBuf> = sources.iter().map(|(p, _)| p.clone()).collect();
    let mut rustic_options = rustic_core::BackupOptions::default();
    if let Some((file, recorded_as)) = &options.single_file {
        // rustic_core strips the backed-up path from each entry's and puts `as_path` first.
        paths = paths.iter().map(|p| p.join(file)).collect();
        rustic_options.as_path = Some(recorded_as.clone());
    }
    let mut snap_opts = SnapshotOptions::default();
    snap_opts.host = options.host.clone();
    for tag in &options.tags {
        snap_opts = snap_opts.add_tags(tag).map_err(|e| engine_error(&name, "backup", e))?;
    }
    let snap = snap_opts.to_snapshot().map_err(|e| engine_error(&name, "backup", e))?;
    let shared = SharedState::default();
    let excludes = Arc::new(Excludes::new(&options.excludes).map_err(|e| match e {
        Error::Repository { op, class, detail, .. } => Error::Repository { repo: name.clone(), op, class, detail },
        other => other,
    })?);
    let only = options.single_file.as_ref().map(|(file, _)| file.clone());
    let source = PluginSource { sources, shared: shared.clone(), excludes, only };
    let repo = repo.to_indexed_ids().map_err(|e| engine_error(&name, "backup", e))?;
    let result = repo.archive(&rustic_options, &source, snap, &paths);
    let mut shared = std::mem::take(&mut *lock(&shared));
    if let Some(fatal) = shared.fatal.take() {
        // The tree is missing whatever the scan did not reach: do not leave a snapshot that
        // looks complete. (The scan's failure is the cause, whatever rustic_core made of it.)
        if let Ok(snapshot) = &result {
            let _ = repo.delete_snapshots(&[snapshot.id]);
        }
        return Err(Error::Repository {
            repo: name,
            op: "backup",
            class: fatal.class(),
            detail: format!("{fatal}; no snapshot was saved"),
        });
    }
    let snapshot = result.map_err(|e| engine_error(&name, "backup", e))?;
    Ok(BackupReport { snapshot, failures: shared.failures, skipped: shared.skipped })
}

/// rustic_core's view of the importers.
struct PluginSource {
    sources: Vec<(PathBuf, Importer)>,
    shared: SharedState,
    excludes: Arc<Excludes>,
    only: Option<String>,
}

impl ReadSource for PluginSource {
    type Open = FileOpener;
    type Iter = ScanIter;

    /// The bytes to read, for the progress bar's total and ETA: a second walk over each
    /// source (rustic_core asks only when a bar is shown, and runs it beside the backup).
    fn size(&self) -> RusticResult<Option<u64>> {
        let mut total = 0u64;
        for (_, importer) in &self.sources {
            let Ok(mut cursor) = importer.scan() else { return Ok(None) };
            loop {
                match cursor.next_batch() {
                    Ok(items) if items.is_empty() => break,
                    Ok(items) => {
                        total += items
                            .iter()
                            .map(|i| match i {
                                ScanItem::Entry(e) if e.kind == EntryKind::File => e.size,
                                _ => 0,
                            })
                            .sum::<u64>();
                    }
                    Err(_) => return Ok(None),
                }
            }
        }
        Ok(Some(total))
    }

    fn entries(&self) -> ScanIter {
        ScanIter {
            pending: self.sources.iter().cloned().collect(),
            current: None,
            batch: VecDeque::new(),
            order: OrderCheck::default(),
            shared: self.shared.clone(),
            excludes: self.excludes.clone(),
            skipping: None,
            only: self.only.clone(),
        }
    }
}

/// Opens a file through the importer when rustic_core decides to read it.
pub struct FileOpener {
    importer: Importer,
    relative: String,
    path: PathBuf,
    size: u64,
    shared: SharedState,
}

impl ReadSourceOpen for FileOpener {
    type Reader = RecordingReader;

    fn open(self) -> RusticResult<RecordingReader> {
        match self.importer.read(&self.relative) {
            Ok(inner) => {
                Ok(RecordingReader { inner, path: self.path, expected: self.size, seen: 0, shared: self.shared })
            }
            Err(e) => {
                lock(&self.shared).failures.push(SourceFailure { path: self.path.clone(), reason: e.to_string() });
                Err(RusticError::with_source(ErrorKind::InputOutput, "reading a source file failed", e))
            }
        }
    }
}

/// A file's content; a failure is recorded before rustic_core sees (and drops) it. A file
/// whose length differs from what the scan said (it changed while being read) fails too:
/// the snapshot's record of its size and its content must agree.
pub struct RecordingReader {
    inner: FileReader,
    path: PathBuf,
    expected: u64,
    seen: u64,
    shared: SharedState,
}

impl Read for RecordingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let result = self.inner.read(buf).and_then(|n| {
            self.seen += n as u64;
            let changed = (n == 0 && self.seen < self.expected) || self.seen > self.expected;
            if changed {
                return Err(std::io::Error::other(format!(
                    "it changed while being read (the scan said {} bytes, reading gave {}{}); back it up again",
                    self.expected,
                    self.seen,
                    if n == 0 { "" } else { " or more" }
                )));
            }
            Ok(n)
        });
        result.inspect_err(|e| {
            lock(&self.shared).failures.push(SourceFailure { path: self.path.clone(), reason: e.to_string() });
        })
    }
}

/// The entries of every source in turn, checked for the order rustic_core needs.
pub struct ScanIter {
    pending: VecDeque<(PathBuf, Importer)>,
    current: Option<(PathBuf, Importer, ScanCursor)>,
    batch: VecDeque<ScanItem>,
    order: OrderCheck,
    shared: SharedState,
    excludes: Arc<Excludes>,
    /// An excluded directory whose contents are being skipped (its relative path + `/`).
    skipping: Option<String>,
    /// Only this entry (relative path) goes into the snapshot.
    only: Option<String>,
}

impl ScanIter {
    fn fail(&mut self, e: Error) -> Option<RusticResult<ReadSourceEntry<FileOpener>>> {
        lock(&self.shared).fatal.get_or_insert(e);
        self.pending.clear();
        self.current = None;
        self.batch.clear();
        None
    }
}

impl Iterator for ScanIter {
    type Item = RusticResult<ReadSourceEntry<FileOpener>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.batch.pop_front() {
                let (root, importer, _) = self.current.as_ref()?;
                let (root, importer) = (root.clone(), importer.clone());
                match item {
                    ScanItem::Failed(failure) => {
                        let path = join(&root, &failure.path);
                        let reason = crate::pool::plugin_error(importer.plugin().name(), "scan", None, failure.error)
                            .to_string();
                        lock(&self.shared).failures.push(SourceFailure { path, reason });
                    }
                    ScanItem::Entry(entry) => {
                        if let Err(detail) = self.order.check(&root, &entry) {
                            let plugin = importer.plugin().name().to_string();
                            return self.fail(Error::Contract { plugin, op: "scan", detail });
                        }
                        if self.only.as_ref().is_some_and(|only| *only != entry.path) {
                            continue;
                        }
                        if self.skipping.as_deref().is_some_and(|dir| entry.path.starts_with(dir)) {
                            continue;
                        }
                        self.skipping = None;
                        if !entry.path.is_empty() && self.excludes.excludes(&join(&root, &entry.path)) {
                            if entry.kind == EntryKind::Directory {
                                self.skipping = Some(format!("{}/", entry.path));
                            }
                            continue;
                        }
                        match to_node(&root, &entry) {
                            Some((path, node)) => {
                                let open = (entry.kind == EntryKind::File).then(|| FileOpener {
                                    importer,
                                    relative: entry.path.clone(),
                                    path: path.clone(),
                                    size: entry.size,
                                    shared: self.shared.clone(),
                                });
                                return Some(Ok(ReadSourceEntry { path, node, open }));
                            }
                            None => lock(&self.shared).skipped.push(join(&root, &entry.path)),
                        }
                    }
                }
                continue;
            }
            if let Some((_, _, cursor)) = self.current.as_mut() {
                match cursor.next_batch() {
                    Ok(items) if items.is_empty() => self.current = None,
                    Ok(items) => self.batch = items.into(),
                    Err(e) => return self.fail(e),
                }
                continue;
            }
            let (root, importer) = self.pending.pop_front()?;
            match importer.scan() {
                Ok(cursor) => {
                    self.order = OrderCheck::default();
                    self.current = Some((root, importer, cursor));
                }
                Err(e) => return self.fail(e),
            }
        }
    }
}

fn join(root: &Path, relative: &str) -> PathBuf {
    if relative.is_empty() { root.to_path_buf() } else { root.join(relative) }
}

/// Checks that a scan comes depth first, a directory before its contents, names ascending
/// within a directory, every path well formed: rustic_core builds its trees from this order.
#[derive(Default)]
struct OrderCheck {
    /// The directories open along the current path (relative paths).
    dirs: Vec<String>,
    /// The last name seen in each open directory.
    last: Vec<Option<String>>,
    started: bool,
}

impl OrderCheck {
    fn check(&mut self, _root: &Path, entry: &Entry) -> std::result::Result<(), String> {
        let path = entry.path.as_str();
        if !self.started {
            if !path.is_empty() || entry.kind != EntryKind::Directory {
                return Err(format!("its scan began with {path:?}; it must begin with the root directory (\"\")"));
            }
            self.started = true;
            self.dirs.push(String::new());
            self.last.push(None);
            return Ok(());
        }
        if path.is_empty() || path.split('/').any(|s| s.is_empty() || s == "." || s == ".." || s.contains('\0')) {
            return Err(format!("its scan returned the path {path:?}, which is not `/`-separated names"));
        }
        let (parent, name) = match path.rfind('/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path),
        };
        // Close directories until the parent is the innermost open one.
        while self.dirs.last().is_some_and(|d| d != parent) {
            self.dirs.pop();
            self.last.pop();
        }
        let Some(last) = self.last.last_mut() else {
            return Err(format!("its scan returned {path:?} outside any directory it had listed (out of order)"));
        };
        if last.as_deref().is_some_and(|l| l.as_bytes() >= name.as_bytes()) {
            return Err(format!("its scan returned {path:?} after {:?} (names must ascend, depth first)", last));
        }
        *last = Some(name.to_string());
        if entry.kind == EntryKind::Directory {
            self.dirs.push(path.to_string());
            self.last.push(None);
        }
        Ok(())
    }
}

fn timestamp(ns: Option<u64>) -> Option<rustic_core::jiff::Timestamp> {
    ns.and_then(|ns| rustic_core::jiff::Timestamp::from_nanosecond(i128::from(ns)).ok())
}

/// The snapshot path and node of an entry; `None` for what a snapshot cannot hold as given.
fn to_node(root: &Path, entry: &Entry) -> Option<(PathBuf, Node)> {
    let path = join(root, &entry.path);
    let perm = entry.mode.map(|m| m & 0o7777);
    let (node_type, mode) = match entry.kind {
        EntryKind::File => (NodeType::File, perm.unwrap_or(0o644)),
        EntryKind::Directory => (NodeType::Dir, GO_MODE_DIR | perm.unwrap_or(0o755)),
        EntryKind::Symlink => {
            let target = entry.symlink_target.as_deref().unwrap_or_default();
            (NodeType::from_link(Path::new(target)), GO_MODE_SYMLINK | 0o777)
        }
        EntryKind::Other => return None,
    };
    let meta = Metadata {
        mode: Some(mode),
        mtime: timestamp(entry.mtime_ns),
        atime: timestamp(entry.atime_ns),
        ctime: timestamp(entry.ctime_ns),
        uid: entry.uid,
        gid: entry.gid,
        size: entry.size,
        ..Metadata::default()
    };
    let name = path.file_name().unwrap_or(OsStr::new("/")).to_owned();
    Some((path, Node::new_node(&name, node_type, meta)))
}
