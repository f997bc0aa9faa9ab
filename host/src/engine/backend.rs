//! A repository's files, wherever they live, and rustic_core's backend over them.
//!
//! Two homes: any target plugin, through the restic layout adapter ([`TargetBackend`]: keys
//! `config`, `keys/<id>`, `snapshots/<id>`, `index/<id>`, `data/<id[..2]>/<id>`, `locks/<id>`
//! under an optional prefix), or a store plugin that lays the files out itself
//! ([`StoreBackend`]). rustic_core calls its backend synchronously from many threads at once;
//! each call blocks its (rustic) thread on the host's tokio runtime, and the plugin's instance
//! pool serves the calls side by side.

use std::sync::Arc;

use bytes::Bytes;
use rustic_core::{BytesList, ErrorKind, FileType, Id, ReadBackend, RusticError, RusticResult, WriteBackend};
use tokio::runtime::Handle;

use crate::error::{Error, ErrorClass, Result};
pub use crate::store::FileKind;
use crate::store::Store;
use crate::target::{Body, ByteRange, PutOptions, Target};

/// The files of one repository: what the engine needs from wherever they live. Ids are 64
/// lower-case hex digits (`""` for the config). Calls block: make them from threads that may.
pub trait RepoFiles: Send + Sync + 'static {
    /// How the operator names the location.
    fn location(&self) -> String;
    /// Make what a new repository needs.
    fn create(&self) -> Result<()>;
    /// Every file of `kind`: (id, size).
    fn list(&self, kind: FileKind) -> Result<Vec<(String, u64)>>;
    /// A file, or a range of it.
    fn read(&self, kind: FileKind, id: &str, range: Option<ByteRange>) -> Result<Vec<u8>>;
    /// Store a file from its pieces, atomically.
    fn write(&self, kind: FileKind, id: &str, pieces: Vec<Bytes>) -> Result<()>;
    /// Remove a file; a missing one is fine.
    fn delete(&self, kind: FileKind, id: &str) -> Result<()>;
    /// Remove what interrupted writes left behind, untouched for `idle_seconds`; how many.
    fn gc(&self, idle_seconds: u64) -> Result<u64>;
}

/// Run a plugin call from an engine thread.
fn block_on<T: Send>(runtime: &Handle, fut: impl std::future::Future<Output = T> + Send) -> T {
    match Handle::try_current() {
        // Inside the runtime's context blocking on it is not allowed: wait on a thread of
        // its own.
        Ok(_) => std::thread::scope(|s| {
            s.spawn(|| runtime.block_on(fut)).join().unwrap_or_else(|p| std::panic::resume_unwind(p))
        }),
        Err(_) => runtime.block_on(fut),
    }
}

/// A restic repository under `prefix` on a target.
#[derive(Clone)]
pub struct TargetBackend {
    target: Target,
    prefix: String,
    runtime: Handle,
}

impl TargetBackend {
    /// A repository under `prefix` (empty, or a key prefix) on `target`; calls run on `runtime`.
    pub fn new(target: Target, prefix: &str, runtime: Handle) -> TargetBackend {
        let mut prefix = prefix.trim_matches('/').to_string();
        if !prefix.is_empty() {
            prefix.push('/');
        }
        TargetBackend { target, prefix, runtime }
    }

    /// The key of a repository file.
    pub fn key(&self, kind: FileKind, id: &str) -> String {
        match kind {
            FileKind::Config => format!("{}config", self.prefix),
            FileKind::Pack => format!("{}data/{}/{id}", self.prefix, id.get(..2).unwrap_or("00")),
            other => format!("{}{}/{id}", self.prefix, dirname(other)),
        }
    }
}

fn dirname(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Config => "",
        FileKind::Key => "keys",
        FileKind::Snapshot => "snapshots",
        FileKind::Index => "index",
        FileKind::Pack => "data",
        FileKind::Lock => "locks",
    }
}

/// The largest file of a kind the engine reads whole: a plugin that claims a bigger one (and
/// would stream zeros until the host runs out of memory) is refused before it is read.
/// Metadata files are small; packs are at most rustic_core's largest pack size.
pub(crate) fn max_size(kind: FileKind) -> u64 {
    match kind {
        FileKind::Pack => 8 << 30,
        _ => 1 << 30,
    }
}

fn is_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl RepoFiles for TargetBackend {
    fn location(&self) -> String {
        if self.prefix.is_empty() {
            self.target.name().to_string()
        } else {
            format!("{}:{}", self.target.name(), self.prefix.trim_end_matches('/'))
        }
    }

    fn create(&self) -> Result<()> {
        Ok(())
    }

    fn list(&self, kind: FileKind) -> Result<Vec<(String, u64)>> {
        if kind == FileKind::Config {
            return match block_on(&self.runtime, self.target.head(&self.key(kind, ""))) {
                Ok(meta) => Ok(vec![(String::new(), meta.size)]),
                Err(e) if e.class() == ErrorClass::NotFound => Ok(Vec::new()),
                Err(e) => Err(e),
            };
        }
        let prefix = format!("{}{}/", self.prefix, dirname(kind));
        let objects = block_on(&self.runtime, self.target.list_all(&prefix))?;
        Ok(objects
            .into_iter()
            .filter_map(|o| {
                let name = o.key.rsplit('/').next()?;
                is_id(name).then(|| (name.to_string(), o.size))
            })
            .collect())
    }

    fn read(&self, kind: FileKind, id: &str, range: Option<ByteRange>) -> Result<Vec<u8>> {
        let key = self.key(kind, id);
        let limit = Some(max_size(kind));
        let (_, bytes) = block_on(&self.runtime, self.target.get_at_most(&key, range, limit, Vec::new()))?;
        Ok(bytes)
    }

    fn write(&self, kind: FileKind, id: &str, pieces: Vec<Bytes>) -> Result<()> {
        let key = self.key(kind, id);
        block_on(&self.runtime, self.target.put(&key, Body::Chunks(pieces), PutOptions::default())).map(|_| ())
    }

    fn delete(&self, kind: FileKind, id: &str) -> Result<()> {
        block_on(&self.runtime, self.target.delete(&self.key(kind, id)))
    }

    fn gc(&self, idle_seconds: u64) -> Result<u64> {
        block_on(&self.runtime, self.target.gc(std::time::Duration::from_secs(idle_seconds)))
    }
}

