//! What `export_plugin!` exports for the kinds a plugin leaves out: every `open` fails with
//! `unsupported`, so no other method is ever called.

use wasip2::io::streams::InputStream;

use crate::config::Config;
use crate::exporter::{Exporter, Metadata};
use crate::importer::{Importer, Scan, ScanItem};
use crate::io::{Body, GetBody};
use crate::store::{FileInfo, FileKind, Store};
use crate::target::Target;
use crate::types::{ByteRange, Error, Features, Key, ListPage, ObjectMeta, PutOptions, Result};

/// A kind this plugin does not implement.
#[doc(hidden)]
pub struct Unsupported;

fn refuse<T>() -> Result<T> {
    Err(Error::unsupported("this plugin does not implement this kind (see `kinds` in its manifest)"))
}

impl Target for Unsupported {
    fn open(_config: Config) -> Result<Self> {
        refuse()
    }
    fn features(&self) -> Features {
        Features::default()
    }
    fn put(&self, _key: &Key, _body: Body<'_>, _options: PutOptions) -> Result<ObjectMeta> {
        refuse()
    }
    fn get(&self, _key: &Key, _range: Option<ByteRange>) -> Result<GetBody> {
        refuse()
    }
    fn head(&self, _key: &Key) -> Result<ObjectMeta> {
        refuse()
    }
    fn list(&self, _prefix: &str, _cursor: Option<&str>, _limit: u32) -> Result<ListPage> {
        refuse()
    }
    fn delete(&self, _key: &Key) -> Result<()> {
        refuse()
    }
}

impl Store for Unsupported {
    fn open(_config: Config) -> Result<Self> {
        refuse()
    }
    fn location(&self) -> String {
        String::new()
    }
    fn create(&self) -> Result<()> {
        refuse()
    }
    fn list(&self, _kind: FileKind) -> Result<Vec<FileInfo>> {
        refuse()
    }
    fn put(&self, _kind: FileKind, _id: &str, _body: Body<'_>, _size: u64) -> Result<()> {
        refuse()
    }
    fn get(&self, _kind: FileKind, _id: &str, _range: Option<ByteRange>) -> Result<(u64, InputStream)> {
        refuse()
    }
    fn delete(&self, _kind: FileKind, _id: &str) -> Result<()> {
        refuse()
    }
}

impl Scan for Unsupported {
    fn next(&mut self, _max: u32) -> Result<Vec<ScanItem>> {
        refuse()
    }
}

impl Importer for Unsupported {
    type Scan = Unsupported;
    fn open(_config: Config) -> Result<Self> {
        refuse()
    }
    fn origin(&self) -> String {
        String::new()
    }
    fn scan(&self) -> Result<Self::Scan> {
        refuse()
    }
    fn read(&self, _path: &str) -> Result<InputStream> {
        refuse()
    }
}

impl Exporter for Unsupported {
    fn open(_config: Config) -> Result<Self> {
        refuse()
    }
    fn origin(&self) -> String {
        String::new()
    }
    fn create_directory(&self, _path: &str) -> Result<()> {
        refuse()
    }
    fn store_file(&self, _path: &str, _body: Body<'_>, _size: u64) -> Result<()> {
        refuse()
    }
    fn create_symlink(&self, _path: &str, _target: &str) -> Result<()> {
        refuse()
    }
    fn set_metadata(&self, _path: &str, _metadata: Metadata) -> Result<()> {
        refuse()
    }
}
