//! The host-side handle on an importer plugin (a backup source): a scan in batches and
//! streamed file reads, each on an instance leased for its duration.
//!
//! These calls are synchronous: they run on the backup engine's threads (never the tokio
//! runtime's own), entering the runtime's context for the plugin's futures.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use tokio::runtime::Handle;
use wasmtime::component::{Resource, ResourceAny};
use wasmtime_wasi::p2::{DynInputStream, StreamError};

pub use crate::bindings::v0_1::importer::{Entry, EntryError, EntryKind, ScanItem};
use crate::error::{Error, Result};
use crate::plugin::{Kind, Plugin};
use crate::pool::{CallError, Lease, Pool, block_on_watched, watch_of, watched};
use crate::runtime::Runtime;
use crate::target::BLOCK;

/// Most items the host asks a scan for at once.
pub const SCAN_BATCH: u32 = 512;

/// A configured backup source served by an importer plugin. Cheap to clone.
#[derive(Clone)]
pub struct Importer {
    pool: Arc<Pool>,
    runtime: Handle,
}

impl Importer {
    /// Open a source named `name` on `plugin` with the operator's settings; its directories
    /// are granted read-only and it gets no network, whatever its manifest asks.
    pub fn open(
        runtime: &Runtime,
        plugin: Plugin,
        name: &str,
        settings: &BTreeMap<String, String>,
        handle: Handle,
    ) -> Result<Importer> {
        Ok(Importer { pool: Arc::new(Pool::new(runtime, plugin, Kind::Importer, name, settings)?), runtime: handle })
    }

    /// The plugin serving it.
    pub fn plugin(&self) -> &Plugin {
        &self.pool.plugin
    }

    /// The plugin's line naming what it reads.
    pub fn origin(&self) -> Result<String> {
        let _entered = self.runtime.enter();
        let mut lease = self.pool.lease("origin", true)?;
        lease.call("origin", None, |inst| {
            let w = watch_of(&inst.store);
            let g = inst.bindings.importer().source();
            let fut = g.call_origin(&mut inst.store, inst.session);
            Ok(watched(w, fut)??)
        })
    }

    /// Start a walk over the source, on an instance of its own.
    pub fn scan(&self) -> Result<ScanCursor> {
        let _entered = self.runtime.enter();
        let mut lease = self.pool.lease("scan", false)?;
        let scan = lease.call("scan", None, |inst| {
            let w = watch_of(&inst.store);
            let g = inst.bindings.importer().source();
            let fut = g.call_scan(&mut inst.store, inst.session);
            watched(w, fut)??.map_err(CallError::Plugin)
        })?;
        Ok(ScanCursor { lease, scan, runtime: self.runtime.clone(), done: false })
    }

    /// Stream the file at `path` (as the scan gave it).
    pub fn read(&self, path: &str) -> Result<FileReader> {
        let _entered = self.runtime.enter();
        let mut lease = self.pool.lease("read", true)?;
        let stream = lease.call("read", Some(path), |inst| {
            let w = watch_of(&inst.store);
            let g = inst.bindings.importer().source();
            let fut = g.call_read(&mut inst.store, inst.session, path);
            watched(w, fut)??.map_err(CallError::Plugin)
        })?;
        Ok(FileReader {
            lease,
            stream: Some(stream),
            path: path.to_string(),
            pending: Bytes::new(),
            runtime: self.runtime.clone(),
        })
    }
}

/// A walk over a source, batch by batch.
pub struct ScanCursor {
    lease: Lease,
    scan: ResourceAny,
    runtime: Handle,
    done: bool,
}

impl ScanCursor {
    /// The next batch of items; empty when the scan is complete.
    pub fn next_batch(&mut self) -> Result<Vec<ScanItem>> {
        if self.done {
            return Ok(Vec::new());
        }
        let _entered = self.runtime.enter();
        let scan = self.scan;
        let plugin = self.lease.plugin().to_string();
        let items = self.lease.call("scan", None, |inst| {
            let w = watch_of(&inst.store);
            let g = inst.bindings.importer().scan();
            let fut = g.call_next(&mut inst.store, scan, SCAN_BATCH);
            let items = watched(w, fut)??.map_err(CallError::Plugin)?;
            if items.len() > SCAN_BATCH as usize {
                return Err(CallError::Host(Error::Contract {
                    plugin,
                    op: "scan",
                    detail: format!("it returned {} items when asked for at most {SCAN_BATCH}", items.len()),
                }));
            }
            // Progress for the deadline watch: a scan moves entries, not bytes.
            inst.store.data().watch.bytes.fetch_add(items.len() as u64, Ordering::Relaxed);
            Ok(items)
        })?;
        self.done = items.is_empty();
        Ok(items)
    }
}

/// A file's content as the plugin streams it.
pub struct FileReader {
    lease: Lease,
    stream: Option<Resource<DynInputStream>>,
    path: String,
    pending: Bytes,
    runtime: Handle,
}

impl FileReader {
    /// Give the stream back to the plugin's instance, so the instance can serve again.
    fn release(&mut self) {
        if let Some(stream) = self.stream.take() {
            let _entered = self.runtime.enter();
            let _ = self.lease.call("read", Some(&self.path), |inst| {
                let _ = inst.store.data_mut().table.delete(stream);
                Ok(())
            });
        }
    }
}

impl FileReader {
    /// The stream's next chunk; `None` at its end.
    fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        let Some(stream) = &self.stream else { return Ok(None) };
        let stream = Resource::<DynInputStream>::new_borrow(stream.rep());
        let _entered = self.runtime.enter();
        let plugin = self.lease.plugin().to_string();
        let path = self.path.clone();
        let chunk = self.lease.call("read", Some(&self.path), |inst| {
            let (moved, idle) = watch_of(&inst.store);
            let input = inst.store.data_mut().table.get_mut(&stream).map_err(|e| {
                CallError::Host(Error::Runtime { plugin: plugin.clone(), op: "read", detail: e.to_string() })
            })?;
            match block_on_watched(moved.clone(), idle, input.blocking_read(BLOCK)) {
                None => Err(CallError::Stalled),
                Some(Ok(bytes)) => {
                    moved.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    Ok(Some(bytes))
                }
                Some(Err(StreamError::Closed)) => Ok(None),
                Some(Err(StreamError::LastOperationFailed(e) | StreamError::Trap(e))) => {
                    Err(CallError::Host(Error::BodyFailed { plugin, key: path, after: 0, detail: format!("{e:#}") }))
                }
            }
        });
        if !matches!(chunk, Ok(Some(_))) {
            self.release();
        }
        chunk
    }
}

impl Read for FileReader {
    /// Fills `buf` whole unless the file ends: readers such as rustic_core's chunker shrink
    /// their buffer to a short read's length, so short reads would cost dearly.
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            if self.pending.is_empty() {
                match self.next_chunk() {
                    Ok(Some(bytes)) => self.pending = bytes,
                    Ok(None) => break,
                    Err(e) => return Err(std::io::Error::other(e)),
                }
                continue;
            }
            let n = self.pending.len().min(buf.len() - filled);
            buf[filled..filled + n].copy_from_slice(&self.pending[..n]);
            bytes::Buf::advance(&mut self.pending, n);
            filled += n;
        }
        Ok(filled)
    }
}

impl Drop for FileReader {
    fn drop(&mut self) {
        self.release();
    }
}
