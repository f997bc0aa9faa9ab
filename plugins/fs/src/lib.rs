//! Warden's reference `fs` plugin: a target that stores each object as a file under the one
//! directory the host preopens for it (bound to the config key `path`).
//!
//! Layout: a key's `/`-separated segments become directories and a file name, each segment
//! encoded by [`keymap`] so that the mapping is injective and no key can leave the directory.
//! Keys made only of letters, digits, `-`, `_` and non-leading `.` map to themselves, so a
//! restic repository held here is laid out exactly as restic lays it out.
//!
//! Bytes never pass through this plugin's memory: `put` splices the host's stream into the temp
//! file's write stream, and `get` hands back the file's read stream.

use std::collections::BTreeSet;

use warden_sdk::keymap;
use warden_sdk::wasip2::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, OpenFlags, PathFlags,
};
use warden_sdk::{
    Body, ByteRange, Check, Config, Error, Features, GetBody, Key, ListPage, ObjectMeta, PutOptions, Result, Target,
};

mod exporter;
mod importer;
mod store;

/// The config key whose directory the host preopens for us (also the preopen's name).
const DIR_KEY: &str = "path";
/// Most objects in one listing page.
const MAX_LIST_PAGE: u32 = 1000;
/// Names starting with this are temp files of in-flight puts: never keys (keymap never
/// produces a leading dot), skipped by listings.
const TEMP_PREFIX: &str = ".warden-tmp-";

/// A session over the preopened directory.
struct FsSession {
    /// The preopened directory: everything this plugin can reach.
    root: Descriptor,
}

warden_sdk::export_plugin!(
    target: FsSession,
    store: store::FsRepository,
    importer: importer::FsSource,
    exporter: exporter::FsDestination
);

fn random_suffix() -> u64 {
    warden_sdk::wasip2::random::random::get_random_u64()
}

impl Target for FsSession {
    fn open(config: Config) -> Result<Self> {
        config.require(DIR_KEY)?;
        Ok(FsSession { root: warden_sdk::preopened_dir(DIR_KEY)? })
    }

    fn features(&self) -> Features {
        Features {
            ranges: true,
            create_only: true,
            max_object_size: None,
            max_list_page: MAX_LIST_PAGE,
            prefix_keys: false,
        }
    }

    fn test_connection(&self) -> Result<Vec<Check>> {
        let mut checks = Vec::new();
        checks.push(match self.root.stat() {
            Ok(_) => Check::pass("directory is reachable", "the granted directory can be read"),
            Err(e) => {
                Check::fail("directory is reachable", format!("cannot read the granted directory: {}", describe(e)))
            }
        });
        let probe = format!("{TEMP_PREFIX}probe-{:016x}", random_suffix());
        let write = self
            .root
            .open_at(PathFlags::empty(), &probe, OpenFlags::CREATE | OpenFlags::EXCLUSIVE, DescriptorFlags::WRITE)
            .and_then(|file| file.write(b"warden", 0).map(|_| ()));
        let _ = self.root.unlink_file_at(&probe);
        checks.push(match write {
            Ok(()) => Check::pass("directory is writable", "a probe file was written and removed"),
            Err(e) => Check::fail(
                "directory is writable",
                format!(
                    "cannot write in the directory ({}); give the user running warden write permission on it",
                    describe(e)
                ),
            ),
        });
        Ok(checks)
    }

    fn put(&self, key: &Key, mut body: Body<'_>, options: PutOptions) -> Result<ObjectMeta> {
        let path = keymap::encode(key.as_str()).map_err(Error::InvalidInput)?;
        let (parent, _) = keymap::split_parent(&path);
        self.create_parents(key, parent)?;
        let temp = match parent {
            Some(dir) => format!("{dir}/{TEMP_PREFIX}{:016x}", random_suffix()),
            None => format!("{TEMP_PREFIX}{:016x}", random_suffix()),
        };
        let written = match self.write_temp(key, &temp, &mut body) {
            Ok(n) => n,
            Err(e) => {
                let _ = self.root.unlink_file_at(&temp);
                return Err(e);
            }
        };
        if let Err(e) = options.check_size(key, written) {
            let _ = self.root.unlink_file_at(&temp);
            return Err(e);
        }
        let publish = if options.create_only {
            // A hard link fails if the name exists: an atomic create-only publish.
            let linked = self.root.link_at(PathFlags::empty(), &temp, &self.root, &path);
            let _ = self.root.unlink_file_at(&temp);
            linked
        } else {
            self.root.rename_at(&temp, &self.root, &path)
        };
        if let Err(e) = publish {
            let _ = self.root.unlink_file_at(&temp);
            return Err(match e {
                ErrorCode::Exist if options.create_only => {
                    Error::already_exists(format!("put `{key}` (create-only): the key already exists"))
                }
                ErrorCode::IsDirectory | ErrorCode::Exist | ErrorCode::NotEmpty => Error::invalid_input(format!(
                    "put `{key}`: other keys start with `{key}/`, and the fs target cannot hold an object at a key that is also a prefix of others"
                )),
                e => fs_error("put", key.as_str(), e),
            });
        }
        if let Some(dir) = parent
            && let Ok(d) = self.root.open_at(PathFlags::empty(), dir, OpenFlags::DIRECTORY, DescriptorFlags::READ)
        {
            // Make the rename durable; best effort (some filesystems refuse a directory sync).
            let _ = d.sync();
        }
        self.head(key)
    }

