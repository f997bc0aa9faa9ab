//! The log capability: a plugin's `log` calls and its stdout/stderr go to the host's log,
//! tagged with the plugin's name, with terminal escape codes and control characters removed,
//! lines cut at a length limit and the total per instance capped.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use crate::bindings::v0_1::{self, Level};
use crate::runtime::PluginState;

/// Which standard stream a sink captures.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// The plugin's stdout (logged at info).
    Stdout,
    /// The plugin's stderr (logged at warn: panics print there).
    Stderr,
}

/// The log budget of one plugin instance, shared by its `log` import and its stdio sinks.
#[derive(Clone)]
pub struct LogBudget {
    plugin: Arc<str>,
    remaining: Arc<AtomicUsize>,
    exhausted_noted: Arc<AtomicBool>,
    line_max: usize,
}

impl LogBudget {
    /// A budget of `total` bytes for `plugin`, cutting lines at `line_max` bytes.
    pub fn new(plugin: Arc<str>, total: usize, line_max: usize) -> Self {
        LogBudget {
            plugin,
            remaining: Arc::new(AtomicUsize::new(total)),
            exhausted_noted: Arc::new(AtomicBool::new(false)),
            line_max,
        }
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &Arc<str> {
        &self.plugin
    }

    /// Log one message at `level`, if the budget allows.
    pub fn emit(&self, level: Level, message: &str) {
        let line = sanitize(message, self.line_max);
        let cost = line.len().max(1);
        let granted =
            self.remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(cost)).is_ok();
        if !granted {
            if !self.exhausted_noted.swap(true, Ordering::Relaxed) {
                tracing::warn!(plugin = %self.plugin, "plugin output exceeded its log budget; further output is dropped");
            }
            return;
        }
        let plugin = &*self.plugin;
        match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin, "{line}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin, "{line}"),
            Level::Info => tracing::info!(target: "plugin", plugin, "{line}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin, "{line}"),
            Level::Error => tracing::error!(target: "plugin", plugin, "{line}"),
        }
    }

    /// A sink for the plugin's stdout or stderr.
    pub fn stdio_sink(&self, stream: Stream) -> StdioSink {
        StdioSink { budget: self.clone(), stream }
    }
}

/// Remove escape sequences and control characters, and cut to `max` bytes.
pub fn sanitize(message: &str, max: usize) -> String {
    let mut out = String::with_capacity(message.len().min(max));
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI (ESC [ ... final byte) and OSC (ESC ] ... BEL or ST): skip the whole sequence.
            match chars.peek() {
                Some('[') => {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    chars.next();
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.peek() == Some(&'\\')) {
                            break;
                        }
                    }
                }
                _ => {
                    chars.next();
                }
            }
            continue;
        }
        let c = if c == '\t' { ' ' } else { c };
        if c.is_control() {
            continue;
        }
        if out.len() + c.len_utf8() > max {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out
}

impl v0_1::warden::plugin::log::Host for PluginState {
    fn log(&mut self, level: Level, message: String) {
        self.log.emit(level, &message);
    }
}

impl v0_1::warden::plugin::types::Host for PluginState {}

/// Captures a plugin's stdout or stderr into the log, a line at a time.
pub struct StdioSink {
    budget: LogBudget,
    stream: Stream,
}

impl IsTerminal for StdioSink {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StdioSink {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter { budget: self.budget.clone(), stream: self.stream, pending: Mutex::new(Vec::new()) })
    }
}

struct LineWriter {
    budget: LogBudget,
    stream: Stream,
    pending: Mutex<Vec<u8>>,
}

impl LineWriter {
    fn emit(&self, line: &[u8]) {
        let level = match self.stream {
            Stream::Stdout => Level::Info,
            Stream::Stderr => Level::Warn,
        };
        self.budget.emit(level, &String::from_utf8_lossy(line));
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for &b in buf {
            if b == b'\n' {
                let line = std::mem::take(&mut *pending);
                self.emit(&line);
            } else if pending.len() < self.budget.line_max {
                pending.push(b);
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let line = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if !line.is_empty() {
            self.emit(&line);
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_escapes_and_controls() {
        assert_eq!(sanitize("\u{1b}[31mred\u{1b}[0m text", 100), "red text");
        assert_eq!(sanitize("title\u{1b}]0;pwned\u{7}ok", 100), "titleok");
        assert_eq!(sanitize("a\rb\u{8}c\u{0}d", 100), "abcd");
        assert_eq!(sanitize("abcdef", 3), "abc…");
    }

    #[test]
    fn budget_caps_total_output() {
        let budget = LogBudget::new("p".into(), 10, 100);
        budget.emit(Level::Info, "12345");
        budget.emit(Level::Info, "12345");
        assert_eq!(budget.remaining.load(Ordering::Relaxed), 0);
        budget.emit(Level::Info, "more");
        assert!(budget.exhausted_noted.load(Ordering::Relaxed));
    }
}
