//! The host-side handle on an exporter plugin (a restore destination). Every instance opens
//! its own destination over the same location, so calls run side by side on the pool.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime_wasi::p2::DynInputStream;

pub use crate::bindings::v0_1::exporter::Metadata;
use crate::error::{Error, Result};
use crate::plugin::{Kind, Plugin};
use crate::pool::{CallError, Pool, watch_of, watched};
use crate::runtime::Runtime;
use crate::target::stream::{ReaderStream, SourceError};

/// A configured restore destination served by an exporter plugin. Cheap to clone.
#[derive(Clone)]
pub struct Exporter {
    pool: Arc<Pool>,
}

impl Exporter {
    /// Open a destination named `name` on `plugin` with the operator's settings; it gets no
    /// network, whatever its manifest asks.
    pub fn open(
        runtime: &Runtime,
        plugin: Plugin,
        name: &str,
        settings: &BTreeMap<String, String>,
    ) -> Result<Exporter> {
        Ok(Exporter { pool: Arc::new(Pool::new(runtime, plugin, Kind::Exporter, name, settings)?) })
    }

    /// The plugin serving it.
    pub fn plugin(&self) -> &Plugin {
        &self.pool.plugin
    }

    /// The plugin's line naming where files go.
    pub async fn origin(&self) -> Result<String> {
        self.pool
            .call("origin", None, |inst| {
                let w = watch_of(&inst.store);
                let g = inst.bindings.exporter().destination();
                let fut = g.call_origin(&mut inst.store, inst.session);
                Ok(watched(w, fut)??)
            })
            .await
    }

    /// Create a directory (an existing one is fine).
    pub async fn create_directory(&self, path: &str) -> Result<()> {
        let p = path.to_string();
        self.pool
            .call("create-directory", Some(path), move |inst| {
                let w = watch_of(&inst.store);
                let g = inst.bindings.exporter().destination();
                let fut = g.call_create_directory(&mut inst.store, inst.session, &p);
                watched(w, fut)??.map_err(CallError::Plugin)
            })
            .await
    }

    /// Write a file of exactly `size` bytes from `body`.
    pub async fn store_file(&self, path: &str, body: Box<dyn Read + Send>, size: u64) -> Result<()> {
        let p = path.to_string();
        self.pool
            .call("store-file", Some(path), move |inst| {
                let plugin = inst.store.data().log.plugin().to_string();
                let source_error = SourceError::default();
                let moved = inst.store.data().watch.bytes.clone();
                let stream: DynInputStream = Box::new(ReaderStream::new(body, moved, source_error.clone()));
                let owned = inst.store.data_mut().table.push(stream).map_err(|e| {
                    CallError::Host(Error::Runtime { plugin: plugin.clone(), op: "store-file", detail: e.to_string() })
                })?;
                let borrowed = Resource::<DynInputStream>::new_borrow(owned.rep());
                let w = watch_of(&inst.store);
                let g = inst.bindings.exporter().destination();
                let fut = g.call_store_file(&mut inst.store, inst.session, &p, borrowed, size);
                let outcome = watched(w, fut);
                let _ = inst.store.data_mut().table.delete(owned);
                if let Some(e) = source_error.take() {
                    return Err(CallError::Host(Error::io(format!("reading the restored content of `{p}`"), "-", e)));
                }
                outcome??.map_err(CallError::Plugin)
            })
            .await
    }

    /// Create a symbolic link.
    pub async fn create_symlink(&self, path: &str, target: &str) -> Result<()> {
        let (p, t) = (path.to_string(), target.to_string());
        self.pool
            .call("create-symlink", Some(path), move |inst| {
                let w = watch_of(&inst.store);
                let g = inst.bindings.exporter().destination();
                let fut = g.call_create_symlink(&mut inst.store, inst.session, &p, &t);
                watched(w, fut)??.map_err(CallError::Plugin)
            })
            .await
    }

    /// Apply metadata to an entry already written.
    pub async fn set_metadata(&self, path: &str, metadata: Metadata) -> Result<()> {
        let p = path.to_string();
        self.pool
            .call("set-metadata", Some(path), move |inst| {
                let w = watch_of(&inst.store);
                let g = inst.bindings.exporter().destination();
                let fut = g.call_set_metadata(&mut inst.store, inst.session, &p, metadata);
                watched(w, fut)??.map_err(CallError::Plugin)
            })
            .await
    }

    /// Everything is written.
    pub async fn finish(&self) -> Result<()> {
        self.pool
            .call("finish", None, |inst| {
                let w = watch_of(&inst.store);
                let g = inst.bindings.exporter().destination();
                let fut = g.call_finish(&mut inst.store, inst.session);
                watched(w, fut)??.map_err(CallError::Plugin)
            })
            .await
    }
}