    fn get(&self, key: &Key, range: Option<ByteRange>) -> Result<GetBody> {
        let path = keymap::encode(key.as_str()).map_err(Error::InvalidInput)?;
        let meta = self.head(key)?;
        let (offset, length) = ByteRange::resolve(range, meta.size, key)?;
        let file = self
            .root
            .open_at(PathFlags::empty(), &path, OpenFlags::empty(), DescriptorFlags::READ)
            .map_err(|e| fs_error("get", key.as_str(), e))?;
        // The file's own stream goes back to the host untouched: the bytes never enter here.
        GetBody::file(meta, &file, offset, length)
    }

    fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let path = keymap::encode(key.as_str()).map_err(Error::InvalidInput)?;
        match self.root.stat_at(PathFlags::empty(), &path) {
            Ok(stat) if stat.type_ == DescriptorType::RegularFile => Ok(ObjectMeta {
                key: key.to_string(),
                size: stat.size,
                modified_ns: stat
                    .data_modification_timestamp
                    .map(|t| t.seconds * 1_000_000_000 + u64::from(t.nanoseconds)),
                etag: None,
            }),
            Ok(_) | Err(ErrorCode::NoEntry) | Err(ErrorCode::NotDirectory) => {
                Err(Error::not_found(format!("`{key}` does not exist")))
            }
            Err(e) => Err(fs_error("head", key.as_str(), e)),
        }
    }

    fn list(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> Result<ListPage> {
        let limit = if limit == 0 { MAX_LIST_PAGE } else { limit.min(MAX_LIST_PAGE) } as usize;
        // Every key under `prefix` lives below the directory named by its part up to the last
        // `/`: start the walk there.
        let dir_key = prefix.rfind('/').map(|i| &prefix[..i]);
        let walk_root = match dir_key {
            Some(dir_key) => {
                let Ok(encoded) = keymap::encode(dir_key) else {
                    return Ok(ListPage::default());
                };
                match self.root.open_at(PathFlags::empty(), &encoded, OpenFlags::DIRECTORY, DescriptorFlags::READ) {
                    Ok(d) => d,
                    Err(ErrorCode::NoEntry) | Err(ErrorCode::NotDirectory) => {
                        return Ok(ListPage::default());
                    }
                    Err(e) => return Err(fs_error("list", prefix, e)),
                }
            }
            None => self
                .root
                .open_at(PathFlags::empty(), ".", OpenFlags::DIRECTORY, DescriptorFlags::READ)
                .map_err(|e| fs_error("list", prefix, e))?,
        };
        let base = dir_key.map(|d| format!("{d}/")).unwrap_or_default();
        let mut best = BTreeSet::new();
        let mut walker = Walker { prefix, cursor, keep: limit + 1, best: &mut best };
        walker.walk(&walk_root, &base)?;
        let more = best.len() > limit;
        let objects: Vec<ObjectMeta> = best
            .into_iter()
            .take(limit)
            .map(|(key, size, modified_ns)| ObjectMeta { key, size, modified_ns, etag: None })
            .collect();
        let next = if more { objects.last().map(|o| o.key.clone()) } else { None };
        Ok(ListPage { objects, next })
    }

    fn delete(&self, key: &Key) -> Result<()> {
        let path = keymap::encode(key.as_str()).map_err(Error::InvalidInput)?;
        match self.root.unlink_file_at(&path) {
            Ok(()) => {}
            Err(ErrorCode::NoEntry | ErrorCode::NotDirectory | ErrorCode::IsDirectory) => {
                return Ok(());
            }
            // Some systems report unlink of a directory as a permission error.
            Err(ErrorCode::NotPermitted | ErrorCode::Access) if matches!(self.root.stat_at(PathFlags::empty(), &path), Ok(s) if s.type_ == DescriptorType::Directory) =>
            {
                return Ok(());
            }
            Err(e) => return Err(fs_error("delete", key.as_str(), e)),
        }
        // Remove directories the delete left empty, so they do not pile up; a directory that is
        // not empty (or that a concurrent put just filled) stays.
        let mut dir = keymap::split_parent(&path).0;
        while let Some(d) = dir {
            if self.root.remove_directory_at(d).is_err() {
                break;
            }
            dir = keymap::split_parent(d).0;
        }
        Ok(())
    }

    fn gc(&self, idle_seconds: u64) -> Result<u64> {
        let now = warden_sdk::wasip2::clocks::wall_clock::now();
        let now_ns = now.seconds * 1_000_000_000 + u64::from(now.nanoseconds);
        let older_than = now_ns.saturating_sub(idle_seconds.saturating_mul(1_000_000_000));
        let mut removed = 0;
        let root = self
            .root
            .open_at(PathFlags::empty(), ".", OpenFlags::DIRECTORY, DescriptorFlags::READ)
            .map_err(|e| fs_error("gc", "", e))?;
        self.collect(&root, "", older_than, &mut removed)?;
        Ok(removed)
    }
}

