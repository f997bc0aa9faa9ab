//! A purpose-built hostile plugin run through the real host: every attack must end in a typed
//! error (or be contained), the host must stay up, and the next call must work on a fresh
//! instance.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use warden::error::{Error, ErrorClass, TrapReason};
use warden::plugin::{Plugin, PluginSource};
use warden::runtime::{Limits, Runtime};
use warden::target::{Body, PutOptions, RetryPolicy, Target};

struct Setup {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    outside: std::path::PathBuf,
    target: Target,
}

fn setup(limits: Limits) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("sentinel"), "secret").unwrap();
    std::os::unix::fs::symlink(&outside, data.join("link-out")).unwrap();
    let runtime = Runtime::builder().limits(limits).cache_dir(support::shared_cache()).build().unwrap();
    let bytes = std::fs::read(support::test_plugin("warden_plugin_hostile")).unwrap();
    let plugin = Plugin::load(&runtime, PluginSource::File("hostile.wasm".into()), &bytes).unwrap();
    let settings = BTreeMap::from([("path".to_string(), data.display().to_string())]);
    let target = Target::open(&runtime, plugin, "hostile", &settings).unwrap();
    Setup { _dir: dir, data, outside, target }
}

async fn put(target: &Target, key: &str) -> Result<warden::target::ObjectMeta, Error> {
    target.put(key, Body::Bytes(b"x".to_vec().into()), PutOptions::default()).await
}

/// After any attack, the same target still serves calls.
async fn still_works(target: &Target) {
    let meta = put(target, "benign").await.expect("a fresh instance serves the next call");
    assert_eq!(meta.key, "benign");
}

