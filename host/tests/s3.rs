//! The s3 plugin against a real S3 server (s3s-fs, which checks SigV4 signatures) on
//! 127.0.0.1: the whole conformance suite, with the host signing every request.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

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

/// A body of unknown size that yields `left` bytes and then fails.
struct FailsAfter {
    left: usize,
}

impl std::io::Read for FailsAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("the source failed"));
        }
        let n = buf.len().min(self.left);
        buf[..n].fill(7);
        self.left -= n;
        Ok(n)
    }
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    support::files_below(dir).into_iter().filter(|p| dir.join(p).is_file()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_multipart_upload_is_aborted_and_leaves_nothing() {
    use warden::target::{Body, PutOptions};
    let server = S3Server::start();
    let target = s3_target(&server, "abort/", SECRET_KEY);
    let before = files_under(server.root.path());
    // Past one 16 MiB part, so the upload is multipart when the source fails.
    let body = Body::Reader(Box::new(FailsAfter { left: 20 << 20 }));
    let result = target.put("big", body, PutOptions::default()).await;
    assert!(matches!(result, Err(warden::Error::Io { .. })), "{result:?}");
    assert!(matches!(target.head("big").await, Err(e) if e.class() == warden::ErrorClass::NotFound));
    assert_eq!(files_under(server.root.path()), before, "no part or partial object is left on the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_aborts_the_unfinished_uploads_under_the_prefix_and_nothing_else() {
    let moto = support::moto::Moto::start(BUCKET);
    // Two uploads a killed put would leave: one under the target's prefix, one outside it.
    for key in ["gc/killed.bin", "elsewhere/keep.bin"] {
        let answer = moto.raw("POST", &format!("/{BUCKET}/{key}?uploads"));
        assert!(answer.contains("<UploadId>"), "{answer}");
    }
    let listed = || moto.raw("GET", &format!("/{BUCKET}?uploads"));
    assert!(listed().contains("gc/killed.bin") && listed().contains("elsewhere/keep.bin"));
    let t = s3_target_at(&moto.endpoint(), "gc/", SECRET_KEY, false);
    // moto dates every upload 2010-11-10: older than any idle time. (The fs plugin's tests
    // check that young leftovers stay.)
    assert!(listed().contains("<Initiated>2010-"), "{}", listed());
    assert_eq!(t.gc(Duration::from_secs(3600)).await.unwrap(), 1);
    let after = listed();
    assert!(!after.contains("gc/killed.bin"), "the upload under the prefix is still there: {after}");
    assert!(after.contains("elsewhere/keep.bin"), "gc reached outside the prefix: {after}");
}
