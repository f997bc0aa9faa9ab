//! The Target->Store adapter: a restic repository laid out on any target plugin, served to
//! rustic_core as its backend.
//!
//! Layout (restic's): `config`, `keys/<id>`, `snapshots/<id>`, `index/<id>`,
//! `data/<id[..2]>/<id>`, `locks/<id>`, all under an optional key prefix. rustic_core calls the
//! backend synchronously from many threads at once; each call blocks its (rustic) thread on
//! the host's tokio runtime, and the target's instance pool serves the calls side by side.

use std::sync::Arc;

use bytes::Bytes;
use rustic_core::{BytesList, ErrorKind, FileType, Id, ReadBackend, RusticError, RusticResult, WriteBackend};
use tokio::runtime::Handle;

use crate::error::{Error, ErrorClass};
use crate::target::{Body, ByteRange, PutOptions, Target};

/// A restic repository under `prefix` on a target.
#[derive(Clone)]
pub struct TargetBackend {
    target: Target,
    prefix: String,
    runtime: Handle,
}

impl std::fmt::Debug for TargetBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TargetBackend({})", self.location())
    }
}

/// The directory (key prefix) of each kind of repository file.
pub(crate) fn dirname(tpe: FileType) -> &'static str {
    tpe.dirname()
}

impl TargetBackend {
    /// A repository under `prefix` (empty, or ending in `/`) on `target`. Calls run on
    /// `runtime`; they must come from threads that are not that runtime's own workers.
    pub fn new(target: Target, prefix: &str, runtime: Handle) -> TargetBackend {
        let mut prefix = prefix.trim_matches('/').to_string();
        if !prefix.is_empty() {
            prefix.push('/');
        }
        TargetBackend { target, prefix, runtime }
    }

    /// The target holding the repository.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// How the operator names this repository: the target, and the prefix if any.
    pub fn location_name(&self) -> String {
        if self.prefix.is_empty() {
            self.target.name().to_string()
        } else {
            format!("{}:{}", self.target.name(), self.prefix)
        }
    }

    /// The key prefix of the repository (empty, or ending in `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key of a repository file.
    pub fn key(&self, tpe: FileType, id: &Id) -> String {
        let hex = id.to_hex();
        let hex = hex.as_str();
        match tpe {
            FileType::Config => format!("{}config", self.prefix),
            FileType::Pack => format!("{}data/{}/{hex}", self.prefix, &hex[..2]),
            other => format!("{}{}/{hex}", self.prefix, dirname(other)),
        }
    }

    /// Run a target call from a rustic_core thread.
    pub(crate) fn block_on<T: Send>(&self, fut: impl std::future::Future<Output = T> + Send) -> T {
        match Handle::try_current() {
            // Called from inside the runtime's context, where blocking on it is not allowed:
            // wait on a thread of its own.
            Ok(_) => std::thread::scope(|s| {
                s.spawn(|| self.runtime.block_on(fut)).join().unwrap_or_else(|p| std::panic::resume_unwind(p))
            }),
            Err(_) => self.runtime.block_on(fut),
        }
    }

    /// Every object under `dir/` with its size, by id; names that are not ids are skipped.
    fn list_ids(&self, dir: &str) -> Result<Vec<(Id, u64)>, Error> {
        let objects = self.block_on(self.target.list_all(&format!("{}{dir}/", self.prefix)))?;
        Ok(objects
            .into_iter()
            .filter_map(|o| {
                let name = o.key.rsplit('/').next()?;
                (name.len() == 64).then(|| name.parse::<Id>().ok().map(|id| (id, o.size))).flatten()
            })
            .collect())
    }
}

/// rustic_core's error for a failed target call, keeping ours as the source so the CLI can
/// recover its class and message.
pub(crate) fn to_rustic(op: &str, key: &str, e: Error) -> Box<RusticError> {
    RusticError::with_source(ErrorKind::Backend, format!("{op} `{key}` failed"), e)
}

fn size_u32(key: &str, size: u64) -> RusticResult<u32> {
    u32::try_from(size).map_err(|_| {
        RusticError::new(ErrorKind::Backend, format!("`{key}` is {size} bytes, larger than a repository file can be"))
    })
}

impl ReadBackend for TargetBackend {
    fn location(&self) -> String {
        self.location_name()
    }

    fn list_with_size(&self, tpe: FileType) -> RusticResult<Vec<(Id, u32)>> {
        if tpe == FileType::Config {
            let key = format!("{}config", self.prefix);
            return match self.block_on(self.target.head(&key)) {
                Ok(meta) => Ok(vec![(Id::default(), size_u32(&key, meta.size)?)]),
                Err(e) if e.class() == ErrorClass::NotFound => Ok(Vec::new()),
                Err(e) => Err(to_rustic("head", &key, e)),
            };
        }
        let dir = dirname(tpe);
        let ids = self.list_ids(dir).map_err(|e| to_rustic("list", &format!("{}{dir}/", self.prefix), e))?;
        ids.into_iter().map(|(id, size)| Ok((id, size_u32(dir, size)?))).collect()
    }

    fn read_full(&self, tpe: FileType, id: &Id) -> RusticResult<Bytes> {
        let key = self.key(tpe, id);
        let bytes = self.block_on(self.target.get_bytes(&key, None)).map_err(|e| to_rustic("get", &key, e))?;
        Ok(bytes.into())
    }

    fn read_partial(&self, tpe: FileType, id: &Id, _cacheable: bool, offset: u32, length: u32) -> RusticResult<Bytes> {
        let key = self.key(tpe, id);
        let range = ByteRange { offset: offset.into(), length: Some(length.into()) };
        let bytes = self.block_on(self.target.get_bytes(&key, Some(range))).map_err(|e| to_rustic("get", &key, e))?;
        if bytes.len() != length as usize {
            return Err(RusticError::new(
                ErrorKind::Backend,
                format!(
                    "`{key}` is shorter than the index says ({} of {length} bytes at offset {offset}); the repository may be damaged: run `warden check`",
                    bytes.len()
                ),
            ));
        }
        Ok(bytes.into())
    }

    fn warmup_path(&self, tpe: FileType, id: &Id) -> String {
        self.key(tpe, id)
    }
}

impl WriteBackend for TargetBackend {
    fn write_bytes(&self, tpe: FileType, id: &Id, _cacheable: bool, content: BytesList) -> RusticResult<()> {
        let key = self.key(tpe, id);
        let body = Body::Chunks(content.into_vec());
        self.block_on(self.target.put(&key, body, PutOptions::default())).map_err(|e| to_rustic("put", &key, e))?;
        Ok(())
    }

    fn remove(&self, tpe: FileType, id: &Id, _cacheable: bool) -> RusticResult<()> {
        let key = self.key(tpe, id);
        self.block_on(self.target.delete(&key)).map_err(|e| to_rustic("delete", &key, e))
    }
}

/// The backend as rustic_core takes it.
pub fn as_rustic(backend: TargetBackend) -> Arc<dyn WriteBackend> {
    Arc::new(backend)
}
