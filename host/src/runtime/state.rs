//! The state each plugin instance's `Store` holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::Limits;
use crate::capability::http::HttpHooks;
use crate::capability::log::LogBudget;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Everything one plugin instance can reach through the host, and the host's bookkeeping
/// about it.
pub struct PluginState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) log: LogBudget,
    pub(crate) watch: ProgressWatch,
    http_ctx: WasiHttpCtx,
    http_hooks: HttpHooks,
}

impl PluginState {
    /// State for one instance with the given WASI context.
    pub(crate) fn new(wasi: WasiCtx, http_hooks: HttpHooks, limits: &Limits, log: LogBudget) -> Self {
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.max_resources);
        PluginState {
            wasi,
            table,
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .instances(64)
                .tables(64)
                .table_elements(1 << 20)
                .memories(8)
                .trap_on_grow_failure(true)
                .build(),
            log,
            watch: ProgressWatch::new(limits.call_timeout),
            http_ctx: {
                // Headers and trailers a plugin can make the host hold, set explicitly.
                let mut ctx = WasiHttpCtx::new();
                ctx.set_field_size_limit(64 << 10);
                ctx
            },
            http_hooks,
        }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http_ctx, table: &mut self.table, hooks: &mut self.http_hooks }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Tracks whether a call is making progress, so a long streamed transfer may run as long as
/// bytes move while a stuck call is stopped after the idle limit.
pub(crate) struct ProgressWatch {
    /// Bytes moved by the current call's streams; shared with them.
    pub(crate) bytes: Arc<AtomicU64>,
    seen: u64,
    since: Instant,
    idle_limit: Duration,
    /// Set when the watch stopped the instance.
    pub(crate) tripped: bool,
}

impl ProgressWatch {
    fn new(idle_limit: Duration) -> Self {
        ProgressWatch { bytes: Arc::new(AtomicU64::new(0)), seen: 0, since: Instant::now(), idle_limit, tripped: false }
    }

    /// The idle limit.
    pub(crate) fn idle_limit(&self) -> Duration {
        self.idle_limit
    }

    /// Start watching a new call.
    pub(crate) fn start_call(&mut self) {
        self.seen = self.bytes.load(Ordering::Relaxed);
        self.since = Instant::now();
        self.tripped = false;
    }

    /// Whether the call may go on: true while bytes moved within the idle limit.
    pub(crate) fn check(&mut self) -> bool {
        let now = self.bytes.load(Ordering::Relaxed);
        if now != self.seen {
            self.seen = now;
            self.since = Instant::now();
            return true;
        }
        if self.since.elapsed() >= self.idle_limit {
            self.tripped = true;
            return false;
        }
        true
    }
}
