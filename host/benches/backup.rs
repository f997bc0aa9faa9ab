//! Backup and restore against restic, on the same generated tree, the same disk, in the same
//! run. Figures are ratios of wall time (Warden / restic: below 1 means Warden is faster) and
//! the peak RSS of each process.
//!
//! Run: `cargo bench --bench backup` (or `just bench-backup`); needs `restic` on the PATH
//! (`apt-get install restic`). Environment:
//! - `WARDEN_BENCH_MIB`: size of the tree in MiB (default 1024);
//! - `WARDEN_BENCH_RUNS`: repetitions, the median is kept (default 3);
//! - `WARDEN_BENCH_DIR`: scratch directory (default: cargo's target tmp dir).
//!
//! The tree: a few big files (60%), one duplicate of a big file (15%), and thousands of
//! small files of 4-64 KiB in 100 directories (25%); the content is incompressible. The
//! second backup runs after 1% of it changed (some small files rewritten, one big file
//! grown).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use warden::conformance::PatternReader;

const PASSWORD: &str = "benchmark";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn write_file(path: &Path, size: u64, seed: u64) {
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    std::io::copy(&mut PatternReader::new(size, seed), &mut file).unwrap();
    file.flush().unwrap();
}

/// The tree described above; returns its size and file count.
fn make_tree(root: &Path, total: u64) -> (u64, u64) {
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root.join("big")).unwrap();
    let big = total * 15 / 100;
    for i in 0..4 {
        write_file(&root.join(format!("big/part-{i}.bin")), big, 10 + i);
    }
    std::fs::copy(root.join("big/part-0.bin"), root.join("big/part-0-copy.bin")).unwrap();
    let (mut small_bytes, mut files, mut seed) = (0u64, 5u64, 100u64);
    while small_bytes < total / 4 {
        let dir = root.join(format!("small/d{:02}", seed % 100));
        std::fs::create_dir_all(&dir).unwrap();
        let size = 4096 + (seed * 7919) % (60 << 10);
        write_file(&dir.join(format!("f{seed}.dat")), size, seed);
        small_bytes += size;
        files += 1;
        seed += 1;
    }
    (big * 5 + small_bytes, files)
}

/// Change about 1% of the tree: rewrite some small files, grow one big file.
fn change_one_percent(root: &Path, total: u64, round: u64) {
    let mut changed = 0u64;
    let mut seed = 100 + round * 31;
    while changed < total / 200 {
        let path = root.join(format!("small/d{:02}/f{seed}.dat", seed % 100));
        if let Ok(meta) = std::fs::metadata(&path) {
            write_file(&path, meta.len(), seed + 1_000_000 * (round + 1));
            changed += meta.len();
        }
        seed += 7;
    }
    let mut big = std::fs::OpenOptions::new().append(true).open(root.join("big/part-3.bin")).unwrap();
    std::io::copy(&mut PatternReader::new(total / 200, 77 + round), &mut big).unwrap();
}

/// Run a command to completion: its wall time and peak RSS (KiB); panics on failure.
// The child is reaped by wait4 (for its rusage), not by Child::wait.
#[allow(clippy::zombie_processes)]
fn run(mut cmd: Command) -> (Duration, u64) {
    let start = Instant::now();
    let child = cmd.stdout(std::process::Stdio::null()).spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: waits for the child we spawned; status and usage are valid out-pointers.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    assert_eq!(waited, pid, "wait4 failed");
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{cmd:?} failed (status {status})");
    (elapsed, usage.ru_maxrss as u64)
}

struct Tool {
    name: &'static str,
    repo: PathBuf,
    cache: PathBuf,
}

impl Tool {
    fn command(&self, args: &[&str]) -> Command {
        if self.name == "warden" {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
            cmd.env("WARDEN_PASSWORD", PASSWORD)
                .env("WARDEN_CACHE_DIR", &self.cache)
                .env("WARDEN_CONFIG_DIR", self.cache.join("config"))
                .arg("--repo")
                .arg(&self.repo)
                .args(args);
            cmd
        } else {
            let mut cmd = Command::new("restic");
            cmd.env("RESTIC_PASSWORD", PASSWORD)
                .env("RESTIC_CACHE_DIR", &self.cache)
                .arg("-r")
                .arg(&self.repo)
                .arg("--quiet")
                .args(args);
            cmd
        }
    }

