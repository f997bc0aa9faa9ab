//! A pool of instances of one configured plugin: each instance has its own store and an
//! open session; calls run on blocking threads under deadlines, traps throw an instance away,
//! and retryable failures are retried with backoff. The target, importer and exporter
//! handles are thin layers over it.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::{Resource, ResourceAny};
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::p2::DynInputStream;

use crate::bindings::v0_1;
use crate::capability::Grants;
use crate::capability::log::{LogBudget, sanitize};
use crate::error::{Error, ErrorClass, Result, TrapReason};
use crate::plugin::{Kind, Plugin};
use crate::runtime::{EPOCH_TICK, PluginState, Runtime};
use crate::target::RetryPolicy;
use crate::target::stream::{ReaderStream, SourceError};

/// Epoch ticks between two progress checks of a running call (100 ms).
const CHECK_TICKS: u64 = 10;
/// Longest plugin-supplied message the host passes on.
const MAX_MESSAGE: usize = 2048;

/// The instances of one configured plugin, serving one kind.
pub(crate) struct Pool {
    pub(crate) name: String,
    pub(crate) plugin: Plugin,
    kind: Kind,
    pub(crate) runtime: Runtime,
    settings: Vec<(String, String)>,
    pub(crate) grants: Grants,
    pub(crate) retry: RetryPolicy,
    idle: Mutex<Vec<Instance>>,
    permits: Arc<Semaphore>,
}

/// An instance held for a sequence of calls (see [`Pool::lease`]).
pub(crate) struct Lease {
    pool: Arc<Pool>,
    instance: Option<Instance>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Lease {
    /// Make one call on the leased instance, on this thread. After a trap the instance is
    /// gone and every further call fails.
    pub(crate) fn call<R>(
        &mut self,
        op: &'static str,
        key: Option<&str>,
        f: impl FnOnce(&mut Instance) -> CallResult<R>,
    ) -> Result<R> {
        let Some(instance) = self.instance.as_mut() else {
            return Err(self.pool.runtime_error(op, "the plugin instance was stopped by an earlier failure"));
        };
        instance.store.data_mut().watch.start_call();
        instance.store.set_epoch_deadline(CHECK_TICKS);
        let result = f(instance);
        let tripped = instance.store.data().watch.tripped;
        let (outcome, keep) = self.pool.settle(op, key, tripped, result);
        if !keep {
            self.instance = None;
        }
        outcome
    }

    /// The plugin's name.
    pub(crate) fn plugin(&self) -> &str {
        self.pool.plugin.name()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Back to the pool before the permit goes, so the next caller finds it.
        if let Some(permit) = self.permit.take() {
            self.pool.recycle(self.instance.take());
            drop(permit);
        }
    }
}

/// The bindings of an instance, by the kind it serves.
pub(crate) enum Bindings {
    Target(v0_1::TargetPlugin),
    Store(v0_1::store::StorePlugin),
    Importer(v0_1::importer::ImporterPlugin),
    Exporter(v0_1::exporter::ExporterPlugin),
}

/// One plugin instance with its open session.
pub(crate) struct Instance {
    pub(crate) store: Store<PluginState>,
    pub(crate) bindings: Bindings,
    pub(crate) session: ResourceAny,
}

// The pool opens every instance of a pool with the kind it was made for, so the bindings
// always match the handle that asks for them.
const WRONG_KIND: &str = "a pool's instances all serve the pool's kind";

impl Bindings {
    pub(crate) fn target(&self) -> &v0_1::exports::warden::plugin::target::Guest {
        match self {
            Bindings::Target(b) => b.warden_plugin_target(),
            _ => unreachable!("{WRONG_KIND}"),
        }
    }

    pub(crate) fn store(&self) -> &v0_1::store::exports::warden::plugin::store::Guest {
        match self {
            Bindings::Store(b) => b.warden_plugin_store(),
            _ => unreachable!("{WRONG_KIND}"),
        }
    }

    pub(crate) fn importer(&self) -> &v0_1::importer::exports::warden::plugin::importer::Guest {
        match self {
            Bindings::Importer(b) => b.warden_plugin_importer(),
            _ => unreachable!("{WRONG_KIND}"),
        }
    }

