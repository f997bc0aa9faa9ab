//! The host-side handle on a store plugin: a backup repository's files in the plugin's own
//! layout. Files are whole pieces of ciphertext the engine produced; calls run side by side on
//! the pool (each instance opens its own repository), retried like a target's.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

pub use crate::bindings::v0_1::store::FileKind;
use crate::error::{Error, Result};
use crate::plugin::{Kind, Plugin};
use crate::pool::{CallError, Pool, block_on_watched, lend_reader, watch_of, watched};
use crate::runtime::Runtime;
use crate::target::stream::{ChunksReader, CountingWriter};
use crate::target::{ByteRange, CopyError, copy_stream};

/// A configured repository location served by a store plugin. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Arc<Pool>,
}

fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Config => "config",
        FileKind::Key => "key",
        FileKind::Snapshot => "snapshot",
        FileKind::Index => "index",
        FileKind::Pack => "pack",
        FileKind::Lock => "lock",
    }
}

/// How a file is named in messages: `pack 1f0c…`.
fn file_name(kind: FileKind, id: &str) -> String {
    if id.is_empty() { kind_name(kind).to_string() } else { format!("{} {id}", kind_name(kind)) }
}

impl Store {
    /// Open a store named `name` on `plugin` with the operator's settings.
    pub fn open(runtime: &Runtime, plugin: Plugin, name: &str, settings: &BTreeMap<String, String>) -> Result<Store> {
        Ok(Store { pool: Arc::new(Pool::new(runtime, plugin, Kind::Store, name, settings)?) })
    }

    /// The store's name (as configured).
    pub fn name(&self) -> &str {
        &self.pool.name
    }

    /// Make what a new repository needs.
    pub async fn create(&self) -> Result<()> {
        self.pool
            .retrying("create", "", true, || {
                |inst: &mut crate::pool::Instance| {
                    let w = watch_of(&inst.store);
                    let g = inst.bindings.store().repository();
                    let fut = g.call_create(&mut inst.store, inst.session);
                    watched(w, fut)??.map_err(CallError::Plugin)
                }
            })
            .await
    }

    /// Every file of `kind`: (id, size).
    pub async fn list(&self, kind: FileKind) -> Result<Vec<(String, u64)>> {
        let plugin = self.pool.plugin.name().to_string();
        let files = self
            .pool
            .retrying("list", kind_name(kind), true, || {
                move |inst: &mut crate::pool::Instance| {
                    let w = watch_of(&inst.store);
                    let g = inst.bindings.store().repository();
                    let fut = g.call_list(&mut inst.store, inst.session, kind);
                    watched(w, fut)??.map_err(CallError::Plugin)
                }
            })
            .await?;
        let valid = |id: &str| match kind {
            FileKind::Config => id.is_empty(),
            _ => id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        };
        if let Some(bad) = files.iter().find(|f| !valid(&f.id)) {
            return Err(Error::Contract {
                plugin,
                op: "list",
                detail: format!("it listed {:?} as a {} file, which is not such an id", bad.id, kind_name(kind)),
            });
        }
        Ok(files.into_iter().map(|f| (f.id, f.size)).collect())
    }

    /// Store a file from its pieces.
    pub async fn put(&self, kind: FileKind, id: &str, pieces: Vec<Bytes>) -> Result<()> {
        let size: u64 = pieces.iter().map(|p| p.len() as u64).sum();
        let name = file_name(kind, id);
        self.pool
            .retrying("put", &name, true, || {
                let (id, pieces) = (id.to_string(), pieces.clone());
                move |inst: &mut crate::pool::Instance| {
                    // Pieces in memory cannot fail to read: only the call's outcome counts.
                    let (outcome, _) = lend_reader(inst, "put", Box::new(ChunksReader::new(pieces)), |inst, body| {
                        let w = watch_of(&inst.store);
                        let g = inst.bindings.store().repository();
                        watched(w, g.call_put(&mut inst.store, inst.session, kind, &id, body, size))
                    })?;
                    outcome??.map_err(CallError::Plugin)
                }
            })
            .await
    }