    fn restore_command(&self, dest: &Path) -> Command {
        let mut cmd = if self.name == "warden" {
            self.command(&["restore", "latest"])
        } else {
            let mut c = self.command(&["restore", "latest", "--target"]);
            c.arg(dest);
            return c;
        };
        cmd.arg(dest);
        cmd
    }
}

#[derive(Default)]
struct Samples {
    first: Vec<(Duration, u64)>,
    second: Vec<(Duration, u64)>,
    restore: Vec<(Duration, u64)>,
}

fn median(samples: &[(Duration, u64)]) -> (Duration, u64) {
    let mut times: Vec<Duration> = samples.iter().map(|s| s.0).collect();
    times.sort();
    let rss = samples.iter().map(|s| s.1).max().unwrap_or(0);
    (times[times.len() / 2], rss)
}

fn main() {
    if Command::new("restic").arg("version").output().is_err() {
        eprintln!("restic is not installed: apt-get install restic");
        std::process::exit(1);
    }
    let mib = env_number("WARDEN_BENCH_MIB", 1024);
    let runs = env_number("WARDEN_BENCH_RUNS", 3).max(1);
    let scratch = std::env::var("WARDEN_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-backup"));
    std::fs::create_dir_all(&scratch).unwrap();
    let source = scratch.join("tree");
    let total = mib << 20;
    let (bytes, files) = make_tree(&source, total);
    println!("tree: {} MiB in {files} files (4 big, 1 duplicate, the rest small)", bytes >> 20);

    let mut results: Vec<(&str, Samples)> = vec![("restic", Samples::default()), ("warden", Samples::default())];
    for round in 0..runs {
        if round > 0 {
            // Start each round from the same tree.
            make_tree(&source, total);
        }
        for (name, samples) in results.iter_mut() {
            let tool =
                Tool { name, repo: scratch.join(format!("repo-{name}")), cache: scratch.join(format!("cache-{name}")) };
            let _ = std::fs::remove_dir_all(&tool.repo);
            let _ = std::fs::remove_dir_all(&tool.cache);
            run(tool.command(&["init"]));
            let mut backup = tool.command(&["backup"]);
            backup.arg(&source);
            samples.first.push(run(backup));
            let dest = scratch.join(format!("restore-{name}"));
            let _ = std::fs::remove_dir_all(&dest);
            samples.restore.push(run(tool.restore_command(&dest)));
            let copy = dest.join(source.strip_prefix("/").unwrap());
            assert!(copy.join("big/part-2.bin").is_file(), "{name} restored nothing");
            assert_eq!(
                std::fs::metadata(copy.join("big/part-2.bin")).unwrap().len(),
                std::fs::metadata(source.join("big/part-2.bin")).unwrap().len()
            );
            let _ = std::fs::remove_dir_all(&dest);
        }
        change_one_percent(&source, total, round);
        for (name, samples) in results.iter_mut() {
            let tool =
                Tool { name, repo: scratch.join(format!("repo-{name}")), cache: scratch.join(format!("cache-{name}")) };
            let mut backup = tool.command(&["backup"]);
            backup.arg(&source);
            samples.second.push(run(backup));
        }
    }

    println!("{:<28} {:>10} {:>10} {:>8} {:>12} {:>12}", "", "restic", "warden", "ratio", "restic RSS", "warden RSS");
    type Pick = fn(&Samples) -> &Vec<(Duration, u64)>;
    let rows: [(&str, Pick); 3] =
        [("backup (first)", |s| &s.first), ("backup (1% changed)", |s| &s.second), ("restore", |s| &s.restore)];
    for (label, pick) in rows {
        let (rt, rr) = median(pick(&results[0].1));
        let (wt, wr) = median(pick(&results[1].1));
        println!(
            "{label:<28} {:>9.2}s {:>9.2}s {:>7.2}x {:>9} MiB {:>9} MiB",
            rt.as_secs_f64(),
            wt.as_secs_f64(),
            wt.as_secs_f64() / rt.as_secs_f64(),
            rr >> 10,
            wr >> 10
        );
    }
    println!("(ratio: Warden's time / restic's; below 1.00 Warden is faster. Median of {runs} runs; RSS: the peak.)");
    let _ = std::fs::remove_dir_all(scratch.join("repo-restic"));
    let _ = std::fs::remove_dir_all(scratch.join("repo-warden"));
}
