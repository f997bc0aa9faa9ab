//! The host-side handle on an exporter plugin (a restore destination). Every instance opens
//! its own destination over the same location, so calls run side by side on the pool.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

pub use crate::bindings::v0_1::exporter::Metadata;
use crate::error::{Error, Result};
use crate::plugin::{Kind, Plugin};
use crate::pool::{CallError, Pool, lend_reader, watch_of, watched};
use crate::runtime::Runtime;

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
                let (outcome, source_failed) = lend_reader(inst, "store-file", body, |inst, stream| {
                    let w = watch_of(&inst.store);
                    let g = inst.bindings.exporter().destination();
                    watched(w, g.call_store_file(&mut inst.store, inst.session, &p, stream, size))
                })?;
                if let Some(e) = source_failed {
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
