//! Throughput and latency benchmarks. Every figure is a ratio against a native baseline
//! measured in the same run on the same disk; absolute numbers vary with the machine.
//!
//! Run: `cargo bench --bench throughput` (or `just bench`). Environment:
//! - `WARDEN_BENCH_MIB`: object size in MiB (default 1024);
//! - `WARDEN_BENCH_RUNS`: repetitions per measurement, the median is kept (default 3);
//! - `WARDEN_BENCH_DIR`: scratch directory (default: cargo's target tmp dir).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use warden::plugin::{self, Plugin, PluginSource};
use warden::runtime::Runtime;
use warden::target::{Body, PutOptions, Target};

const BLOCK: usize = 1 << 20;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn measure(runs: u64, mut f: impl FnMut() -> Duration) -> Duration {
    median((0..runs).map(|_| f()).collect())
}

fn write_source(path: &Path, size: u64) {
    let mut file = std::io::BufWriter::with_capacity(BLOCK, std::fs::File::create(path).unwrap());
    std::io::copy(&mut warden::conformance::PatternReader::new(size, 3), &mut file).unwrap();
    file.flush().unwrap();
}

/// Native baseline: read and write in 1 MiB blocks, then fsync (the fs plugin syncs too).
fn native_copy(from: &Path, to: &Path) -> Duration {
    let start = Instant::now();
    let mut input = std::fs::File::open(from).unwrap();
    let mut output = std::fs::File::create(to).unwrap();
    let mut buf = vec![0u8; BLOCK];
    loop {
        let n = input.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        output.write_all(&buf[..n]).unwrap();
    }
    output.sync_all().unwrap();
    start.elapsed()
}

/// Native baseline: read in 1 MiB blocks and discard.
fn native_read(from: &Path) -> Duration {
    let start = Instant::now();
    let mut input = std::fs::File::open(from).unwrap();
    let mut buf = vec![0u8; BLOCK];
    while input.read(&mut buf).unwrap() > 0 {}
    start.elapsed()
}

fn rate(bytes: u64, d: Duration) -> String {
    format!("{:.0} MB/s", bytes as f64 / d.as_secs_f64() / 1e6)
}

fn main() {
    let size = env_number("WARDEN_BENCH_MIB", 1024) << 20;
    let runs = env_number("WARDEN_BENCH_RUNS", 3).max(1);
    let scratch = std::env::var("WARDEN_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("warden-bench"));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(scratch.join("store")).unwrap();
    let source = scratch.join("source.bin");
    write_source(&source, size);

    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let cache = scratch.join("cache");
    let runtime = Runtime::builder().cache_dir(&cache).build().unwrap();
    let fs = plugin::resolve(&runtime, "fs").unwrap();
    let settings = BTreeMap::from([("path".to_string(), scratch.join("store").display().to_string())]);
    let target = Target::open(&runtime, fs, "bench", &settings).unwrap();
    // The null sink is built without the SDK: pack its manifest in, as an author would.
    let null_component = std::fs::read(plugin::builtin::testing::path("warden_plugin_null_sink")).unwrap();
    let null_manifest = include_bytes!("../../plugins/testing/null-sink/warden.toml");
    let null_bytes = plugin::pack("null-sink", &null_component, null_manifest, "0.1.0").unwrap();
    let null_plugin = Plugin::load(&runtime, PluginSource::File("null-sink.wasm".into()), &null_bytes).unwrap();
    let null = Target::open(&runtime, null_plugin, "null", &BTreeMap::new()).unwrap();

    let mut rows: Vec<(String, String, String, String)> = Vec::new();
    let mb = size >> 20;

    // put: file -> fs plugin, against a native copy on the same disk.
    let native = measure(runs, || native_copy(&source, &scratch.join("native-copy.bin")));
    let put = measure(runs, || {
        let start = Instant::now();
        tokio.block_on(target.put("object", Body::File(source.clone()), PutOptions::default())).unwrap();
        start.elapsed()
    });
    rows.push((format!("put {mb} MiB through the fs plugin"), rate(size, put), rate(size, native), ratio(native, put)));

    // get: fs plugin -> file (synced), against a native copy of the stored object.
    let stored = scratch.join("store").join("object");
    let native_get = measure(runs, || native_copy(&stored, &scratch.join("native-get.bin")));
    let get = measure(runs, || {
        let start = Instant::now();
        let file = std::fs::File::create(scratch.join("got.bin")).unwrap();
        let (_, file) = tokio.block_on(target.get("object", None, file)).unwrap();
        file.sync_all().unwrap();
        start.elapsed()
    });
    rows.push((
        format!("get {mb} MiB through the fs plugin"),
        rate(size, get),
        rate(size, native_get),
        ratio(native_get, get),
    ));

    // The boundary: file -> null-sink plugin (bytes copied into guest memory), against a
    // native read loop.
    let read = measure(runs, || native_read(&source));
    let sink = measure(runs, || {
        let start = Instant::now();
        tokio.block_on(null.put("x", Body::File(source.clone()), PutOptions::default())).unwrap();
        start.elapsed()
    });
    rows.push((
        format!("stream {mb} MiB into a null-sink plugin"),
        rate(size, sink),
        rate(size, read),
        ratio(read, sink),
    ));

    // Time to first call on a cached (precompiled) plugin, from a fresh runtime.
    let first_call = measure(runs.max(5), || {
        let start = Instant::now();
        let runtime = Runtime::builder().cache_dir(&cache).build().unwrap();
        let fs = plugin::resolve(&runtime, "fs").unwrap();
        let target = Target::open(&runtime, fs, "bench", &settings).unwrap();
        tokio.block_on(target.features()).unwrap();
        start.elapsed()
    });
    let load_only = measure(runs.max(5), || {
        let start = Instant::now();
        plugin::resolve(&runtime, "fs").unwrap();
        start.elapsed()
    });
    rows.push((
        "first call on a cached plugin (fresh runtime, load, instantiate, call)".into(),
        format!("{:.2} ms", ms(first_call)),
        String::new(),
        String::new(),
    ));
    rows.push((
        "load a cached plugin (read, check, deserialize)".into(),
        format!("{:.2} ms", ms(load_only)),
        String::new(),
        String::new(),
    ));

    // Per-call overhead on a warm instance.
    let calls = 2000u32;
    tokio.block_on(target.features()).unwrap();
    let features = tokio.block_on(async {
        let start = Instant::now();
        for _ in 0..calls {
            target.features().await.unwrap();
        }
        start.elapsed() / calls
    });
    let head = tokio.block_on(async {
        let start = Instant::now();
        for _ in 0..calls {
            target.head("object").await.unwrap();
        }
        start.elapsed() / calls
    });
    let native_stat = {
        let start = Instant::now();
        for _ in 0..calls {
            std::fs::metadata(&stored).unwrap();
        }
        start.elapsed() / calls
    };
    rows.push((
        "per call: `features` (no I/O), warm instance".into(),
        format!("{:.1} us", us(features)),
        String::new(),
        String::new(),
    ));
    rows.push((
        "per call: `head` (one stat), warm instance".into(),
        format!("{:.1} us", us(head)),
        format!("{:.1} us (stat)", us(native_stat)),
        String::new(),
    ));

    println!("| measurement ({runs} runs, median) | warden | native baseline | ratio |");
    println!("|---|---|---|---|");
    for (what, ours, base, r) in rows {
        println!("| {what} | {ours} | {base} | {r} |");
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

fn ratio(native: Duration, ours: Duration) -> String {
    format!("{:.2}x", native.as_secs_f64() / ours.as_secs_f64())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
