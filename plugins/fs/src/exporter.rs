//! The fs exporter: writes restored files into the one directory the host preopens. Files
//! are written aside and renamed into place, so a file is whole or absent.

use warden_sdk::wasip2::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, NewTimestamp, OpenFlags, PathFlags,
};
use warden_sdk::{Body, Config, Error, Exporter, Metadata, Result};

use crate::{DIR_KEY, TEMP_PREFIX, fs_error, random_suffix, relative_path};

/// A destination over the preopened directory.
pub struct FsDestination {
    root: Descriptor,
    origin: String,
}

impl Exporter for FsDestination {
    fn open(config: Config) -> Result<Self> {
        let path = config.require(DIR_KEY)?.to_string();
        Ok(FsDestination { root: warden_sdk::preopened_dir(DIR_KEY)?, origin: format!("directory {path}") })
    }

    fn origin(&self) -> String {
        self.origin.clone()
    }

    fn create_directory(&self, path: &str) -> Result<()> {
        if path.is_empty() {
            return Ok(());
        }
        let path = relative_path(path)?;
        match self.root.create_directory_at(path) {
            Ok(()) => Ok(()),
            Err(ErrorCode::Exist) => match self.root.stat_at(PathFlags::empty(), path) {
                Ok(s) if s.type_ == DescriptorType::Directory => Ok(()),
                _ => Err(Error::already_exists(format!(
                    "create directory `{path}`: something that is not a directory is in the way; move it aside"
                ))),
            },
            Err(e) => Err(fs_error("create directory", path, e)),
        }
    }

    fn store_file(&self, path: &str, mut body: Body<'_>, size: u64) -> Result<()> {
        let path = relative_path(path)?;
        let temp = match path.rfind('/') {
            Some(i) => format!("{}/{TEMP_PREFIX}{:016x}", &path[..i], random_suffix()),
            None => format!("{TEMP_PREFIX}{:016x}", random_suffix()),
        };
        let written = self
            .root
            .open_at(PathFlags::empty(), &temp, OpenFlags::CREATE | OpenFlags::EXCLUSIVE, DescriptorFlags::WRITE)
            .map_err(|e| fs_error("store file", path, e))
            .and_then(|file| body.copy_to_file(&file).map_err(|e| e.context(format!("store file `{path}`"))));
        let outcome = match written {
            Ok(n) if n != size => Err(Error::invalid_input(format!(
                "store file `{path}`: the body yielded {n} bytes, {size} were announced"
            ))),
            Ok(_) => self.root.rename_at(&temp, &self.root, path).map_err(|e| fs_error("store file", path, e)),
            Err(e) => Err(e),
        };
        if outcome.is_err() {
            let _ = self.root.unlink_file_at(&temp);
        }
        outcome
    }

    fn create_symlink(&self, path: &str, target: &str) -> Result<()> {
        let path = relative_path(path)?;
        match self.root.unlink_file_at(path) {
            Ok(()) | Err(ErrorCode::NoEntry) => {}
            Err(e) => return Err(fs_error("create symlink", path, e)),
        }
        self.root.symlink_at(target, path).map_err(|e| match e {
            // WASI refuses links that point outside the directory (absolute, or `..` past the
            // root): say so rather than a bare "permission denied".
            ErrorCode::NotPermitted | ErrorCode::Access => Error::permission_denied(format!(
                "create symlink `{path}` -> `{target}`: the sandbox allows only links that stay inside the destination"
            )),
            e => fs_error("create symlink", path, e),
        })
    }

    fn set_metadata(&self, path: &str, metadata: Metadata) -> Result<()> {
        let target = if path.is_empty() { "." } else { relative_path(path)? };
        let time = |ns: Option<u64>| match ns {
            Some(ns) => NewTimestamp::Timestamp(warden_sdk::wasip2::filesystem::types::Datetime {
                seconds: ns / 1_000_000_000,
                nanoseconds: (ns % 1_000_000_000) as u32,
            }),
            None => NewTimestamp::NoChange,
        };
        if metadata.mtime_ns.is_none() && metadata.atime_ns.is_none() {
            return Ok(());
        }
        // WASI 0.2 cannot set permission bits: `mode` is skipped.
        self.root
            .set_times_at(PathFlags::empty(), target, time(metadata.atime_ns), time(metadata.mtime_ns))
            .map_err(|e| fs_error("set times", path, e))
    }

    fn finish(&self) -> Result<()> {
        // Best effort: some filesystems refuse a directory sync.
        let _ = self.root.sync();
        Ok(())
    }
}
