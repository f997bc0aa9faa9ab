//! Faulty storage: a fault-injection proxy between the s3 plugin and a real S3 server.
//! Retryable failures are retried with backoff (honouring Retry-After), others are typed
//! errors; a short body is never reported as success; a key is absent until an upload succeeds.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::fault_proxy::{Fault, FaultProxy};
use support::s3_server::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};
use warden::error::{Error, ErrorClass};
use warden::plugin;
use warden::runtime::Runtime;
use warden::target::{Body, PutOptions, RetryPolicy, Target};

/// The s3 plugin's settings for the bucket behind `proxy`.
fn settings(proxy: &FaultProxy) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("endpoint".to_string(), proxy.endpoint()),
        ("bucket".to_string(), BUCKET.to_string()),
        ("access_key_id".to_string(), ACCESS_KEY.to_string()),
        ("secret_access_key".to_string(), SECRET_KEY.to_string()),
    ])
}

fn target(proxy: &FaultProxy) -> Target {
    let runtime = Runtime::builder().cache_dir(support::shared_cache()).build().unwrap();
    let s3 = plugin::resolve(&runtime, "s3").unwrap();
    let settings = settings(proxy);
    let fast = RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    };
    Target::open(&runtime, s3, "faulty", &settings).unwrap().with_retry(fast)
}

fn s3_error(status: u16, code: &str, headers: Vec<(String, String)>) -> Fault {
    Fault::Respond { status, headers, body: format!("<Error><Code>{code}</Code><Message>injected</Message></Error>") }
}

fn bytes(n: usize) -> Vec<u8> {
    support::pattern(n, 42)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_down_and_server_errors_are_retried() {
    let server = S3Server::start();
    let proxy = FaultProxy::start(server.addr);
    let t = target(&proxy);
    proxy.script([s3_error(503, "SlowDown", vec![]), s3_error(500, "InternalError", vec![])]);
    let data = bytes(100_000);
    t.put("k", Body::Bytes(data.clone().into()), PutOptions::default()).await.unwrap();
    assert_eq!(t.get_bytes("k", None).await.unwrap(), data);
    assert!(proxy.requests() >= 3, "two failures, then the put that worked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let server = S3Server::start();
    let proxy = FaultProxy::start(server.addr);
    let t = target(&proxy);
    proxy.script([s3_error(429, "SlowDown", vec![("Retry-After".into(), "1".into())])]);
    let started = Instant::now();
    t.put("k", Body::Bytes(b"x".to_vec().into()), PutOptions::default()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_typed_and_not_retried() {
    let server = S3Server::start();
    let proxy = FaultProxy::start(server.addr);
    let t = target(&proxy);
    proxy.script([s3_error(403, "AccessDenied", vec![])]);
    match t.put("k", Body::Bytes(b"x".to_vec().into()), PutOptions::default()).await {
        Err(Error::Plugin { class: ErrorClass::PermissionDenied, .. }) => {}
        other => panic!("expected permission-denied, got {other:?}"),
    }
    assert_eq!(proxy.requests(), 1, "never retried");
    // Persistent unavailability ends in a typed error after the policy's attempts.
    proxy.script((0..5).map(|_| s3_error(503, "ServiceUnavailable", vec![])));
    match t.put("k2", Body::Bytes(b"x".to_vec().into()), PutOptions::default()).await {
        Err(Error::Plugin { class: ErrorClass::Unavailable, .. }) => {}
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert_eq!(proxy.requests(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_short_download_is_never_a_success() {
    let server = S3Server::start();
    let proxy = FaultProxy::start(server.addr);
    let t = target(&proxy);
    let data = bytes(1 << 20);
    t.put("k", Body::Bytes(data.clone().into()), PutOptions::default()).await.unwrap();
    proxy.script([Fault::TruncateResponse(300_000)]);
    match t.get_bytes("k", None).await {
        Ok(got) => panic!("a truncated body was reported as success ({} bytes)", got.len()),
        Err(e) => assert!(matches!(e, Error::ShortBody { .. } | Error::BodyFailed { .. }), "{e:?}"),
    }
    assert_eq!(t.get_bytes("k", None).await.unwrap(), data, "the next read is whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_upload_is_retried_when_replayable_and_leaves_no_object_when_not() {
    let server = S3Server::start();
    let proxy = FaultProxy::start(server.addr);
    let t = target(&proxy);
    let data = bytes(2 << 20);
    proxy.script([Fault::ResetAfterRequestBytes(1 << 20)]);
    t.put("replayable", Body::Bytes(data.clone().into()), PutOptions::default()).await.unwrap();
    assert_eq!(t.get_bytes("replayable", None).await.unwrap(), data);

    proxy.script([Fault::ResetAfterRequestBytes(1 << 20)]);
    let one_shot = Body::Reader(Box::new(std::io::Cursor::new(data.clone())));
    assert!(t.put("one-shot", one_shot, PutOptions::default()).await.is_err());
    assert!(matches!(t.head("one-shot").await, Err(e) if e.class() == ErrorClass::NotFound), "no partial object");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_that_stalls_after_its_headers_is_stopped_not_waited_on() {
    let server = S3Server::start();
    let proxy = FaultProxy::start(server.addr);
    let runtime = Runtime::builder()
        .cache_dir(support::shared_cache())
        .limits(warden::runtime::Limits { call_timeout: Duration::from_secs(2), ..Default::default() })
        .build()
        .unwrap();
    let s3 = plugin::resolve(&runtime, "s3").unwrap();
    let t = Target::open(&runtime, s3, "stalling", &settings(&proxy)).unwrap();
    let data = bytes(1 << 20);
    t.put("k", Body::Bytes(data.clone().into()), PutOptions::default()).await.unwrap();
    proxy.script([Fault::StallAfterHead(Duration::from_secs(60))]);
    let started = Instant::now();
    let outcome = t.get_bytes("k", None).await;
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(20), "the stalled call ran {waited:?}");
    match outcome {
        Ok(got) => assert_eq!(got, data, "a retried read must be whole"),
        Err(e) => assert_eq!(e.class(), ErrorClass::Unavailable, "{e}"),
    }
    assert_eq!(t.get_bytes("k", None).await.unwrap(), data, "the next read is whole");
}