    pub(crate) fn exporter(&self) -> &v0_1::exporter::exports::warden::plugin::exporter::Guest {
        match self {
            Bindings::Exporter(b) => b.warden_plugin_exporter(),
            _ => unreachable!("{WRONG_KIND}"),
        }
    }
}

/// How a call into a plugin failed.
pub(crate) enum CallError {
    /// The instance trapped or was stopped: it must be thrown away.
    Trap(wasmtime::Error),
    /// The watchdog stopped a call that made no progress: the instance must be thrown away.
    Stalled,
    /// The plugin returned a typed error.
    Plugin(v0_1::WitError),
    /// The host failed (a sink, a body, a contract check).
    Host(Error),
}

impl From<wasmtime::Error> for CallError {
    fn from(e: wasmtime::Error) -> Self {
        CallError::Trap(e)
    }
}

pub(crate) type CallResult<T> = std::result::Result<T, CallError>;

impl Pool {
    /// A pool for `plugin` serving `kind`, configured as `name` with the operator's settings.
    /// Checks the settings against the plugin's schema and resolves its grants; instances
    /// start lazily.
    pub(crate) fn new(
        runtime: &Runtime,
        plugin: Plugin,
        kind: Kind,
        name: &str,
        settings: &BTreeMap<String, String>,
    ) -> Result<Pool> {
        if !plugin.implements(kind) {
            return Err(plugin.not_a(kind));
        }
        let manifest = plugin.manifest();
        let full = manifest.check_config(settings).map_err(|reason| Error::Config {
            target: name.to_string(),
            plugin: manifest.name.clone(),
            reason,
        })?;
        let grants = Grants::resolve(name, manifest, &full)?.for_kind(kind);
        let secret = |k: &str| manifest.config.get(k).is_some_and(|c| c.secret);
        let settings = full.into_iter().filter(|(k, _)| !secret(k)).collect();
        let pool =
            runtime.limits().instances_per_target.min(manifest.instances.map_or(usize::MAX, |n| n as usize)).max(1);
        Ok(Pool {
            name: name.to_string(),
            plugin,
            kind,
            runtime: runtime.clone(),
            settings,
            grants,
            retry: RetryPolicy::default(),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(pool)),
        })
    }

