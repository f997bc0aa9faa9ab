//! The fs store: a repository in restic's own layout under the preopened directory (what
//! `restic init` makes on a local path), on top of the fs target's atomic puts.

use warden_sdk::wasip2::filesystem::types::{DescriptorFlags, OpenFlags, PathFlags};
use warden_sdk::wasip2::io::streams::InputStream;
use warden_sdk::{Body, ByteRange, Config, Error, FileInfo, FileKind, Key, PutOptions, Result, Store, Target, keymap};

use crate::{DIR_KEY, FsSession, fs_error};

/// A repository over the preopened directory.
pub struct FsRepository {
    files: FsSession,
    origin: String,
}

impl Store for FsRepository {
    fn open(config: Config) -> Result<Self> {
        let origin = format!("directory {}", config.require(DIR_KEY)?);
        Ok(FsRepository { files: FsSession::open(config)?, origin })
    }

    fn location(&self) -> String {
        self.origin.clone()
    }

    fn create(&self) -> Result<()> {
        let mut dirs: Vec<String> =
            ["keys", "snapshots", "index", "data", "locks"].iter().map(|d| d.to_string()).collect();
        dirs.extend((0..=255u8).map(|b| format!("data/{b:02x}")));
        for dir in dirs {
            match self.files.root.create_directory_at(&dir) {
                Ok(()) | Err(warden_sdk::wasip2::filesystem::types::ErrorCode::Exist) => {}
                Err(e) => return Err(fs_error("create", &dir, e)),
            }
        }
        Ok(())
    }

    fn list(&self, kind: FileKind) -> Result<Vec<FileInfo>> {
        if kind == FileKind::Config {
            return match self.files.head(&Key::from("config")) {
                Ok(meta) => Ok(vec![FileInfo { id: String::new(), size: meta.size }]),
                Err(Error::NotFound(_)) => Ok(Vec::new()),
                Err(e) => Err(e),
            };
        }
        let prefix = format!("{}/", kind.restic_dir());
        let mut files = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.files.list(&prefix, cursor.as_deref(), 0)?;
            for object in &page.objects {
                let id = object.key.rsplit('/').next().unwrap_or_default();
                if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    files.push(FileInfo { id: id.to_string(), size: object.size });
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(files),
            }
        }
    }

    fn put(&self, kind: FileKind, id: &str, body: Body<'_>, size: u64) -> Result<()> {
        let key = checked(kind, id)?;
        self.files.put(&key, body, PutOptions { create_only: false, size: Some(size) }).map(|_| ())
    }

    fn get(&self, kind: FileKind, id: &str, range: Option<ByteRange>) -> Result<(u64, InputStream)> {
        let key = checked(kind, id)?;
        let meta = self.files.head(&key)?;
        let (offset, length) = ByteRange::resolve(range, meta.size, &key)?;
        let path = keymap::encode(key.as_str()).map_err(Error::InvalidInput)?;
        let file = self
            .files
            .root
            .open_at(PathFlags::empty(), &path, OpenFlags::empty(), DescriptorFlags::READ)
            .map_err(|e| fs_error("get", key.as_str(), e))?;
        // The file's own stream goes to the host untouched.
        let stream = file.read_via_stream(offset).map_err(|e| fs_error("get", key.as_str(), e))?;
        Ok((length, stream))
    }

    fn delete(&self, kind: FileKind, id: &str) -> Result<()> {
        self.files.delete(&checked(kind, id)?)
    }

    fn gc(&self, idle_seconds: u64) -> Result<u64> {
        self.files.gc(idle_seconds)
    }
}

/// The key of a file in restic's layout, refusing ids that are not what the host sends.
fn checked(kind: FileKind, id: &str) -> Result<Key> {
    let ok = match kind {
        FileKind::Config => id.is_empty(),
        _ => id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
    };
    if !ok {
        return Err(Error::invalid_input(format!("{id:?} is not the id of a repository file")));
    }
    Ok(Key::from(kind.restic_path(id)))
}
