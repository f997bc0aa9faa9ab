//! Restore: walk a snapshot's tree and stream each file into an exporter plugin, several
//! files at a time. The content is decrypted and checked by rustic_core as it is read, and
//! each file's length is checked against the snapshot.

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rustic_core::repofile::{Node, NodeType};
use rustic_core::{IndexedFullStatus, LsOptions, Repository};
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use super::{Repo, engine_error};
use crate::error::{Error, Result};
use crate::exporter::{Exporter, Metadata};

/// Files written side by side.
const PARALLEL_FILES: usize = 4;
/// Files up to this size are read whole before they are handed to the plugin; larger ones
/// are streamed through a small channel.
const WHOLE_FILE: u64 = 1 << 20;
/// Bytes per read of a large file's content.
const READ_PIECE: usize = 1 << 20;

type Indexed = Repository<IndexedFullStatus>;

/// What a restore did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RestoreReport {
    /// Files written.
    pub files: u64,
    /// Directories created.
    pub directories: u64,
    /// Symbolic links created.
    pub symlinks: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Entries that could not be restored, and why.
    pub failures: Vec<(PathBuf, String)>,
}

/// How to restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Read every file back from this local directory (where the exporter writes) after it
    /// is written, and compare it with what was sent (SHA-256): `restore --verify`.
    pub verify_in: Option<PathBuf>,
}

/// Restore `snap_path` (`ID[:PATH]`, `latest[:PATH]`, a unique id prefix) from `repo` into
/// `exporter`. Failures of single entries are collected in the report; the restore goes on.
pub fn restore(
    repo: Repo,
    snap_path: &str,
    exporter: &Exporter,
    runtime: &Handle,
    options: &RestoreOptions,
) -> Result<RestoreReport> {
    let name = repo.name().to_string();
    let _lock = repo.lock(false)?;
    let progress = repo.progress(rustic_core::ProgressType::Bytes, "restoring");
    let repo = Arc::new(repo.into_inner().to_indexed().map_err(|e| engine_error(&name, "restore", e))?);
    let node = super::snapshot_node(&repo, &name, "restore", snap_path)?;
    let mut report = RestoreReport::default();
    let mut in_flight: VecDeque<(PathBuf, u64, JoinHandle<Result<()>>)> = VecDeque::new();
    let mut directories: Vec<(String, Metadata)> = Vec::new();
    let entries: Box<dyn Iterator<Item = rustic_core::RusticResult<(PathBuf, Node)>>> = if node.is_dir() {
        Box::new(repo.ls(&node, &LsOptions::default()).map_err(|e| engine_error(&name, "restore", e))?)
    } else {
        let file_name = PathBuf::from(node.name().into_owned());
        Box::new(std::iter::once(Ok((file_name, node.clone()))))
    };
    if node.is_dir() {
        directories.push((String::new(), metadata(&node)));
        if !progress.is_hidden() {
            // A first walk for the total (trees are in memory by now: cheap next to the data).
            let listed = repo.ls(&node, &LsOptions::default()).map_err(|e| engine_error(&name, "restore", e))?;
            progress.set_length(
                listed.filter_map(|e| e.ok()).map(|(_, n)| if n.is_file() { n.meta.size } else { 0 }).sum(),
            );
        }
    } else {
        progress.set_length(node.meta.size);
    }
    for entry in entries {
        let (path, node) = entry.map_err(|e| engine_error(&name, "restore", e))?;
        let Some(relative) = relative(&path) else {
            report.failures.push((path, "the path cannot be written (not valid UTF-8 names)".into()));
            continue;
        };
        match &node.node_type {
            NodeType::Dir => match runtime.block_on(exporter.create_directory(&relative)) {
                Ok(()) => {
                    report.directories += 1;
                    directories.push((relative, metadata(&node)));
                }
                Err(e) => report.failures.push((path, e.to_string())),
            },
            NodeType::File => {
                if in_flight.len() >= PARALLEL_FILES
                    && let Some((p, size, task)) = in_flight.pop_front()
                {
                    settle(runtime, &mut report, p, size, task, &progress);
                }
                let size = node.meta.size;
                let body = match content(&repo, &node) {
                    Ok(body) => body,
                    Err(e) => {
                        report.failures.push((path, e.to_string()));
                        continue;
                    }
                };
                let exporter = exporter.clone();
                let meta = metadata(&node);
                let sent = Arc::new(Mutex::new(Sha256::new()));
                let verify = options.verify_in.as_ref().map(|dir| (dir.join(&relative), sent.clone()));
                let body: Box<dyn Read + Send> =
                    if verify.is_some() { Box::new(Hashing { inner: body, hash: sent }) } else { body };
                let task = runtime.spawn(async move {
                    exporter.store_file(&relative, body, size).await?;
                    exporter.set_metadata(&relative, meta).await?;
                    match verify {
                        Some((written, sent)) => tokio::task::spawn_blocking(move || read_back(&written, &sent))
                            .await
                            .map_err(|e| Error::io("verifying a restored file", "-", std::io::Error::other(e)))?,
                        None => Ok(()),
                    }
                });
                in_flight.push_back((path, size, task));
            }
            NodeType::Symlink { .. } => {
                let target = node.node_type.to_link().to_string_lossy().into_owned();
                match runtime.block_on(exporter.create_symlink(&relative, &target)) {
                    Ok(()) => {
                        report.symlinks += 1;
                        let _ = runtime.block_on(exporter.set_metadata(&relative, metadata(&node)));
                    }
                    Err(e) => report.failures.push((path, e.to_string())),
                }
            }
            other => report.failures.push((path, format!("a {other} cannot be restored through a plugin; skipped"))),
        }
    }
    while let Some((p, size, task)) = in_flight.pop_front() {
        settle(runtime, &mut report, p, size, task, &progress);
    }
    progress.finish();
    // Directory times last, innermost first: writing into a directory changes its mtime.
    for (relative, meta) in directories.into_iter().rev() {
        if let Err(e) = runtime.block_on(exporter.set_metadata(&relative, meta)) {
            report.failures.push((PathBuf::from(&relative), e.to_string()));
        }
    }
    runtime.block_on(exporter.finish())?;
    Ok(report)
}