fn trap_reason(result: Result<impl std::fmt::Debug, Error>) -> TrapReason {
    match result {
        Err(Error::Trap { reason, .. }) => reason,
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_a_typed_crash_and_the_instance_is_replaced() {
    let s = setup(Limits::default());
    let reason = trap_reason(put(&s.target, "panic").await);
    assert!(matches!(reason, TrapReason::Crash(ref why) if why.contains("unreachable")), "{reason:?}");
    still_works(&s.target).await;
}

/// The attack in `key` runs until the 1 s deadline stops it; the target keeps working.
async fn assert_stopped_at_the_deadline(key: &str) {
    let s = setup(Limits { call_timeout: Duration::from_secs(1), ..Limits::default() });
    let started = Instant::now();
    let reason = trap_reason(put(&s.target, key).await);
    assert_eq!(reason, TrapReason::Deadline(Duration::from_secs(1)));
    assert!(started.elapsed() < Duration::from_secs(30), "stopped in {:?}", started.elapsed());
    still_works(&s.target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_is_stopped_at_the_deadline() {
    assert_stopped_at_the_deadline("loop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_forever_in_a_host_call_is_stopped_at_the_deadline() {
    assert_stopped_at_the_deadline("sleep").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_hits_the_memory_limit() {
    let s = setup(Limits { memory_bytes: 32 << 20, ..Limits::default() });
    let reason = trap_reason(put(&s.target, "oom").await);
    assert_eq!(reason, TrapReason::OutOfMemory { limit: 32 << 20 });
    still_works(&s.target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_recursion_is_a_stack_overflow_trap() {
    let s = setup(Limits::default());
    let reason = trap_reason(put(&s.target, "recurse").await);
    assert!(matches!(reason, TrapReason::Crash(ref why) if why.contains("stack")), "{reason:?}");
    still_works(&s.target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_floods_are_capped_and_the_call_completes() {
    let s = setup(Limits::default());
    put(&s.target, "stderr").await.expect("stderr flood is absorbed");
    put(&s.target, "log-flood").await.expect("log flood is absorbed");
    still_works(&s.target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_sees_no_environment_arguments_or_extra_directories() {
    // SAFETY: set before any thread reads the environment in this test process's plugin.
    unsafe { std::env::set_var("WARDEN_CANARY_SECRET", "canary-123") };
    let s = setup(Limits::default());
    match put(&s.target, "ambient").await {
        Err(Error::Plugin { class: ErrorClass::Other, message, .. }) => {
            assert_eq!(message, "env=[] args=[] preopens=[\"path\"] cwd=\"/\"", "{message}");
        }
        other => panic!("expected the plugin's report, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escapes_from_the_preopen_all_fail() {
    let s = setup(Limits::default());
    match put(&s.target, "escape").await {
        Err(Error::Plugin { class: ErrorClass::Other, message, .. }) => assert_eq!(message, "reached=[]"),
        other => panic!("expected the plugin's report, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(s.outside.join("sentinel")).unwrap(), "secret");
    assert!(!s.data.parent().unwrap().join("escaped-dir").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlink_chains_and_trailing_slashes_do_not_leave_the_preopen() {
    let s = setup(Limits::default());
    // GHSA-vqjp-4c8c-hfgg's shape, planted and made by the plugin: chains ending outside,
    // trailing slashes that ask to resolve one step further.
    std::os::unix::fs::symlink("chain-2/", s.data.join("chain-1")).unwrap();
    std::os::unix::fs::symlink("link-out/", s.data.join("chain-2")).unwrap();
    match put(&s.target, "escape-slash").await {
        Err(Error::Plugin { class: ErrorClass::Other, message, .. }) => assert_eq!(message, "reached=[]"),
        other => panic!("expected the plugin's report, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(s.outside.join("sentinel")).unwrap(), "secret");
    still_works(&s.target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_strings_from_a_plugin_are_cut_down_or_refused() {
    let s = setup(Limits::default());
    match put(&s.target, "huge-error").await {
        Err(Error::Plugin { message, .. }) => {
            assert!(message.len() <= 4096, "a {} byte message reached the operator", message.len());
            assert!(!message.contains('\u{1b}'), "escape codes reached the operator");
        }
        other => panic!("expected the plugin's error, got {other:?}"),
    }
    // 32 MiB in one answer is more than a host call may move (16 MiB of hostcall fuel): the
    // instance is stopped before the host holds it.
    match put(&s.target, "huge-key").await {
        Err(Error::Trap { reason: TrapReason::Crash(why), .. }) => {
            assert!(why.contains("too much data is being copied"), "{why}")
        }
        other => panic!("expected the instance to be stopped, got {:?}", other.map(|m| m.key.len())),
    }
    still_works(&s.target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_bodies_and_listings_are_reported() {
    let s = setup(Limits::default());
    match s.target.get_bytes("short", None).await {
        Err(Error::ShortBody { expected: 1000, got: 10, .. }) => {}
        other => panic!("expected a short body, got {other:?}"),
    }
    match put(&s.target, "lie-size").await {
        Err(Error::Contract { detail, .. }) => assert!(detail.contains("reported 2 bytes stored"), "{detail}"),
        other => panic!("expected a contract error, got {other:?}"),
    }
    match s.target.list("huge-list", None, 10).await {
        Err(Error::Contract { detail, .. }) => assert!(detail.contains("100000 objects for a limit of 10"), "{detail}"),
        other => panic!("expected a contract error, got {other:?}"),
    }
    match s.target.list_all("stuck-cursor").await {
        Err(Error::Contract { detail, .. }) => {
            assert!(detail.contains("does not advance"), "{detail}")
        }
        other => panic!("expected a contract error, got {other:?}"),
    }
    still_works(&s.target).await;
}

fn attempts(s: &Setup, key: &str) -> u32 {
    std::fs::read_to_string(s.data.join(format!("{key}.count"))).unwrap().trim().parse().unwrap()
}

fn fast_retries(s: Setup) -> Setup {
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    };
    Setup { target: s.target.with_retry(policy), ..s }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_failures_are_retried_when_the_body_can_be_replayed() {
    let s = fast_retries(setup(Limits::default()));
    let meta = s.target.put("flaky", Body::Bytes(b"abc".to_vec().into()), PutOptions::default()).await.unwrap();
    assert_eq!(meta.size, 3);
    assert_eq!(attempts(&s, "flaky"), 3, "two failures, then success");

    let started = Instant::now();
    put(&s.target, "rate").await.unwrap();
    assert_eq!(attempts(&s, "rate"), 2);
    assert!(started.elapsed() >= Duration::from_secs(1), "retry-after honoured: {:?}", started.elapsed());

    match put(&s.target, "invalid").await {
        Err(Error::Plugin { class: ErrorClass::InvalidInput, .. }) => {}
        other => panic!("expected invalid-input, got {other:?}"),
    }
    assert_eq!(attempts(&s, "invalid"), 1, "invalid-input is never retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_body_is_never_retried() {
    let s = fast_retries(setup(Limits::default()));
    let stdin_like = Body::Reader(Box::new(std::io::Cursor::new(b"abc".to_vec())));
    match s.target.put("flaky", stdin_like, PutOptions::default()).await {
        Err(Error::Plugin { class: ErrorClass::Unavailable, .. }) => {}
        other => panic!("expected the first failure, got {other:?}"),
    }
    assert_eq!(attempts(&s, "flaky"), 1);
    // Reads are idempotent and always retried.
    match s.target.head("flaky").await {
        Ok(_) => assert_eq!(attempts(&s, "flaky"), 3),
        other => panic!("head should succeed after retries, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_grant_allows_no_change_at_all() {
    let manifest = b"name = \"reader\"\nversion = \"1\"\nkinds = [\"target\"]\n[config.path]\nrequired = true\n[[capabilities.directories]]\nconfig = \"path\"\naccess = \"read-only\"\n[config.endpoint]\n[[capabilities.http]]\nconfig = \"endpoint\"\n";
    let bytes = support::with_section(
        support::without_manifest(std::fs::read(support::test_plugin("warden_plugin_hostile")).unwrap()),
        "warden:manifest",
        manifest,
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("existing"), "keep me").unwrap();
    let runtime = Runtime::builder().cache_dir(support::shared_cache()).build().unwrap();
    let plugin = Plugin::load(&runtime, PluginSource::File("reader.wasm".into()), &bytes).unwrap();
    let settings = BTreeMap::from([("path".to_string(), dir.path().display().to_string())]);
    let target = Target::open(&runtime, plugin, "reader", &settings).unwrap();
    match put(&target, "write-anything").await {
        Err(Error::Plugin { class: ErrorClass::Other, message, .. }) => assert_eq!(message, "reached=[]"),
        other => panic!("expected the plugin's report, got {other:?}"),
    }
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["existing"]);
    assert_eq!(std::fs::read_to_string(dir.path().join("existing")).unwrap(), "keep me");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_file_claiming_a_petabyte_is_refused_before_it_is_read() {
    use warden::engine::{RepoFiles, TargetBackend};
    use warden::store::FileKind;
    let s = setup(Limits::default());
    let files = TargetBackend::new(s.target.clone(), "", tokio::runtime::Handle::current());
    let started = Instant::now();
    // The hostile plugin answers `config` with a claimed petabyte of zeros, streamed forever.
    let outcome = tokio::task::spawn_blocking(move || files.read(FileKind::Config, "", None)).await.unwrap();
    match outcome {
        Err(Error::Contract { detail, .. }) => assert!(detail.contains("more than such an object can be"), "{detail}"),
        other => panic!("expected a contract error, got {:?}", other.map(|b| b.len())),
    }
    assert!(started.elapsed() < Duration::from_secs(5), "it read before refusing");
    still_works(&s.target).await;
}
