//! S3 benchmark: put and get through Warden's s3 plugin against native aws-sdk-s3 and rclone,
//! to the same local S3 server (s3s-fs, signatures checked) in the same run; and the host's
//! peak RSS while the CLI puts a large object. Ratios are what to read.
//!
//! Run: `just bench-s3` (builds the release `warden` first). Environment:
//! - `WARDEN_BENCH_MIB` (default 1024): object size for the throughput runs;
//! - `WARDEN_BENCH_RUNS` (default 3): runs per measurement, the median is kept;
//! - `WARDEN_BENCH_RSS_MIB` (default 4096): object size for the RSS measurement (0 skips it);
//! - `WARDEN_BIN`: the `warden` binary (default: the workspace's target/release/warden).

#[path = "../../../host/tests/support/s3_server.rs"]
#[allow(dead_code)]
mod s3_server;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use s3_server::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};
use warden::plugin;
use warden::runtime::Runtime;
use warden::target::{Body, PutOptions, Target};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn write_source(path: &Path, size: u64) {
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    std::io::copy(&mut warden::conformance::PatternReader::new(size, 5), &mut file).unwrap();
    file.flush().unwrap();
}

fn rate(bytes: u64, d: Duration) -> String {
    format!("{:.0} MB/s", bytes as f64 / d.as_secs_f64() / 1e6)
}

