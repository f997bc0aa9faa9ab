//! The WebAssembly runtime: one wasmtime [`Engine`] per process, the compile cache, the
//! limits every plugin instance runs under, and the per-instance state.

mod cache;
mod limits;
mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

pub use cache::{CompileCache, write_atomically};
pub use limits::Limits;
pub use state::PluginState;

use crate::bindings::v0_1;
use crate::error::{Error, Result};

/// How often the engine's epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The process's WebAssembly runtime. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    engine: Engine,
    linker: Linker<PluginState>,
    cache: Option<CompileCache>,
    limits: Limits,
}

/// How to build a [`Runtime`].
///
/// Defaults: no compile cache (every load compiles), [`Limits::default`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeBuilder {
    cache_dir: Option<PathBuf>,
    limits: Limits,
}

impl RuntimeBuilder {
    /// Cache compiled plugins under this directory (created 0700 if missing).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// The limits every plugin instance runs under.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Build the runtime: configure the engine, link WASI and the Warden imports, and start
    /// the epoch ticker that enforces deadlines.
    pub fn build(self) -> Result<Runtime> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        // Bounded native stack for guest code: deep recursion traps instead of crashing us.
        config.max_wasm_stack(1 << 20);
        let engine = Engine::new(&config).map_err(|e| runtime_error("engine", e))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| runtime_error("link wasi", e))?;
        // wasi:http, enforced by each instance's hooks (capability::http); a plugin whose
        // manifest asks for no endpoint is refused at load if it imports it.
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| runtime_error("link wasi:http", e))?;
        // Only Warden's own interfaces: wasi:io is linked above, with the rest of WASI.
        v0_1::warden::plugin::types::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |s| s)
            .map_err(|e| runtime_error("link warden", e))?;
        v0_1::warden::plugin::log::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |s| s)
            .map_err(|e| runtime_error("link warden", e))?;
        let cache = match self.cache_dir {
            Some(dir) => match CompileCache::open(dir, &engine) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!("compile cache disabled: {e}");
                    None
                }
            },
            None => None,
        };
        start_epoch_ticker(&engine);
        Ok(Runtime { inner: Arc::new(RuntimeInner { engine, linker, cache, limits: self.limits }) })
    }
}

impl Runtime {
    /// A builder with the defaults.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The linker holding everything the host provides to plugins.
    pub fn linker(&self) -> &Linker<PluginState> {
        &self.inner.linker
    }

    /// The limits instances run under.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Compile a component, or load it from the cache when Warden compiled it before.
    /// `name` is used in errors only.
    pub fn compile(&self, name: &str, bytes: &[u8]) -> Result<Component> {
        match &self.inner.cache {
            Some(cache) => cache.load_or_compile(&self.inner.engine, name, bytes),
            None => compile_uncached(&self.inner.engine, name, bytes),
        }
    }
}

/// Compile without a cache.
pub(crate) fn compile_uncached(engine: &Engine, name: &str, bytes: &[u8]) -> Result<Component> {
    Component::new(engine, bytes).map_err(|e| Error::NotAComponent {
        source_name: name.to_string(),
        reason: format!("it does not compile: {}", first_line(&e)),
    })
}

fn first_line(e: &wasmtime::Error) -> String {
    format!("{e:#}").lines().next().unwrap_or_default().to_string()
}

fn runtime_error(what: &'static str, e: wasmtime::Error) -> Error {
    Error::Runtime { plugin: "-".into(), op: what, detail: format!("{e:#}") }
}

/// Advance the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("warden-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}
