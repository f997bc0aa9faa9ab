//! Warden: a WebAssembly component plugin host for backups.
//!
//! Plugins are wasm32-wasip2 components run in a wasmtime sandbox; each gets only what it
//! asks for in its manifest and the operator's configuration grants (see
//! [`capability`]). The map of the modules follows `DESIGN.md`:
//!
//! - [`runtime`]: the engine, compile cache, limits and per-instance state;
//! - [`plugin`]: manifests, loading, inspection, the built-in plugins;
//! - [`bindings`]: one module per supported WIT version;
//! - [`capability`]: one module per capability (filesystem, log);
//! - [`target`]: the host-side target handle (keys, pool, retries, streaming);
//! - [`conformance`]: the contract suite every target plugin must pass;
//! - [`config`]: the operator's configuration file of targets;
//! - [`secrets`]: credentials sealed at rest under a master key.

#![deny(missing_docs)]

pub mod bindings;
pub mod capability;
pub mod config;
pub mod conformance;
pub mod engine;
pub mod error;
pub mod exporter;
pub mod importer;
pub mod plugin;
mod pool;
pub mod runtime;
pub mod secrets;
pub mod store;
pub mod target;

pub use error::{Error, ErrorClass, Result};
