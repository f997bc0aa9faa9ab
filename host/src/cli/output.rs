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

/// rustic_core's progress reports as bars on stderr (when it is a terminal): bytes with rate
/// and ETA when the total is known, counters, spinners.
#[derive(Debug, Clone, Copy)]
pub struct EngineBars;

impl EngineBars {
    /// Bars when stderr is a terminal and output is for people, else nothing.
    pub fn for_terminal(json: bool) -> Option<Arc<dyn rustic_core::ProgressBars>> {
        (!json && std::io::stderr().is_terminal()).then(|| Arc::new(EngineBars) as Arc<dyn rustic_core::ProgressBars>)
    }
}

impl rustic_core::ProgressBars for EngineBars {
    fn progress(&self, kind: rustic_core::ProgressType, prefix: &str) -> rustic_core::Progress {
        let template = match kind {
            rustic_core::ProgressType::Bytes => {
                "{prefix:<16} {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}"
            }
            rustic_core::ProgressType::Counter => "{prefix:<16} {bar:30} {pos}/{len}",
            rustic_core::ProgressType::Spinner => "{prefix:<16} {spinner} {elapsed}",
        };
        let bar = ProgressBar::new(0)
            .with_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()))
            .with_prefix(prefix.trim_end_matches("...").to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        rustic_core::Progress::new(EngineBar { bar })
    }
}

#[derive(Debug)]
struct EngineBar {
    bar: ProgressBar,
}

impl rustic_core::RusticProgress for EngineBar {
    fn is_hidden(&self) -> bool {
        false
    }

    fn set_length(&self, len: u64) {
        self.bar.set_length(len);
    }

    fn set_title(&self, title: &str) {
        self.bar.set_prefix(title.trim_end_matches("...").to_string());
    }

    fn inc(&self, inc: u64) {
        self.bar.inc(inc);
    }

    fn finish(&self) {
        // The command prints its own summary.
        self.bar.finish_and_clear();
    }
}
