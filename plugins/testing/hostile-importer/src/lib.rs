//! Test-only hostile importer over a directory holding `a.txt`, `b.bad` and `c.txt`. Its
//! `mode` setting picks the misbehaviour:
//!
//! - `fail-read`: reading `b.bad` fails, and the scan reports `ghost` as unreadable;
//! - `out-of-order`: the scan gives `c.txt` before `a.txt`;
//! - `escape-path`: the scan gives `../outside`;
//! - `trap-mid-scan`: the second batch panics;
//! - `wrong-size`: `a.txt` is announced one byte longer than it is;
//! - `write`: tries to write into its directory (the grant is read-only) and reports it;
//! - anything else: a correct importer.
//!
//! As an exporter it writes files as told, except with `mode = "corrupt-write"`, where it
//! flips a bit in every file it stores (a destination that does not keep what it is given).

use std::io::Read;
use warden_sdk::wasip2::filesystem::types::{Descriptor, DescriptorFlags, OpenFlags, PathFlags};
use warden_sdk::wasip2::io::streams::InputStream;

use warden_sdk::{Body, Config, Entry, EntryKind, Error, Exporter, Importer, Metadata, Result, Scan, ScanItem};

struct Source {
    root: Descriptor,
    mode: String,
}

struct Walk {
    items: Vec<ScanItem>,
    batches: u32,
    mode: String,
}

warden_sdk::export_plugin!(importer: Source, exporter: Destination);

struct Destination {
    root: Descriptor,
    corrupt: bool,
}

impl Exporter for Destination {
    fn open(config: Config) -> Result<Self> {
        Ok(Destination {
            root: warden_sdk::preopened_dir("path")?,
            corrupt: config.get("mode") == Some("corrupt-write"),
        })
    }

    fn origin(&self) -> String {
        "hostile exporter".into()
    }

    fn create_directory(&self, path: &str) -> Result<()> {
        match self.root.create_directory_at(path) {
            Ok(()) | Err(warden_sdk::wasip2::filesystem::types::ErrorCode::Exist) => Ok(()),
            Err(e) => Err(Error::other(format!("{path}: {e:?}"))),
        }
    }

    fn store_file(&self, path: &str, mut body: Body<'_>, _size: u64) -> Result<()> {
        let mut bytes = Vec::new();
        body.read_to_end(&mut bytes).map_err(|e| Error::other(e.to_string()))?;
        if self.corrupt && !bytes.is_empty() {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 1;
        }
        let file = self
            .root
            .open_at(PathFlags::empty(), path, OpenFlags::CREATE | OpenFlags::TRUNCATE, DescriptorFlags::WRITE)
            .map_err(|e| Error::other(format!("{path}: {e:?}")))?;
        let mut offset = 0;
        while offset < bytes.len() {
            let n = file.write(&bytes[offset..], offset as u64).map_err(|e| Error::other(format!("{path}: {e:?}")))?;
            offset += n as usize;
        }
        Ok(())
    }

    fn create_symlink(&self, path: &str, target: &str) -> Result<()> {
        self.root.symlink_at(target, path).map_err(|e| Error::other(format!("{path}: {e:?}")))
    }

    fn set_metadata(&self, _path: &str, _metadata: Metadata) -> Result<()> {
        Ok(())
    }
}

const FILES: [&str; 3] = ["a.txt", "b.bad", "c.txt"];

impl Importer for Source {
    type Scan = Walk;

    fn open(config: Config) -> Result<Self> {
        Ok(Source {
            root: warden_sdk::preopened_dir("path")?,
            mode: config.get("mode").unwrap_or_default().to_string(),
        })
    }

    fn origin(&self) -> String {
        format!("hostile importer ({})", self.mode)
    }

    fn scan(&self) -> Result<Walk> {
        if self.mode == "write" {
            let wrote =
                self.root.open_at(PathFlags::empty(), "planted", OpenFlags::CREATE, DescriptorFlags::WRITE).is_ok();
            return Err(Error::other(format!("write attempt succeeded: {wrote}")));
        }
        let mut items = vec![ScanItem::Entry(Entry::new("", EntryKind::Directory, 0))];
        let mut names: Vec<&str> = FILES.to_vec();
        if self.mode == "out-of-order" {
            names.reverse();
        }
        for name in names {
            let size = self.root.stat_at(PathFlags::empty(), name).map_err(|e| Error::other(format!("{e:?}")))?.size;
            let size = if self.mode == "wrong-size" && name == "a.txt" { size + 1 } else { size };
            items.push(ScanItem::Entry(Entry::new(name, EntryKind::File, size)));
        }
        if self.mode == "fail-read" {
            items.push(ScanItem::Failed {
                path: "ghost".into(),
                error: Error::permission_denied("ghost: permission denied"),
            });
        }
        if self.mode == "escape-path" {
            items.push(ScanItem::Entry(Entry::new("../outside", EntryKind::File, 1)));
        }
        items.reverse(); // popped from the end
        Ok(Walk { items, batches: 0, mode: self.mode.clone() })
    }

    fn read(&self, path: &str) -> Result<InputStream> {
        if self.mode == "fail-read" && path == "b.bad" {
            return Err(Error::permission_denied(format!("{path}: permission denied")));
        }
        let file = self
            .root
            .open_at(PathFlags::empty(), path, OpenFlags::empty(), DescriptorFlags::READ)
            .map_err(|e| Error::not_found(format!("{path}: {e:?}")))?;
        file.read_via_stream(0).map_err(|e| Error::other(format!("{e:?}")))
    }
}

impl Scan for Walk {
    fn next(&mut self, _max: u32) -> Result<Vec<ScanItem>> {
        self.batches += 1;
        if self.mode == "trap-mid-scan" && self.batches == 2 {
            panic!("hostile importer: panic in the middle of a scan");
        }
        // One item per batch, so a mid-scan failure comes after some entries.
        Ok(self.items.pop().into_iter().collect())
    }
}
