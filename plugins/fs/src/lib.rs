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

mod keymap;

use wasip2::filesystem::preopens::get_directories;
use wasip2::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, OpenFlags, PathFlags,
};
use wasip2::io::streams::{InputStream, StreamError};

wit_bindgen::generate!({
    path: "../../wit",
    world: "warden:plugin/target-plugin",
    with: {
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
    },
});

use exports::warden::plugin::target::{
    Check, Features, Guest, GuestSession, PutOptions, Session,
};
use warden::plugin::log::{Level, log};
use warden::plugin::types::{ByteRange, Error, ListPage, ObjectBody, ObjectMeta};

/// The config key whose directory the host preopens for us (also the preopen's name).
const DIR_KEY: &str = "path";
/// Most objects in one listing page.
const MAX_LIST_PAGE: u32 = 1000;
/// Bytes moved per splice call; the host's stream serves up to this much per read.
const SPLICE_CHUNK: u64 = 1 << 20;
/// Names starting with this are temp files of in-flight puts: never keys (keymap never
/// produces a leading dot), skipped by listings.
const TEMP_PREFIX: &str = ".warden-tmp-";

struct FsTarget;

/// A session over the preopened directory.
struct FsSession {
    /// The preopened directory: everything this plugin can reach.
    root: Descriptor,
}

export!(FsTarget);

// The manifest and the API version travel inside the component, so the .wasm is the package.
#[used]
#[unsafe(link_section = "warden:manifest")]
static MANIFEST: [u8; include_bytes!("../warden.toml").len()] = *include_bytes!("../warden.toml");
#[used]
#[unsafe(link_section = "warden:api-version")]
static API_VERSION: [u8; 5] = *b"0.1.0";

impl Guest for FsTarget {
    type Session = FsSession;
}

