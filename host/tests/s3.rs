//! The s3 plugin against a real S3 server (s3s-fs, which checks SigV4 signatures) on
//! 127.0.0.1: the whole conformance suite, with the host signing every request.

mod support;

use std::collections::BTreeMap;

use support::s3_server::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};
use warden::conformance::{self, Options, Outcome};
use warden::plugin;
use warden::runtime::Runtime;
use warden::target::Target;

fn s3_target(server: &S3Server, prefix: &str, secret: &str) -> Target {
    s3_target_at(&server.endpoint(), prefix, secret, true)
}

fn s3_target_at(endpoint: &str, prefix: &str, secret: &str, safe_keys: bool) -> Target {
    let runtime = Runtime::builder().cache_dir(support::shared_cache()).build().unwrap();
    let s3 = plugin::resolve(&runtime, "s3").unwrap();
    let settings = BTreeMap::from([
        ("endpoint".to_string(), endpoint.to_string()),
        ("bucket".to_string(), BUCKET.to_string()),
        ("region".to_string(), "us-east-1".to_string()),
        ("prefix".to_string(), prefix.to_string()),
        ("access_key_id".to_string(), ACCESS_KEY.to_string()),
        ("secret_access_key".to_string(), secret.to_string()),
        // s3s-fs stores objects as files: it needs escaped keys (as MinIO does).
        ("safe_keys".to_string(), safe_keys.to_string()),
    ]);
    Target::open(&runtime, s3, "s3-test", &settings).unwrap()
}

async fn assert_conformance(target: &Target) {
    let report = conformance::run(target, &Options::default()).await;
    for case in &report.cases {
        eprintln!("{:<22} {:?} ({} ms)", case.name, case.outcome, case.millis);
    }
    let failures: Vec<_> = report.cases.iter().filter(|c| matches!(c.outcome, Outcome::Fail(_))).collect();
    assert!(failures.is_empty(), "failed cases: {failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_plugin_passes_the_conformance_suite_on_s3s_fs() {
    let server = S3Server::start();
    assert_conformance(&s3_target(&server, "conformance/", SECRET_KEY)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_plugin_passes_the_conformance_suite_on_moto() {
    let moto = support::moto::Moto::start(BUCKET);
    // moto keeps objects in memory: plain S3 keys, `a` beside `a/b` included.
    assert_conformance(&s3_target_at(&moto.endpoint(), "conformance/", SECRET_KEY, false)).await;
}
