//! The `Store` trait (backup repositories in a backend's own layout) and its glue.

use wasip2::io::streams::InputStream;

use crate::bindings::exports::warden::plugin::store as wit_store;
use crate::bindings::warden::plugin::types as wit;
use crate::config::Config;
use crate::io::Body;
use crate::types::{ByteRange, Result};

/// The kinds of files a repository holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// The one `config` file (id `""`).
    Config,
    /// Keys.
    Key,
    /// Snapshots.
    Snapshot,
    /// Indexes.
    Index,
    /// Packs of data.
    Pack,
    /// Locks.
    Lock,
}

impl FileKind {
    /// The directory restic's layout keeps this kind in (`config` is a file at the root).
    pub fn restic_dir(self) -> &'static str {
        match self {
            FileKind::Config => "",
            FileKind::Key => "keys",
            FileKind::Snapshot => "snapshots",
            FileKind::Index => "index",
            FileKind::Pack => "data",
            FileKind::Lock => "locks",
        }
    }

    /// The file's path in restic's layout: `config`, `keys/<id>`, `data/<id[..2]>/<id>`, ...
    pub fn restic_path(self, id: &str) -> String {
        match self {
            FileKind::Config => "config".into(),
            FileKind::Pack => format!("data/{}/{id}", id.get(..2).unwrap_or("00")),
            other => format!("{}/{id}", other.restic_dir()),
        }
    }
}

/// A repository's file, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Its id (64 hex digits; `""` for config).
    pub id: String,
    /// Its size.
    pub size: u64,
}

/// Backup repositories in a backend's own layout. The host hands over files already encrypted
/// (restic's format); a store only keeps them. Export it with
/// [`export_plugin!`](crate::export_plugin).
pub trait Store: Sized + 'static {
    /// Open the location with the operator's settings.
    fn open(config: Config) -> Result<Self>;
    /// A line naming the location, for the operator.
    fn location(&self) -> String;
    /// Make what a new repository needs; what exists is fine.
    fn create(&self) -> Result<()>;
    /// Every file of `kind`.
    fn list(&self, kind: FileKind) -> Result<Vec<FileInfo>>;
    /// Store a file of exactly `size` bytes, atomically (replace one that exists).
    fn put(&self, kind: FileKind, id: &str, body: Body<'_>, size: u64) -> Result<()>;
    /// Read a file or a range of it: the exact length that follows, and the stream.
    fn get(&self, kind: FileKind, id: &str, range: Option<ByteRange>) -> Result<(u64, InputStream)>;
    /// Remove a file; a missing file is not an error.
    fn delete(&self, kind: FileKind, id: &str) -> Result<()>;
    /// Remove what interrupted puts left behind, untouched for `idle_seconds`; return how
    /// many were removed. The default has nothing to collect.
    fn gc(&self, idle_seconds: u64) -> Result<u64> {
        let _ = idle_seconds;
        Ok(0)
    }
}

fn kind(k: wit_store::FileKind) -> FileKind {
    match k {
        wit_store::FileKind::Config => FileKind::Config,
        wit_store::FileKind::Key => FileKind::Key,
        wit_store::FileKind::Snapshot => FileKind::Snapshot,
        wit_store::FileKind::Index => FileKind::Index,
        wit_store::FileKind::Pack => FileKind::Pack,
        wit_store::FileKind::Lock => FileKind::Lock,
    }
}

/// Glue: a [`Store`] as the generated `repository` resource.
#[doc(hidden)]
pub struct RepositoryAdapter<T: Store>(T);

impl<T: Store> wit_store::GuestRepository for RepositoryAdapter<T> {
    fn open(config: Vec<(String, String)>) -> Result<wit_store::Repository, wit::Error> {
        Ok(wit_store::Repository::new(RepositoryAdapter(T::open(Config::from_pairs(config))?)))
    }

    fn location(&self) -> String {
        self.0.location()
    }

    fn create(&self) -> Result<(), wit::Error> {
        Ok(self.0.create()?)
    }

    fn list(&self, k: wit_store::FileKind) -> Result<Vec<wit_store::FileInfo>, wit::Error> {
        let files = self.0.list(kind(k))?;
        Ok(files.into_iter().map(|f| wit_store::FileInfo { id: f.id, size: f.size }).collect())
    }

    fn put(&self, k: wit_store::FileKind, id: String, body: &InputStream, size: u64) -> Result<(), wit::Error> {
        Ok(self.0.put(kind(k), &id, Body::new(body), size)?)
    }

    fn get(
        &self,
        k: wit_store::FileKind,
        id: String,
        range: Option<wit::ByteRange>,
    ) -> Result<wit_store::FileBody, wit::Error> {
        let range = range.map(|r| ByteRange { offset: r.offset, length: r.length });
        let (length, body) = self.0.get(kind(k), &id, range)?;
        Ok(wit_store::FileBody { length, body })
    }

    fn delete(&self, k: wit_store::FileKind, id: String) -> Result<(), wit::Error> {
        Ok(self.0.delete(kind(k), &id)?)
    }

    fn gc(&self, idle_seconds: u64) -> Result<u64, wit::Error> {
        Ok(self.0.gc(idle_seconds)?)
    }
}