    /// Run a call, retrying retryable failures with backoff when `replayable`: `attempt`
    /// makes the call afresh for each try.
    pub(crate) async fn retrying<R, F>(
        self: &Arc<Self>,
        op: &'static str,
        key: &str,
        replayable: bool,
        attempt: impl Fn() -> F,
    ) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Instance) -> CallResult<R> + Send + 'static,
    {
        let mut retry = 0;
        loop {
            match self.call(op, Some(key), attempt()).await {
                Err(e) if replayable && e.is_retryable() && retry + 1 < self.retry.max_attempts => {
                    self.backoff(op, key, retry, &e).await;
                    retry += 1;
                }
                other => return other,
            }
        }
    }

    async fn backoff(&self, op: &str, key: &str, retry: u32, e: &Error) {
        let after = match e {
            Error::Plugin { retry_after, .. } => *retry_after,
            _ => None,
        };
        let delay = self.retry.delay(retry, after);
        tracing::info!(target = %self.name, "{op} `{key}` failed ({}); retrying in {delay:?}", e.class());
        tokio::time::sleep(delay).await;
    }

    /// Run `f` on an instance from the pool, on a thread that may block, and map failures.
    pub(crate) async fn call<R, F>(self: &Arc<Self>, op: &'static str, key: Option<&str>, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Instance) -> CallResult<R> + Send + 'static,
    {
        let _permit = self.permits.acquire().await.map_err(|_| self.runtime_error(op, "the pool is closed"))?;
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let inner = self.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut instance = match pooled {
                Some(i) => i,
                None => match inner.instantiate() {
                    Ok(i) => i,
                    Err(e) => return (None, Err(e)),
                },
            };
            instance.store.data_mut().watch.start_call();
            instance.store.set_epoch_deadline(CHECK_TICKS);
            let result = f(&mut instance);
            (Some(instance), Ok(result))
        })
        .await;
        let (instance, result) =
            joined.map_err(|e| self.runtime_error(op, &format!("the call's thread failed: {e}")))?;
        let result = match result {
            Err(open_error) => return Err(open_error),
            Ok(r) => r,
        };
        let tripped = instance.as_ref().is_some_and(|i| i.store.data().watch.tripped);
        let (outcome, keep) = self.settle(op, key, tripped, result);
        if keep {
            self.recycle(instance);
        }
        outcome
    }

    /// A call's outcome as the host reports it, and whether the instance stays in service.
    fn settle<R>(
        &self,
        op: &'static str,
        key: Option<&str>,
        tripped: bool,
        result: CallResult<R>,
    ) -> (Result<R>, bool) {
        let key = key.map(str::to_string);
        match result {
            Ok(value) => (Ok(value), true),
            Err(CallError::Plugin(e)) => (Err(plugin_error(self.plugin.name(), op, key, e)), true),
            // The plugin returned normally (the host released what it lent or got), so the
            // instance and whatever state it holds stay in service.
            Err(CallError::Host(e)) => (Err(e), true),
            Err(CallError::Stalled) => (
                Err(Error::Trap {
                    plugin: self.plugin.name().to_string(),
                    op,
                    key,
                    reason: TrapReason::Deadline(self.runtime.limits().call_timeout),
                }),
                false,
            ),
            Err(CallError::Trap(e)) => (Err(trap_error(self, op, key, &e, tripped)), false),
        }
    }

    /// An instance of its own for a sequence of calls that share plugin state (a scan, a
    /// streamed read). Runs on the calling thread, which must be allowed to block and be
    /// inside the runtime's context (`Handle::enter`). A `pooled` lease counts against the
    /// pool's parallelism and goes back to the pool when dropped; an unpooled one is extra
    /// (so a long scan cannot starve the reads it drives) and is thrown away.
    pub(crate) fn lease(self: &Arc<Self>, op: &'static str, pooled: bool) -> Result<Lease> {
        let permit = if pooled {
            let acquire = self.permits.clone().acquire_owned();
            Some(Handle::current().block_on(acquire).map_err(|_| self.runtime_error(op, "the pool is closed"))?)
        } else {
            None
        };
        let idle = if pooled { self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() } else { None };
        let instance = match idle {
            Some(i) => i,
            None => self.instantiate()?,
        };
        Ok(Lease { pool: self.clone(), instance: Some(instance), permit })
    }

    fn recycle(&self, instance: Option<Instance>) {
        if let Some(instance) = instance {
            self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(instance);
        }
    }

    pub(crate) fn runtime_error(&self, op: &'static str, detail: &str) -> Error {
        Error::Runtime { plugin: self.plugin.name().to_string(), op, detail: detail.to_string() }
    }
    /// Make a fresh instance and open a session on it. Runs on a blocking thread.
    fn instantiate(&self) -> Result<Instance> {
        let plugin = self.plugin.name().clone();
        let limits = self.runtime.limits();
        let log = LogBudget::new(plugin.clone(), limits.log_bytes, limits.log_line_bytes);
        let wasi = self.grants.wasi_context(&plugin, &log)?;
        let hooks = self.grants.http_hooks(&plugin);
        let mut store = Store::new(self.runtime.engine(), PluginState::new(wasi, hooks, limits, log));
        store.limiter(|s| &mut s.limits);
        store.set_hostcall_fuel(limits.hostcall_fuel);
        store.epoch_deadline_callback(|mut ctx| {
            if ctx.data_mut().watch.check() {
                Ok(UpdateDeadline::Continue(CHECK_TICKS))
            } else {
                Err(wasmtime::Error::msg("the call made no progress within its deadline"))
            }
        });
        store.data_mut().watch.start_call();
        store.set_epoch_deadline(CHECK_TICKS);
        let handle = Handle::current();
        let trap = |e: wasmtime::Error, store: &Store<PluginState>| {
            trap_error(self, "open", None, &e, store.data().watch.tripped)
        };
        let config = self.settings.clone();
        let opened = match self.kind {
            Kind::Target => handle.block_on(async {
                let b = self.plugin.target_pre()?.instantiate_async(&mut store).await.map_err(|e| trap(e, &store))?;
                let opened = b.warden_plugin_target().session().call_open(&mut store, &config).await;
                Ok::<_, Error>((Bindings::Target(b), opened))
            }),
            Kind::Store => handle.block_on(async {
                let b = self.plugin.store_pre()?.instantiate_async(&mut store).await.map_err(|e| trap(e, &store))?;
                let opened = b.warden_plugin_store().repository().call_open(&mut store, &config).await;
                Ok((Bindings::Store(b), opened))
            }),
            Kind::Importer => handle.block_on(async {
                let b = self.plugin.importer_pre()?.instantiate_async(&mut store).await.map_err(|e| trap(e, &store))?;
                let opened = b.warden_plugin_importer().source().call_open(&mut store, &config).await;
                Ok((Bindings::Importer(b), opened))
            }),
            Kind::Exporter => handle.block_on(async {
                let b = self.plugin.exporter_pre()?.instantiate_async(&mut store).await.map_err(|e| trap(e, &store))?;
                let opened = b.warden_plugin_exporter().destination().call_open(&mut store, &config).await;
                Ok((Bindings::Exporter(b), opened))
            }),
        };
        let (bindings, opened) = opened?;
        match opened {
            Ok(Ok(session)) => Ok(Instance { store, bindings, session }),
            Ok(Err(e)) => Err(plugin_error(&plugin, "open", None, e)),
            Err(e) => Err(trap(e, &store)),
        }
    }
}