fn main() {
    let size = env_number("WARDEN_BENCH_MIB", 1024) << 20;
    let runs = env_number("WARDEN_BENCH_RUNS", 3).max(1) as usize;
    let server = S3Server::start();
    let scratch = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
    let source = scratch.path().join("source.bin");
    write_source(&source, size);
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    // Native: aws-sdk-s3, signing in process.
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(server.endpoint())
        .credentials_provider(aws_credential_types::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "bench"))
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    let native_put = median(
        (0..runs)
            .map(|_| {
                tokio.block_on(async {
                    let body = ByteStream::from_path(&source).await.unwrap();
                    let start = Instant::now();
                    client.put_object().bucket(BUCKET).key("native").body(body).send().await.unwrap();
                    start.elapsed()
                })
            })
            .collect(),
    );
    let native_get = median(
        (0..runs)
            .map(|_| {
                tokio.block_on(async {
                    let start = Instant::now();
                    let object = client.get_object().bucket(BUCKET).key("native").send().await.unwrap();
                    let mut reader = object.body.into_async_read();
                    let mut file = tokio::fs::File::create(scratch.path().join("native-get.bin")).await.unwrap();
                    tokio::io::copy(&mut reader, &mut file).await.unwrap();
                    file.sync_all().await.unwrap();
                    start.elapsed()
                })
            })
            .collect(),
    );

    // Warden: the s3 plugin, the host signing.
    let runtime = Runtime::builder().cache_dir(scratch.path().join("cache")).build().unwrap();
    let s3 = plugin::resolve(&runtime, "s3").unwrap();
    let settings = BTreeMap::from([
        ("endpoint".to_string(), server.endpoint()),
        ("bucket".to_string(), BUCKET.to_string()),
        ("access_key_id".to_string(), ACCESS_KEY.to_string()),
        ("secret_access_key".to_string(), SECRET_KEY.to_string()),
    ]);
    // Parts: a threshold below the size, 16 MiB parts sent one at a time.
    let mut parts = settings.clone();
    parts.insert("multipart_threshold_mib".into(), "64".into());
    let target = Target::open(&runtime, s3.clone(), "bench", &parts).unwrap();
    let warden_put = median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                tokio.block_on(target.put("warden", Body::File(source.clone()), PutOptions::default())).unwrap();
                start.elapsed()
            })
            .collect(),
    );
    // The default: one PUT up to 1 GiB, as the native client makes it.
    let single_target = Target::open(&runtime, s3, "bench-single", &settings).unwrap();
    let warden_single_put = median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                tokio
                    .block_on(single_target.put("warden-single", Body::File(source.clone()), PutOptions::default()))
                    .unwrap();
                start.elapsed()
            })
            .collect(),
    );
    let warden_get = median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                let file = std::fs::File::create(scratch.path().join("warden-get.bin")).unwrap();
                let (_, file) = tokio.block_on(target.get("warden", None, file)).unwrap();
                file.sync_all().unwrap();
                start.elapsed()
            })
            .collect(),
    );

    let mb = size >> 20;
    println!("| measurement ({runs} runs, median) | warden (s3 plugin) | native aws-sdk-s3 | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| put {mb} MiB, one PUT each (the plugin's default up to 1 GiB) | {} | {} | {:.2}x |",
        rate(size, warden_single_put),
        rate(size, native_put),
        native_put.as_secs_f64() / warden_single_put.as_secs_f64()
    );
    println!(
        "| put {mb} MiB in 16 MiB parts, one at a time (multipart_threshold_mib=64) | {} | {} (one PUT) | {:.2}x |",
        rate(size, warden_put),
        rate(size, native_put),
        native_put.as_secs_f64() / warden_put.as_secs_f64()
    );
    println!(
        "| get {mb} MiB | {} | {} | {:.2}x |",
        rate(size, warden_get),
        rate(size, native_get),
        native_get.as_secs_f64() / warden_get.as_secs_f64()
    );

    // rclone, when installed (Debian's package).
    if Command::new("rclone").arg("version").output().is_ok_and(|o| o.status.success()) {
        let remote = format!(
            ":s3,provider=Other,endpoint='{}',access_key_id={ACCESS_KEY},secret_access_key='{SECRET_KEY}',force_path_style=true:{BUCKET}/rclone",
            server.endpoint()
        );
        let rclone = |args: &[&str]| {
            let start = Instant::now();
            let status = Command::new("rclone").args(args).env_remove("AWS_CA_BUNDLE").status().unwrap();
            assert!(status.success(), "rclone {args:?} failed");
            start.elapsed()
        };
        let src = source.display().to_string();
        let back = scratch.path().join("rclone-get.bin").display().to_string();
        let put = median((0..runs).map(|_| rclone(&["copyto", &src, &remote])).collect());
        let get = median((0..runs).map(|_| rclone(&["copyto", &remote, &back])).collect());
        println!(
            "| rclone put / get {mb} MiB | {} / {} | (warden default put, get against rclone) | {:.2}x / {:.2}x |",
            rate(size, put),
            rate(size, get),
            put.as_secs_f64() / warden_single_put.as_secs_f64(),
            get.as_secs_f64() / warden_get.as_secs_f64()
        );
    } else {
        println!("(rclone is not installed: `apt-get install rclone` to compare with it)");
    }

    let rss_size = env_number("WARDEN_BENCH_RSS_MIB", 4096) << 20;
    if rss_size > 0 {
        let big = scratch.path().join("big.bin");
        write_source(&big, rss_size);
        drop(std::fs::remove_file(&source));
        let rss = cli_put_rss(&server, scratch.path(), &big);
        println!("| host peak RSS, CLI put of {} MiB | {} MiB | | |", rss_size >> 20, rss >> 10);
    }
}

/// Peak RSS (KiB) of `warden target put` of `file` to the server, from wait4's rusage.
fn cli_put_rss(server: &S3Server, scratch: &Path, file: &Path) -> i64 {
    let bin = std::env::var("WARDEN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/warden"));
    let config = scratch.join("config");
    let status = Command::new(&bin)
        .args(["target", "add", "rss", "--plugin", "s3", "--set"])
        .arg(format!("endpoint={}", server.endpoint()))
        .args([
            "--set",
            &format!("bucket={BUCKET}"),
            "--secret-env",
            "access_key_id=AK",
            "--secret-env",
            "secret_access_key=SK",
        ])
        .env("WARDEN_CONFIG_DIR", &config)
        .env("AK", ACCESS_KEY)
        .env("SK", SECRET_KEY)
        .status()
        .unwrap_or_else(|e| panic!("running {} ({e}); build it with cargo build --release", bin.display()));
    assert!(status.success());
    let child = Command::new(&bin)
        .args(["target", "put", "rss", "big"])
        .arg(file)
        .env("WARDEN_CONFIG_DIR", &config)
        .env("WARDEN_CACHE_DIR", scratch.join("cache"))
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: plain FFI; `usage` is written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "the CLI put failed");
    std::mem::forget(child);
    usage.ru_maxrss
}
