//! The `Importer` trait (a backup source) and its glue to the generated bindings.

use std::cell::RefCell;

use wasip2::io::streams::InputStream;

use crate::bindings::exports::warden::plugin::importer as wit_importer;
use crate::bindings::warden::plugin::types as wit;
use crate::config::Config;
use crate::types::{Error, Result};

/// What an entry of a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file: the host reads it with [`Importer::read`].
    File,
    /// A directory.
    Directory,
    /// A symbolic link (its target in [`Entry::symlink_target`]).
    Symlink,
    /// A device, socket or FIFO: recorded, never read.
    Other,
}

/// One file, directory or link of a source. Leave out (`None`) what you cannot know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the source's root, `/`-separated; the root itself is `""`.
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Bytes [`Importer::read`] will yield, for a file; 0 otherwise.
    pub size: u64,
    /// Permission bits.
    pub mode: Option<u32>,
    /// Last modification, nanoseconds since the Unix epoch.
    pub mtime_ns: Option<u64>,
    /// Last access, nanoseconds since the Unix epoch.
    pub atime_ns: Option<u64>,
    /// Last metadata change, nanoseconds since the Unix epoch. Report it stably: with the
    /// size and mtime it decides whether the host reads the file again.
    pub ctime_ns: Option<u64>,
    /// Owner id.
    pub uid: Option<u32>,
    /// Group id.
    pub gid: Option<u32>,
    /// Where a symlink points, as written.
    pub symlink_target: Option<String>,
    /// Extended attributes.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl Entry {
    /// An entry with only a path, a kind and a size; fill in the rest as known.
    pub fn new(path: impl Into<String>, kind: EntryKind, size: u64) -> Self {
        Entry {
            path: path.into(),
            kind,
            size,
            mode: None,
            mtime_ns: None,
            atime_ns: None,
            ctime_ns: None,
            uid: None,
            gid: None,
            symlink_target: None,
            xattrs: Vec::new(),
        }
    }
}

/// One result of a scan: an entry, or a path that could not be read (the scan goes on; the
/// host reports it and marks the snapshot incomplete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanItem {
    /// An entry.
    Entry(Entry),
    /// A path that could not be read, and why.
    Failed {
        /// The path, as an entry's.
        path: String,
        /// What went wrong.
        error: Error,
    },
}

/// A walk over a source. Yield items depth first, a directory before its contents, the
/// entries of one directory in ascending byte order of their names; the host refuses a scan
/// out of order.
pub trait Scan: 'static {
    /// Up to `max` further items; an empty list ends the scan.
    fn next(&mut self, max: u32) -> Result<Vec<ScanItem>>;
}

/// A backup source: a directory, a database dump, a mailbox. Export it with
/// [`export_plugin!`](crate::export_plugin).
///
/// The host chunks, deduplicates and encrypts what you read; you never see the repository.
pub trait Importer: Sized + 'static {
    /// The walk [`Importer::scan`] returns.
    type Scan: Scan;

    /// Open the source with the operator's settings.
    fn open(config: Config) -> Result<Self>;

    /// A line naming what is read, for the operator ("directory /home/me").
    fn origin(&self) -> String;

    /// Start a walk over the whole source.
    fn scan(&self) -> Result<Self::Scan>;

    /// The content of the file at `path` (as the scan gave it). Return the file's own
    /// stream (`read-via-stream`) so the bytes never pass through your memory.
    fn read(&self, path: &str) -> Result<InputStream>;
}

impl From<Entry> for wit_importer::Entry {
    fn from(e: Entry) -> Self {
        wit_importer::Entry {
            path: e.path,
            kind: match e.kind {
                EntryKind::File => wit_importer::EntryKind::File,
                EntryKind::Directory => wit_importer::EntryKind::Directory,
                EntryKind::Symlink => wit_importer::EntryKind::Symlink,
                EntryKind::Other => wit_importer::EntryKind::Other,
            },
            size: e.size,
            mode: e.mode,
            mtime_ns: e.mtime_ns,
            atime_ns: e.atime_ns,
            ctime_ns: e.ctime_ns,
            uid: e.uid,
            gid: e.gid,
            symlink_target: e.symlink_target,
            xattrs: e.xattrs,
        }
    }
}

/// Glue: an [`Importer`] as the generated `source` resource.
#[doc(hidden)]
pub struct SourceAdapter<T: Importer>(T);

impl<T: Importer> wit_importer::GuestSource for SourceAdapter<T> {
    fn open(config: Vec<(String, String)>) -> Result<wit_importer::Source, wit::Error> {
        let source = T::open(Config::from_pairs(config))?;
        Ok(wit_importer::Source::new(SourceAdapter(source)))
    }

    fn origin(&self) -> String {
        self.0.origin()
    }

    fn scan(&self) -> Result<wit_importer::Scan, wit::Error> {
        Ok(wit_importer::Scan::new(ScanAdapter(RefCell::new(self.0.scan()?))))
    }

    fn read(&self, path: String) -> Result<InputStream, wit::Error> {
        Ok(self.0.read(&path)?)
    }
}

/// Glue: a [`Scan`] as the generated `scan` resource.
#[doc(hidden)]
pub struct ScanAdapter<S: Scan>(RefCell<S>);

impl<S: Scan> wit_importer::GuestScan for ScanAdapter<S> {
    fn next(&self, max: u32) -> Result<Vec<wit_importer::ScanItem>, wit::Error> {
        let items = self.0.borrow_mut().next(max)?;
        Ok(items
            .into_iter()
            .map(|item| match item {
                ScanItem::Entry(e) => wit_importer::ScanItem::Entry(e.into()),
                ScanItem::Failed { path, error } => {
                    wit_importer::ScanItem::Failed(wit_importer::EntryError { path, error: error.into() })
                }
            })
            .collect())
    }
}