impl GuestSession for FsSession {
    fn open(config: Vec<(String, String)>) -> Result<Session, Error> {
        if !config.iter().any(|(k, _)| k == DIR_KEY) {
            return Err(Error::InvalidInput(format!(
                "the fs plugin needs the setting `{DIR_KEY}` (the directory that holds the objects)"
            )));
        }
        let root = get_directories()
            .into_iter()
            .find_map(|(dir, name)| (name == DIR_KEY).then_some(dir))
            .ok_or_else(|| {
                Error::PermissionDenied(format!(
                    "the host granted no directory for `{DIR_KEY}`; check the target's `{DIR_KEY}` setting"
                ))
            })?;
        Ok(Session::new(FsSession { root }))
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

    fn test_connection(&self) -> Result<Vec<Check>, Error> {
        let mut checks = Vec::new();
        let stat = self.root.stat();
        checks.push(Check {
            name: "directory is reachable".into(),
            ok: stat.is_ok(),
            detail: match &stat {
                Ok(_) => "the granted directory can be read".into(),
                Err(e) => format!("cannot read the granted directory: {}", describe(*e)),
            },
        });
        let probe = format!("{TEMP_PREFIX}probe-{:016x}", wasip2::random::random::get_random_u64());
        let write = self
            .root
            .open_at(
                PathFlags::empty(),
                &probe,
                OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
                DescriptorFlags::WRITE,
            )
            .and_then(|file| file.write(b"warden", 0).map(|_| ()));
        let _ = self.root.unlink_file_at(&probe);
        checks.push(Check {
            name: "directory is writable".into(),
            ok: write.is_ok(),
            detail: match write {
                Ok(()) => "a probe file was written and removed".into(),
                Err(e) => format!(
                    "cannot write in the directory ({}); give the user running warden write permission on it",
                    describe(e)
                ),
            },
        });
        Ok(checks)
    }

    fn put(&self, key: String, body: &InputStream, options: PutOptions) -> Result<ObjectMeta, Error> {
        let path = keymap::encode(&key).map_err(Error::InvalidInput)?;
        let (parent, _) = keymap::split_parent(&path);
        self.create_parents(&key, parent)?;
        let temp = match parent {
            Some(dir) => format!("{dir}/{TEMP_PREFIX}{:016x}", wasip2::random::random::get_random_u64()),
            None => format!("{TEMP_PREFIX}{:016x}", wasip2::random::random::get_random_u64()),
        };
        let written = match self.write_temp(&key, &temp, body) {
            Ok(n) => n,
            Err(e) => {
                let _ = self.root.unlink_file_at(&temp);
                return Err(e);
            }
        };
        if let Some(size) = options.size
            && size != written
        {
            let _ = self.root.unlink_file_at(&temp);
            return Err(Error::InvalidInput(format!(
                "put `{key}`: the body yielded {written} bytes but {size} were declared; nothing was stored"
            )));
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
                    Error::AlreadyExists(format!("put `{key}` (create-only): the key already exists"))
                }
                ErrorCode::IsDirectory | ErrorCode::Exist | ErrorCode::NotEmpty => Error::InvalidInput(format!(
                    "put `{key}`: other keys start with `{key}/`, and the fs target cannot hold an object at a key that is also a prefix of others"
                )),
                e => fs_error("put", &key, e),
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

    fn get(&self, key: String, range: Option<ByteRange>) -> Result<ObjectBody, Error> {
        let path = keymap::encode(&key).map_err(Error::InvalidInput)?;
        let meta = self.head(key.clone())?;
        let (offset, length) = match range {
            None => (0, meta.size),
            Some(r) if r.offset > meta.size => {
                return Err(Error::InvalidInput(format!(
                    "get `{key}`: the range starts at byte {} but the object has {} bytes",
                    r.offset, meta.size
                )));
            }
            Some(r) => (r.offset, r.length.unwrap_or(u64::MAX).min(meta.size - r.offset)),
        };
        let file = self
            .root
            .open_at(PathFlags::empty(), &path, OpenFlags::empty(), DescriptorFlags::READ)
            .map_err(|e| fs_error("get", &key, e))?;
        let stream = file.read_via_stream(offset).map_err(|e| fs_error("get", &key, e))?;
        Ok(ObjectBody { meta, length, body: stream })
    }

    fn head(&self, key: String) -> Result<ObjectMeta, Error> {
        let path = keymap::encode(&key).map_err(Error::InvalidInput)?;
        match self.root.stat_at(PathFlags::empty(), &path) {
            Ok(stat) if stat.type_ == DescriptorType::RegularFile => Ok(ObjectMeta {
                key,
                size: stat.size,
                modified_ns: stat
                    .data_modification_timestamp
                    .map(|t| t.seconds * 1_000_000_000 + u64::from(t.nanoseconds)),
                etag: None,
            }),
            Ok(_) | Err(ErrorCode::NoEntry) | Err(ErrorCode::NotDirectory) => {
                Err(Error::NotFound(format!("`{key}` does not exist")))
            }
            Err(e) => Err(fs_error("head", &key, e)),
        }
    }

    fn list(&self, prefix: String, cursor: Option<String>, limit: u32) -> Result<ListPage, Error> {
        let limit = if limit == 0 { MAX_LIST_PAGE } else { limit.min(MAX_LIST_PAGE) } as usize;
        // Every key under `prefix` lives below the directory named by its part up to the last
        // `/`: start the walk there.
        let (dir_key, _) = match prefix.rfind('/') {
            Some(i) => (&prefix[..i], &prefix[i + 1..]),
            None => ("", prefix.as_str()),
        };
        let mut best = std::collections::BTreeSet::new();
        let start = if prefix.contains('/') {
            match keymap::encode(dir_key) {
                Ok(p) => Some(p),
                Err(_) => return Ok(ListPage { objects: Vec::new(), next: None }),
            }
        } else {
            None
        };
        let walk_root = match &start {
            Some(p) => match self.root.open_at(PathFlags::empty(), p, OpenFlags::DIRECTORY, DescriptorFlags::READ) {
                Ok(d) => d,
                Err(ErrorCode::NoEntry) | Err(ErrorCode::NotDirectory) => {
                    return Ok(ListPage { objects: Vec::new(), next: None });
                }
                Err(e) => return Err(fs_error("list", &prefix, e)),
            },
            None => self
                .root
                .open_at(PathFlags::empty(), ".", OpenFlags::DIRECTORY, DescriptorFlags::READ)
                .map_err(|e| fs_error("list", &prefix, e))?,
        };
        let base = if start.is_some() { format!("{dir_key}/") } else { String::new() };
        let mut walker = Walker { prefix: &prefix, cursor: cursor.as_deref(), keep: limit + 1, best: &mut best };
        walker.walk(&walk_root, &base)?;
        let more = best.len() > limit;
        let mut objects = Vec::with_capacity(limit.min(best.len()));
        for (key, size, modified_ns) in best.iter().take(limit) {
            objects.push(ObjectMeta { key: key.clone(), size: *size, modified_ns: *modified_ns, etag: None });
        }
        let next = if more { objects.last().map(|o| o.key.clone()) } else { None };
        Ok(ListPage { objects, next })
    }

    fn delete(&self, key: String) -> Result<(), Error> {
        let path = keymap::encode(&key).map_err(Error::InvalidInput)?;
        match self.root.unlink_file_at(&path) {
            Ok(()) => {}
            Err(ErrorCode::NoEntry | ErrorCode::NotDirectory | ErrorCode::IsDirectory) => return Ok(()),
            // Some systems report unlink of a directory as a permission error.
            Err(ErrorCode::NotPermitted | ErrorCode::Access)
                if matches!(self.root.stat_at(PathFlags::empty(), &path), Ok(s) if s.type_ == DescriptorType::Directory) =>
            {
                return Ok(());
            }
            Err(e) => return Err(fs_error("delete", &key, e)),
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
}

impl FsSession {
    /// Create the directories above a key, one segment at a time.
    fn create_parents(&self, key: &str, parent: Option<&str>) -> Result<(), Error> {
        let Some(parent) = parent else { return Ok(()) };
        let mut end = 0;
        for segment in parent.split('/') {
            end += segment.len();
            let dir = &parent[..end];
            match self.root.create_directory_at(dir) {
                Ok(()) | Err(ErrorCode::Exist) => {}
                Err(ErrorCode::NotDirectory) => return Err(conflict(key)),
                Err(e) => return Err(fs_error("put", key, e)),
            }
            end += 1;
        }
        match self.root.stat_at(PathFlags::empty(), parent) {
            Ok(s) if s.type_ == DescriptorType::Directory => Ok(()),
            Ok(_) | Err(ErrorCode::NotDirectory) => Err(conflict(key)),
            Err(e) => Err(fs_error("put", key, e)),
        }
    }

    /// Splice the body into a new temp file and make it durable; returns the bytes written.
    fn write_temp(&self, key: &str, temp: &str, body: &InputStream) -> Result<u64, Error> {
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
                Err(e) => return Err(fs_error("put", key, e)),
            }
        };
        let sink = file.write_via_stream(0).map_err(|e| fs_error("put", key, e))?;
        let mut written = 0u64;
        loop {
            match sink.blocking_splice(body, SPLICE_CHUNK) {
                Ok(n) => written += n,
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(Error::Unavailable(format!(
                        "put `{key}`: the body failed after {written} bytes ({}); nothing was stored",
                        e.to_debug_string()
                    )));
                }
            }
        }
        match sink.blocking_flush() {
            Ok(()) => {}
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(Error::Unavailable(format!("put `{key}`: writing failed: {}", e.to_debug_string())));
            }
            Err(StreamError::Closed) => {
                return Err(Error::Unavailable(format!("put `{key}`: the file closed while writing")));
            }
        }
        drop(sink);
        file.sync().map_err(|e| fs_error("put", key, e))?;
        Ok(written)
    }
}