    /// Read a file, or a range of it, into memory; the plugin's promised length is checked,
    /// and refused past `limit` before anything is read.
    pub async fn get(&self, kind: FileKind, id: &str, range: Option<ByteRange>, limit: u64) -> Result<Vec<u8>> {
        let name = file_name(kind, id);
        let plugin = self.pool.plugin.name().to_string();
        let got = self
            .pool
            .retrying("get", &name, true, || {
                let (id, name, plugin) = (id.to_string(), name.clone(), plugin.clone());
                move |inst: &mut crate::pool::Instance| {
                    let w = watch_of(&inst.store);
                    let g = inst.bindings.store().repository();
                    let fut = g.call_get(&mut inst.store, inst.session, kind, &id, range.map(Into::into));
                    let file = watched(w, fut)??.map_err(CallError::Plugin)?;
                    let promised_too_much = range.and_then(|r| r.length).is_some_and(|l| file.length > l);
                    if file.length > limit || promised_too_much {
                        let _ = inst.store.data_mut().table.delete(file.body);
                        return Err(CallError::Host(Error::Contract {
                            plugin: plugin.clone(),
                            op: "get",
                            detail: format!(
                                "it promised {} bytes for {name}, more than was asked or such a file can be",
                                file.length
                            ),
                        }));
                    }
                    let mut sink = Vec::new();
                    let (moved, idle) = watch_of(&inst.store);
                    let mut out = CountingWriter { inner: &mut sink, written: 0 };
                    let copied = match inst.store.data_mut().table.get_mut(&file.body) {
                        Ok(input) => {
                            block_on_watched(moved.clone(), idle, copy_stream(input, file.length, &mut out, &moved))
                        }
                        Err(e) => Some(Err(CopyError::Stream(e.to_string()))),
                    };
                    let _ = inst.store.data_mut().table.delete(file.body);
                    let broken = |detail: String| {
                        CallError::Host(Error::BodyFailed {
                            plugin: plugin.clone(),
                            key: name.clone(),
                            after: 0,
                            detail,
                        })
                    };
                    match copied {
                        None => Err(CallError::Stalled),
                        Some(Ok(n)) if n < file.length => Err(CallError::Host(Error::ShortBody {
                            plugin: plugin.clone(),
                            key: name.clone(),
                            expected: file.length,
                            got: n,
                        })),
                        Some(Ok(_)) => Ok(sink),
                        Some(Err(CopyError::Stream(d) | CopyError::Contract(d))) => Err(broken(d)),
                        Some(Err(CopyError::Sink(e))) => Err(broken(e.to_string())),
                        Some(Err(CopyError::Trap(e))) => Err(CallError::Trap(e)),
                    }
                }
            })
            .await?;
        Ok(got)
    }

    /// Remove what interrupted puts left behind, untouched for `idle_seconds`.
    pub async fn gc(&self, idle_seconds: u64) -> Result<u64> {
        self.pool
            .retrying("gc", "", true, || {
                move |inst: &mut crate::pool::Instance| {
                    let w = watch_of(&inst.store);
                    let g = inst.bindings.store().repository();
                    let fut = g.call_gc(&mut inst.store, inst.session, idle_seconds);
                    watched(w, fut)??.map_err(CallError::Plugin)
                }
            })
            .await
    }

    /// Remove a file; a missing file is fine.
    pub async fn delete(&self, kind: FileKind, id: &str) -> Result<()> {
        let name = file_name(kind, id);
        self.pool
            .retrying("delete", &name, true, || {
                let id = id.to_string();
                move |inst: &mut crate::pool::Instance| {
                    let w = watch_of(&inst.store);
                    let g = inst.bindings.store().repository();
                    let fut = g.call_delete(&mut inst.store, inst.session, kind, &id);
                    watched(w, fut)??.map_err(CallError::Plugin)
                }
            })
            .await
    }
}