/// Lend `reader` to a plugin call as an `input-stream` that reads large blocks inline:
/// `call` gets a borrow of it, and the stream is taken back from the instance afterwards.
/// Returns the call's outcome and the failure of `reader` itself, if it failed (the real
/// cause when the plugin saw a broken stream).
pub(crate) fn lend_reader<R>(
    inst: &mut Instance,
    op: &'static str,
    reader: Box<dyn std::io::Read + Send>,
    call: impl FnOnce(&mut Instance, Resource<DynInputStream>) -> R,
) -> CallResult<(R, Option<std::io::Error>)> {
    let source_error = SourceError::default();
    let moved = inst.store.data().watch.bytes.clone();
    let stream: DynInputStream = Box::new(ReaderStream::new(reader, moved, source_error.clone()));
    let owned = inst.store.data_mut().table.push(stream).map_err(|e| {
        CallError::Host(Error::Runtime {
            plugin: inst.store.data().log.plugin().to_string(),
            op,
            detail: e.to_string(),
        })
    })?;
    let outcome = call(inst, Resource::new_borrow(owned.rep()));
    let _ = inst.store.data_mut().table.delete(owned);
    Ok((outcome, source_error.take()))
}

/// Drive a call's future on this (blocking) thread, stopping it when it makes no progress
/// for the idle limit while waiting in the host (wasm itself is stopped by epochs).
pub(crate) fn watched<F: Future>(watch: Watch, fut: F) -> CallResult<F::Output> {
    block_on_watched(watch.0, watch.1, fut).ok_or(CallError::Stalled)
}

/// A call's progress counter and idle limit, taken before the call borrows the store.
pub(crate) type Watch = (Arc<AtomicU64>, Duration);

pub(crate) fn watch_of(store: &Store<PluginState>) -> Watch {
    let watch = &store.data().watch;
    (watch.bytes.clone(), watch.idle_limit())
}

pub(crate) fn block_on_watched<F: Future>(moved: Arc<AtomicU64>, idle: Duration, fut: F) -> Option<F::Output> {
    Handle::current().block_on(async move {
        tokio::pin!(fut);
        let mut seen = moved.load(Ordering::Relaxed);
        let mut since = Instant::now();
        let tick = Duration::from_millis(250).min(idle);
        loop {
            tokio::select! {
                out = &mut fut => return Some(out),
                _ = tokio::time::sleep(tick) => {
                    let now = moved.load(Ordering::Relaxed);
                    if now != seen {
                        seen = now;
                        since = Instant::now();
                    } else if since.elapsed() >= idle {
                        return None;
                    }
                }
            }
        }
    })
}

pub(crate) fn plugin_error(plugin: &str, op: &'static str, key: Option<String>, e: v0_1::WitError) -> Error {
    use v0_1::WitError as W;
    let (class, message, retry_after) = match e {
        W::NotFound(m) => (ErrorClass::NotFound, m, None),
        W::AlreadyExists(m) => (ErrorClass::AlreadyExists, m, None),
        W::InvalidInput(m) => (ErrorClass::InvalidInput, m, None),
        W::Unauthenticated(m) => (ErrorClass::Unauthenticated, m, None),
        W::PermissionDenied(m) => (ErrorClass::PermissionDenied, m, None),
        W::RateLimited(r) => {
            (ErrorClass::RateLimited, r.message, r.retry_after_seconds.map(|s| Duration::from_secs(s.into())))
        }
        W::Unavailable(m) => (ErrorClass::Unavailable, m, None),
        W::Corrupt(m) => (ErrorClass::Corrupt, m, None),
        W::Unsupported(m) => (ErrorClass::Unsupported, m, None),
        W::Other(m) => (ErrorClass::Other, m, None),
    };
    Error::Plugin { plugin: plugin.to_string(), op, key, class, message: sanitize(&message, MAX_MESSAGE), retry_after }
}

fn trap_error(inner: &Pool, op: &'static str, key: Option<String>, e: &wasmtime::Error, tripped: bool) -> Error {
    let limits = inner.runtime.limits();
    let text = format!("{e:#}");
    let reason = if tripped {
        TrapReason::Deadline(limits.call_timeout)
    } else if text.contains("forcing trap when growing memory") || text.contains("forcing a memory growth failure") {
        TrapReason::OutOfMemory { limit: limits.memory_bytes }
    } else if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        TrapReason::Crash(trap.to_string())
    } else {
        TrapReason::Crash(sanitize(text.lines().next().unwrap_or("unknown failure"), MAX_MESSAGE))
    };
    Error::Trap { plugin: inner.plugin.name().to_string(), op, key, reason }
}

// Epoch ticks are 10 ms; CHECK_TICKS ticks make the 100 ms check interval documented above.
const _: () = assert!(EPOCH_TICK.as_millis() * CHECK_TICKS as u128 == 100);
