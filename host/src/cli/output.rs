//! Printing results and progress.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Print `value` as JSON.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Objects at least this big get a progress bar.
const PROGRESS_MIN_BYTES: u64 = 8 << 20;

/// A progress bar over a byte counter, shown only when stderr is a terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Start showing progress of `counter` towards `total` (unknown when none).
    pub fn start(enabled: bool, what: &str, total: Option<u64>, counter: Arc<AtomicU64>) -> Progress {
        let big_enough = total.is_none_or(|t| t >= PROGRESS_MIN_BYTES);
        if !enabled || !big_enough || !std::io::stderr().is_terminal() {
            return Progress { bar: None, task: None };
        }
        let bar = match total {
            Some(t) => ProgressBar::new(t).with_style(
                ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{msg} {spinner} {bytes} {binary_bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_message(what.to_string());
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            loop {
                shown.set_position(counter.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Progress { bar: Some(bar), task: Some(task) }
    }

    /// Remove the bar.
    pub fn finish(self) {
        if let Some(task) = self.task {
            task.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Bytes as a short human figure.
pub fn bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}