/// A repository a store plugin lays out itself.
#[derive(Clone)]
pub struct StoreBackend {
    store: Store,
    runtime: Handle,
}

impl StoreBackend {
    /// The repository of `store`; calls run on `runtime`.
    pub fn new(store: Store, runtime: Handle) -> StoreBackend {
        StoreBackend { store, runtime }
    }
}

impl RepoFiles for StoreBackend {
    fn location(&self) -> String {
        self.store.name().to_string()
    }

    fn create(&self) -> Result<()> {
        block_on(&self.runtime, self.store.create())
    }

    fn list(&self, kind: FileKind) -> Result<Vec<(String, u64)>> {
        block_on(&self.runtime, self.store.list(kind))
    }

    fn read(&self, kind: FileKind, id: &str, range: Option<ByteRange>) -> Result<Vec<u8>> {
        block_on(&self.runtime, self.store.get(kind, id, range, max_size(kind)))
    }

    fn write(&self, kind: FileKind, id: &str, pieces: Vec<Bytes>) -> Result<()> {
        block_on(&self.runtime, self.store.put(kind, id, pieces))
    }

    fn delete(&self, kind: FileKind, id: &str) -> Result<()> {
        block_on(&self.runtime, self.store.delete(kind, id))
    }

    fn gc(&self, idle_seconds: u64) -> Result<u64> {
        block_on(&self.runtime, self.store.gc(idle_seconds))
    }
}

/// rustic_core's backend over a repository's files.
pub(crate) struct RusticBackend(pub(crate) Arc<dyn RepoFiles>);

impl std::fmt::Debug for RusticBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RusticBackend({})", self.0.location())
    }
}

fn kind_of(tpe: FileType) -> FileKind {
    match tpe {
        FileType::Config => FileKind::Config,
        FileType::Key => FileKind::Key,
        FileType::Snapshot => FileKind::Snapshot,
        FileType::Index => FileKind::Index,
        FileType::Pack => FileKind::Pack,
    }
}

fn hex(tpe: FileType, id: &Id) -> String {
    if tpe == FileType::Config { String::new() } else { id.to_hex().to_string() }
}

/// rustic_core's error for a failed call, keeping ours as the source so the CLI can recover
/// its class and message.
fn to_rustic(op: &str, tpe: FileType, id: &Id, e: Error) -> Box<RusticError> {
    RusticError::with_source(ErrorKind::Backend, format!("{op} of {tpe} {} failed", hex(tpe, id)), e)
}

impl ReadBackend for RusticBackend {
    fn location(&self) -> String {
        self.0.location()
    }

    fn list_with_size(&self, tpe: FileType) -> RusticResult<Vec<(Id, u32)>> {
        let files = self.0.list(kind_of(tpe)).map_err(|e| to_rustic("list", tpe, &Id::default(), e))?;
        files
            .into_iter()
            .map(|(id, size)| {
                let id = if tpe == FileType::Config { Id::default() } else { id.parse::<Id>()? };
                let size = u32::try_from(size).map_err(|_| {
                    RusticError::new(
                        ErrorKind::Backend,
                        format!("{tpe} {id} is {size} bytes, more than a repository file can be"),
                    )
                })?;
                Ok((id, size))
            })
            .collect()
    }

    fn read_full(&self, tpe: FileType, id: &Id) -> RusticResult<Bytes> {
        Ok(self.0.read(kind_of(tpe), &hex(tpe, id), None).map_err(|e| to_rustic("read", tpe, id, e))?.into())
    }

    fn read_partial(&self, tpe: FileType, id: &Id, _cacheable: bool, offset: u32, length: u32) -> RusticResult<Bytes> {
        let range = ByteRange { offset: offset.into(), length: Some(length.into()) };
        let bytes = self.0.read(kind_of(tpe), &hex(tpe, id), Some(range)).map_err(|e| to_rustic("read", tpe, id, e))?;
        if bytes.len() != length as usize {
            return Err(RusticError::new(
                ErrorKind::Backend,
                format!(
                    "{tpe} {id} is shorter than the index says ({} of {length} bytes at offset {offset}); the repository may be damaged: run `warden check`",
                    bytes.len()
                ),
            ));
        }
        Ok(bytes.into())
    }

    fn warmup_path(&self, tpe: FileType, id: &Id) -> String {
        hex(tpe, id)
    }
}

impl WriteBackend for RusticBackend {
    fn create(&self) -> RusticResult<()> {
        self.0.create().map_err(|e| to_rustic("create", FileType::Config, &Id::default(), e))
    }

    fn write_bytes(&self, tpe: FileType, id: &Id, _cacheable: bool, content: BytesList) -> RusticResult<()> {
        self.0.write(kind_of(tpe), &hex(tpe, id), content.into_vec()).map_err(|e| to_rustic("write", tpe, id, e))
    }

    fn remove(&self, tpe: FileType, id: &Id, _cacheable: bool) -> RusticResult<()> {
        self.0.delete(kind_of(tpe), &hex(tpe, id)).map_err(|e| to_rustic("delete", tpe, id, e))
    }
}
