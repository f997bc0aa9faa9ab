//! The fs importer: walks the one directory the host preopens (read-only) and streams its
//! files. WASI 0.2 shows no owners or permission bits, so entries carry types, sizes and
//! times only.

use warden_sdk::wasip2::filesystem::types::{
    Datetime, Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, OpenFlags, PathFlags,
};
use warden_sdk::wasip2::io::streams::InputStream;
use warden_sdk::{Config, Entry, EntryKind, Importer, Result, Scan, ScanItem};

use crate::{DIR_KEY, fs_error, relative_path};

/// A source over the preopened directory.
pub struct FsSource {
    root: Descriptor,
    origin: String,
}

impl Importer for FsSource {
    type Scan = FsScan;

    fn open(config: Config) -> Result<Self> {
        let path = config.require(DIR_KEY)?.to_string();
        Ok(FsSource { root: warden_sdk::preopened_dir(DIR_KEY)?, origin: format!("directory {path}") })
    }

    fn origin(&self) -> String {
        self.origin.clone()
    }

    fn scan(&self) -> Result<FsScan> {
        let root = self
            .root
            .open_at(PathFlags::empty(), ".", OpenFlags::DIRECTORY, DescriptorFlags::READ)
            .map_err(|e| fs_error("scan", "", e))?;
        Ok(FsScan { root: Some(root), stack: Vec::new() })
    }

    fn read(&self, path: &str) -> Result<InputStream> {
        let path = relative_path(path)?;
        let file = self
            .root
            .open_at(PathFlags::empty(), path, OpenFlags::empty(), DescriptorFlags::READ)
            .map_err(|e| fs_error("read", path, e))?;
        // The file's own stream goes to the host untouched (it keeps its own handle).
        file.read_via_stream(0).map_err(|e| fs_error("read", path, e))
    }
}

/// A directory being walked: its handle, its path and the names not yet visited (sorted,
/// last first, so `pop` gives the next).
struct Frame {
    dir: Descriptor,
    path: String,
    names: Vec<String>,
}

/// A depth-first walk in the order the host needs.
pub struct FsScan {
    /// The root, until its own entry has been given.
    root: Option<Descriptor>,
    stack: Vec<Frame>,
}

impl Scan for FsScan {
    fn next(&mut self, max: u32) -> Result<Vec<ScanItem>> {
        let mut items = Vec::new();
        if let Some(root) = self.root.take() {
            let stat = root.stat().map_err(|e| fs_error("scan", "", e))?;
            items.push(ScanItem::Entry(entry("", &stat, None)));
            self.descend(root, String::new(), &mut items);
        }
        while items.len() < max.max(1) as usize {
            let Some(frame) = self.stack.last_mut() else { break };
            let Some(name) = frame.names.pop() else {
                self.stack.pop();
                continue;
            };
            let path = if frame.path.is_empty() { name.clone() } else { format!("{}/{name}", frame.path) };
            let stat = match frame.dir.stat_at(PathFlags::empty(), &name) {
                Ok(s) => s,
                Err(e) => {
                    items.push(ScanItem::Failed { error: fs_error("stat", &path, e), path });
                    continue;
                }
            };
            match stat.type_ {
                DescriptorType::Directory => {
                    match frame.dir.open_at(PathFlags::empty(), &name, OpenFlags::DIRECTORY, DescriptorFlags::READ) {
                        Ok(dir) => {
                            items.push(ScanItem::Entry(entry(&path, &stat, None)));
                            self.descend(dir, path, &mut items);
                        }
                        Err(e) => items.push(ScanItem::Failed { error: fs_error("open directory", &path, e), path }),
                    }
                }
                DescriptorType::SymbolicLink => match frame.dir.readlink_at(&name) {
                    Ok(target) => items.push(ScanItem::Entry(entry(&path, &stat, Some(target)))),
                    Err(e) => items.push(ScanItem::Failed { error: fs_error("read link", &path, e), path }),
                },
                _ => items.push(ScanItem::Entry(entry(&path, &stat, None))),
            }
        }
        Ok(items)
    }
}

impl FsScan {
    /// Queue a directory's names; an unreadable directory is reported, and the walk goes on.
    fn descend(&mut self, dir: Descriptor, path: String, items: &mut Vec<ScanItem>) {
        let mut names = Vec::new();
        let listed = dir.read_directory().and_then(|stream| {
            while let Some(e) = stream.read_directory_entry()? {
                names.push(e.name);
            }
            Ok(())
        });
        if let Err(e) = listed {
            items.push(ScanItem::Failed { error: fs_error("list directory", &path, e), path });
            return;
        }
        // Byte-wise order, reversed so that `pop` yields the smallest first.
        names.sort_unstable_by(|a, b| b.as_bytes().cmp(a.as_bytes()));
        self.stack.push(Frame { dir, path, names });
    }
}

fn nanos(t: Option<Datetime>) -> Option<u64> {
    t.map(|t| t.seconds.saturating_mul(1_000_000_000).saturating_add(u64::from(t.nanoseconds)))
}

fn entry(path: &str, stat: &DescriptorStat, symlink_target: Option<String>) -> Entry {
    let kind = match stat.type_ {
        DescriptorType::RegularFile => EntryKind::File,
        DescriptorType::Directory => EntryKind::Directory,
        DescriptorType::SymbolicLink => EntryKind::Symlink,
        _ => EntryKind::Other,
    };
    let mut e = Entry::new(path, kind, if kind == EntryKind::File { stat.size } else { 0 });
    e.mtime_ns = nanos(stat.data_modification_timestamp);
    e.atime_ns = nanos(stat.data_access_timestamp);
    e.ctime_ns = nanos(stat.status_change_timestamp);
    e.symlink_target = symlink_target;
    e
}