fn settle(
    runtime: &Handle,
    report: &mut RestoreReport,
    path: PathBuf,
    size: u64,
    task: JoinHandle<Result<()>>,
    progress: &rustic_core::Progress,
) {
    match runtime.block_on(task) {
        Ok(Ok(())) => {
            report.files += 1;
            report.bytes += size;
            progress.inc(size);
        }
        Ok(Err(e)) => report.failures.push((path, e.to_string())),
        Err(e) => report.failures.push((path, format!("the restore task failed: {e}"))),
    }
}

/// A snapshot path as the exporter's relative path.
fn relative(path: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = path.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

fn metadata(node: &Node) -> Metadata {
    let ns = |t: Option<rustic_core::jiff::Timestamp>| t.and_then(|t| u64::try_from(t.as_nanosecond()).ok());
    Metadata { mode: node.meta.mode.map(|m| m & 0o7777), mtime_ns: ns(node.meta.mtime), atime_ns: ns(node.meta.atime) }
}

/// The file's content as a reader: read whole when small, else produced on a thread of its
/// own (rustic_core's reads block) into a channel of a few pieces.
fn content(repo: &Arc<Indexed>, node: &Node) -> Result<Box<dyn Read + Send>> {
    let name = repo.name.clone();
    let open = repo.open_file(node).map_err(|e| engine_error(&name, "restore", e))?;
    let size = node.meta.size;
    if size <= WHOLE_FILE {
        let bytes = repo.read_file_at(&open, 0, size as usize).map_err(|e| engine_error(&name, "restore", e))?;
        return Ok(Box::new(checked(std::io::Cursor::new(bytes), size)));
    }
    let (tx, rx): (SyncSender<std::io::Result<Bytes>>, Receiver<_>) = sync_channel(2);
    let repo = repo.clone();
    std::thread::spawn(move || {
        let mut offset = 0u64;
        while offset < size {
            let len = (size - offset).min(READ_PIECE as u64) as usize;
            let piece = repo
                .read_file_at(&open, offset as usize, len)
                .map_err(|e| std::io::Error::other(engine_error(&name, "restore", e)));
            let failed = piece.is_err();
            let got = piece.as_ref().map_or(0, |b| b.len());
            if tx.send(piece).is_err() || failed || got == 0 {
                return;
            }
            offset += got as u64;
        }
    });
    Ok(Box::new(checked(ChannelReader { rx, current: Bytes::new() }, size)))
}

/// Feeds what passes into a hash, to compare with what was written.
struct Hashing {
    inner: Box<dyn Read + Send>,
    hash: Arc<Mutex<Sha256>>,
}

impl Read for Hashing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.lock().unwrap_or_else(|p| p.into_inner()).update(&buf[..n]);
        Ok(n)
    }
}

/// Read a restored file back and compare it with what was sent.
fn read_back(written: &Path, sent: &Mutex<Sha256>) -> Result<()> {
    let expected = sent.lock().unwrap_or_else(|p| p.into_inner()).clone().finalize();
    let mut file = std::fs::File::open(written).map_err(|e| Error::io("reading a restored file back", written, e))?;
    let mut hash = Sha256::new();
    std::io::copy(&mut file, &mut HashWriter(&mut hash))
        .map_err(|e| Error::io("reading a restored file back", written, e))?;
    if hash.finalize() != expected {
        return Err(Error::Repository {
            repo: String::new(),
            op: "restore --verify",
            class: crate::error::ErrorClass::Corrupt,
            detail: format!(
                "{} differs from what was restored into it: the destination did not keep it as written",
                written.display()
            ),
        });
    }
    Ok(())
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Fails the read if the content is not exactly `size` bytes: a short file is never reported
/// as restored.
fn checked(inner: impl Read + Send + 'static, size: u64) -> impl Read + Send + 'static {
    SizeChecked { inner, size, seen: 0 }
}

struct SizeChecked<R> {
    inner: R,
    size: u64,
    seen: u64,
}

impl<R: Read> Read for SizeChecked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen += n as u64;
        if (n == 0 && self.seen != self.size) || self.seen > self.size {
            return Err(std::io::Error::other(Error::Contract {
                plugin: "restore".into(),
                op: "read",
                detail: format!("the snapshot says {} bytes, the content has {}", self.size, self.seen),
            }));
        }
        Ok(n)
    }
}

struct ChannelReader {
    rx: Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.recv() {
                Ok(piece) => self.current = piece?,
                Err(_) => return Ok(0),
            }
        }
        let n = self.current.len().min(buf.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        bytes::Buf::advance(&mut self.current, n);
        Ok(n)
    }
}