impl FsSession {
    /// Remove temp files of puts that did not finish (a crash, a kill) and that nothing has
    /// written to for `idle_seconds`, anywhere below the root; returns how many.
    fn collect(&self, dir: &Descriptor, path: &str, older_than_ns: u64, removed: &mut u64) -> Result<()> {
        let entries = dir.read_directory().map_err(|e| fs_error("gc", path, e))?;
        while let Some(entry) = entries.read_directory_entry().map_err(|e| fs_error("gc", path, e))? {
            match entry.type_ {
                DescriptorType::Directory if !entry.name.starts_with('.') => {
                    if let Ok(child) =
                        dir.open_at(PathFlags::empty(), &entry.name, OpenFlags::DIRECTORY, DescriptorFlags::READ)
                    {
                        self.collect(&child, &format!("{path}{}/", entry.name), older_than_ns, removed)?;
                    }
                }
                DescriptorType::RegularFile if entry.name.starts_with(TEMP_PREFIX) => {
                    let idle = dir
                        .stat_at(PathFlags::empty(), &entry.name)
                        .ok()
                        .and_then(|s| s.data_modification_timestamp)
                        .is_some_and(|t| t.seconds * 1_000_000_000 + u64::from(t.nanoseconds) <= older_than_ns);
                    if idle && dir.unlink_file_at(&entry.name).is_ok() {
                        *removed += 1;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Create the directories above a key, one segment at a time.
    fn create_parents(&self, key: &Key, parent: Option<&str>) -> Result<()> {
        let Some(parent) = parent else { return Ok(()) };
        let mut end = 0;
        for segment in parent.split('/') {
            end += segment.len();
            let dir = &parent[..end];
            match self.root.create_directory_at(dir) {
                Ok(()) | Err(ErrorCode::Exist) => {}
                Err(ErrorCode::NotDirectory) => return Err(conflict(key)),
                Err(e) => return Err(fs_error("put", key.as_str(), e)),
            }
            end += 1;
        }
        match self.root.stat_at(PathFlags::empty(), parent) {
            Ok(s) if s.type_ == DescriptorType::Directory => Ok(()),
            Ok(_) | Err(ErrorCode::NotDirectory) => Err(conflict(key)),
            Err(e) => Err(fs_error("put", key.as_str(), e)),
        }
    }

    /// Splice the body into a new temp file and make it durable; returns the bytes written.
    fn write_temp(&self, key: &Key, temp: &str, body: &mut Body<'_>) -> Result<u64> {
        let mut attempt = 0;
        let file = loop {
            match self.root.open_at(
                PathFlags::empty(),
                temp,
                OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
                DescriptorFlags::WRITE,
            ) {
                Ok(f) => break f,
                // A concurrent delete removed the (then empty) parent: make it again.
                Err(ErrorCode::NoEntry) if attempt < 3 => {
                    attempt += 1;
                    let (parent, _) = keymap::split_parent(temp);
                    self.create_parents(key, parent)?;
                }
                Err(e) => return Err(fs_error("put", key.as_str(), e)),
            }
        };
        body.write_to_file(&file).map_err(|e| e.context(format!("put `{key}`")))
    }
}

/// Collects the smallest `keep` keys after the cursor under a prefix.
struct Walker<'a> {
    prefix: &'a str,
    cursor: Option<&'a str>,
    keep: usize,
    best: &'a mut BTreeSet<(String, u64, Option<u64>)>,
}

impl Walker<'_> {
    fn walk(&mut self, dir: &Descriptor, base: &str) -> Result<()> {
        let entries = dir.read_directory().map_err(|e| fs_error("list", base, e))?;
        while let Some(entry) = entries.read_directory_entry().map_err(|e| fs_error("list", base, e))? {
            if entry.name.starts_with('.') {
                continue; // temp files and anything that is not ours
            }
            let Some(segment) = keymap::decode_segment(&entry.name) else {
                continue; // a name keymap would never produce: not an object of ours
            };
            let key = format!("{base}{segment}");
            match entry.type_ {
                DescriptorType::Directory => {
                    let sub = format!("{key}/");
                    // Descend only where keys can both match the prefix and pass the cursor.
                    let overlaps = sub.starts_with(self.prefix) || self.prefix.starts_with(&sub);
                    if !overlaps || self.pruned(&sub) {
                        continue;
                    }
                    if let Ok(child) =
                        dir.open_at(PathFlags::empty(), &entry.name, OpenFlags::DIRECTORY, DescriptorFlags::READ)
                    {
                        self.walk(&child, &sub)?;
                    }
                }
                DescriptorType::RegularFile => {
                    if !key.starts_with(self.prefix) || self.cursor.is_some_and(|c| key.as_str() <= c) {
                        continue;
                    }
                    if self.best.len() >= self.keep && self.best.last().is_some_and(|l| l.0 <= key) {
                        continue;
                    }
                    let stat = dir.stat_at(PathFlags::empty(), &entry.name).ok();
                    let size = stat.as_ref().map_or(0, |s| s.size);
                    let modified = stat
                        .and_then(|s| s.data_modification_timestamp)
                        .map(|t| t.seconds * 1_000_000_000 + u64::from(t.nanoseconds));
                    self.best.insert((key, size, modified));
                    if self.best.len() > self.keep {
                        self.best.pop_last();
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether every key below directory key `sub` (ending in `/`) is at or before the cursor
    /// or after the keys already kept, so the walk can skip it.
    fn pruned(&self, sub: &str) -> bool {
        // All keys below `sub` start with `sub`; they all sort before a cursor that is
        // greater than `sub` and does not start with it.
        let before_cursor = self.cursor.is_some_and(|c| c > sub && !c.starts_with(sub));
        let after_kept = self.best.len() >= self.keep && self.best.last().is_some_and(|l| l.0.as_str() < sub);
        before_cursor || after_kept
    }
}

fn conflict(key: &Key) -> Error {
    Error::invalid_input(format!(
        "put `{key}`: a shorter key is an object where this key needs a directory; the fs target cannot hold an object at a key that is also a prefix of others"
    ))
}

/// A path from the host (an entry's), checked: `/`-separated segments, none empty, `.` or
/// `..`. The sandbox holds either way; this gives a clear error instead of a surprise.
fn relative_path(path: &str) -> Result<&str> {
    if path.is_empty() || path.split('/').any(|s| s.is_empty() || s == "." || s == ".." || s.contains('\0')) {
        return Err(Error::invalid_input(format!("{path:?} is not a relative path of `/`-separated names")));
    }
    Ok(path)
}

/// Map a WASI error to the contract's classes, naming the operation and key.
fn fs_error(op: &str, key: &str, code: ErrorCode) -> Error {
    let what = format!("{op} `{key}`: {}", describe(code));
    match code {
        ErrorCode::NoEntry => Error::NotFound(what),
        ErrorCode::Exist => Error::AlreadyExists(what),
        ErrorCode::Access | ErrorCode::NotPermitted | ErrorCode::ReadOnly => Error::PermissionDenied(what),
        ErrorCode::NameTooLong | ErrorCode::Invalid | ErrorCode::IllegalByteSequence => Error::InvalidInput(what),
        ErrorCode::Interrupted | ErrorCode::WouldBlock | ErrorCode::Busy => Error::Unavailable(what),
        _ => {
            warden_sdk::debug!("unmapped filesystem error: {what}");
            Error::Other(what)
        }
    }
}

fn describe(code: ErrorCode) -> String {
    let text = match code {
        ErrorCode::NoEntry => "no such file or directory",
        ErrorCode::Exist => "already exists",
        ErrorCode::Access | ErrorCode::NotPermitted => "permission denied",
        ErrorCode::ReadOnly => "the filesystem is read-only",
        ErrorCode::InsufficientSpace | ErrorCode::Quota => "no space left on the device",
        ErrorCode::NameTooLong => "a path segment is too long for the filesystem",
        ErrorCode::NotDirectory => "a path segment is not a directory",
        ErrorCode::IsDirectory => "is a directory",
        ErrorCode::Io => "an I/O error",
        _ => return format!("{code:?}").to_lowercase(),
    };
    text.to_string()
}