/// Collects the smallest `keep` keys after the cursor under a prefix.
struct Walker<'a> {
    prefix: &'a str,
    cursor: Option<&'a str>,
    keep: usize,
    best: &'a mut std::collections::BTreeSet<(String, u64, Option<u64>)>,
}

impl Walker<'_> {
    fn walk(&mut self, dir: &Descriptor, base: &str) -> Result<(), Error> {
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
                    if let Ok(child) = dir.open_at(PathFlags::empty(), &entry.name, OpenFlags::DIRECTORY, DescriptorFlags::READ)
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

fn conflict(key: &str) -> Error {
    Error::InvalidInput(format!(
        "put `{key}`: a shorter key is an object where this key needs a directory; the fs target cannot hold an object at a key that is also a prefix of others"
    ))
}

/// Map a WASI error to the contract's classes, naming the operation and key.
fn fs_error(op: &str, key: &str, code: ErrorCode) -> Error {
    let what = format!("{op} `{key}`: {}", describe(code));
    match code {
        ErrorCode::NoEntry => Error::NotFound(what),
        ErrorCode::Exist => Error::AlreadyExists(what),
        ErrorCode::Access | ErrorCode::NotPermitted | ErrorCode::ReadOnly => Error::PermissionDenied(what),
        ErrorCode::NameTooLong | ErrorCode::Invalid | ErrorCode::IllegalByteSequence => Error::InvalidInput(what),
        ErrorCode::Interrupted | ErrorCode::WouldBlock | ErrorCode::Busy => {
            Error::Unavailable(what)
        }
        _ => {
            log(Level::Debug, &format!("unmapped filesystem error: {what}"));
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
