//! The limits every plugin instance runs under.

use std::time::Duration;

/// Resource limits for plugin instances. Each field documents its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory per instance. Default 256 MiB. Growing past it traps the instance.
    pub memory_bytes: usize,
    /// How long one call may run without moving body bytes before it is stopped (epoch
    /// interruption inside wasm, a timer around host waits). Default 60 s.
    pub call_timeout: Duration,
    /// Bytes a guest may hand the host in one host call (strings, lists). Default 16 MiB.
    pub hostcall_fuel: usize,
    /// Live resource handles per instance (streams, descriptors). Default 1,000.
    pub max_resources: usize,
    /// Bytes of log and stdout/stderr output kept per instance; the rest is dropped with a
    /// note. Default 1 MiB.
    pub log_bytes: usize,
    /// Longest single log line kept; longer lines are cut. Default 4 KiB.
    pub log_line_bytes: usize,
    /// Instances a target runs side by side (parallel calls). Default 4.
    pub instances_per_target: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 << 20,
            call_timeout: Duration::from_secs(60),
            hostcall_fuel: 16 << 20,
            max_resources: 1_000,
            log_bytes: 1 << 20,
            log_line_bytes: 4 << 10,
            instances_per_target: 4,
        }
    }
}
