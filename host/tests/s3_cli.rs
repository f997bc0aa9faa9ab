//! The s3 plugin through the real CLI against s3s-fs (SigV4 checked): add a target with
//! secrets, test it, move objects; clear diagnostics for bad credentials, a missing bucket and
//! an unreachable endpoint; the secret never leaks; the host signs for nothing but the
//! configured bucket and prefix, whatever the plugin asks.

mod support;

use std::collections::BTreeMap;

use predicates::prelude::*;
use support::s3_server::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};
use support::{World, pattern, test_plugin, with_section, without_manifest};
use warden::error::{Error, ErrorClass};
use warden::plugin::{Plugin, PluginSource};
use warden::runtime::Runtime;
use warden::target::{Body, PutOptions, Target};

fn add_s3(w: &World, name: &str, endpoint: &str, bucket: &str, secret: &str) -> assert_cmd::assert::Assert {
    w.warden()
        .env("T_AK", ACCESS_KEY)
        .env("T_SK", secret)
        .args(["target", "add", name, "--plugin", "s3", "--set"])
        .arg(format!("endpoint={endpoint}"))
        .arg("--set")
        .arg(format!("bucket={bucket}"))
        .args(["--set", "prefix=backups/", "--set", "safe_keys=true"])
        .args(["--secret-env", "access_key_id=T_AK", "--secret-env", "secret_access_key=T_SK"])
        .assert()
}

#[test]
fn an_s3_target_round_trips_through_the_cli_and_keeps_the_secret() {
    let server = S3Server::start();
    let w = World::new();
    add_s3(&w, "cloud", &server.endpoint(), BUCKET, SECRET_KEY).success();
    w.warden()
        .args(["target", "test", "cloud"])
        .assert()
        .success()
        .stdout(predicate::str::contains("objects can be written"));
    let src = w.path("src.bin");
    std::fs::write(&src, pattern((5 << 20) + 3, 9)).unwrap();
    let put = w.warden().args(["-vvv", "target", "put", "cloud", "dir/file.bin"]).arg(&src).assert().success();
    let out = w.path("back.bin");
    let get = w.warden().args(["-vvv", "target", "get", "cloud", "dir/file.bin"]).arg(&out).assert().success();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&src).unwrap());
    assert!(server.bucket_dir().join("backups/dir/file.bin").is_file(), "stored under the prefix");
    w.warden().args(["target", "ls", "cloud"]).assert().success().stdout(predicate::str::contains("dir/file.bin"));
    // The secret appears nowhere an operator or a plugin could look.
    for output in
        [&put.get_output().stderr, &get.get_output().stderr, &std::fs::read(w.path("config/config.toml")).unwrap()]
    {
        assert!(!String::from_utf8_lossy(output).contains(SECRET_KEY), "the secret key leaked");
    }
    let show = w.warden().args(["--json", "target", "show", "cloud"]).assert().success();
    let shown = String::from_utf8_lossy(&show.get_output().stdout).to_string();
    assert!(!shown.contains(SECRET_KEY) && shown.contains("\"secret_access_key\": \"***\""), "{shown}");
    assert!(shown.contains("\"signed\": true"));
}

#[test]
fn misconfigurations_get_sentences_a_person_can_act_on() {
    let server = S3Server::start();
    let w = World::new();
    add_s3(&w, "badkey", &server.endpoint(), BUCKET, "not-the-secret").success();
    w.warden()
        .args(["target", "test", "badkey"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FAIL credentials are accepted"))
        .stdout(predicate::str::contains("check the access key and secret"));
    // A read (no request body: a server that refuses early cannot cut it off mid-upload).
    w.warden()
        .args(["target", "get", "badkey", "k"])
        .assert()
        .code(6)
        .stderr(predicate::str::contains("credentials not accepted; `warden target test` tells which"))
        .stderr(predicate::str::contains("not-the-secret").not());

    add_s3(&w, "nobucket", &server.endpoint(), "no-such-bucket", SECRET_KEY).success();
    w.warden()
        .args(["target", "test", "nobucket"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("bucket `no-such-bucket` does not exist"));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    add_s3(&w, "nowhere", &format!("http://{closed}"), BUCKET, SECRET_KEY).success();
    w.warden()
        .args(["target", "test", "nowhere"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FAIL endpoint is reachable"))
        .stdout(predicate::str::contains("check the `endpoint` setting"));

    // A secret on the command line is refused.
    w.warden()
        .args(["target", "add", "x", "--plugin", "s3", "--set", "bucket=b", "--set"])
        .arg(format!("secret_access_key={SECRET_KEY}"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is a secret"));
}

/// The hostile plugin, given a manifest that asks the host to sign its requests to an S3
/// endpoint for one bucket and prefix.
fn signed_hostile(endpoint: &str) -> (tempfile::TempDir, Target) {
    let manifest = br#"
name = "greedy"
version = "1"
kinds = ["target"]
[config.path]
required = true
[config.endpoint]
type = "url"
[config.bucket]
[config.prefix]
[config.region]
[config.ak]
secret = true
[config.sk]
secret = true
[[capabilities.directories]]
config = "path"
access = "read-write"
[[capabilities.http]]
config = "endpoint"
[capabilities.http.sign]
scheme = "aws-sigv4"
service = "s3"
region = "region"
access_key_id = "ak"
secret_access_key = "sk"
bucket = "bucket"
prefix = "prefix"
"#;
    let bytes = with_section(
        without_manifest(std::fs::read(test_plugin("warden_plugin_hostile")).unwrap()),
        "warden:manifest",
        manifest,
    );
    let runtime = Runtime::builder().cache_dir(support::shared_cache()).build().unwrap();
    let plugin = Plugin::load(&runtime, PluginSource::File("greedy.wasm".into()), &bytes).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let settings = BTreeMap::from([
        ("path".to_string(), dir.path().display().to_string()),
        ("endpoint".to_string(), endpoint.to_string()),
        ("bucket".to_string(), BUCKET.to_string()),
        ("prefix".to_string(), "mine/".to_string()),
        ("region".to_string(), "us-east-1".to_string()),
        ("ak".to_string(), ACCESS_KEY.to_string()),
        ("sk".to_string(), SECRET_KEY.to_string()),
    ]);
    (dir, Target::open(&runtime, plugin, "greedy", &settings).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_signs_only_for_the_configured_bucket_and_prefix() {
    let server = S3Server::start();
    std::fs::create_dir(server.root.path().join("other-bucket")).unwrap();
    std::fs::write(server.root.path().join("other-bucket/secret.txt"), "theirs").unwrap();
    std::fs::create_dir_all(server.bucket_dir().join("elsewhere")).unwrap();
    std::fs::write(server.bucket_dir().join("elsewhere/x"), "not yours").unwrap();
    let (_dir, t) = signed_hostile(&server.endpoint());
    let report = |key: String| {
        let t = t.clone();
        async move {
            match t.put(&key, Body::Bytes(b"x".to_vec().into()), PutOptions::default()).await {
                Err(Error::Plugin { class: ErrorClass::Other, message, .. }) => message,
                other => panic!("expected the plugin's report, got {other:?}"),
            }
        }
    };
    let base = server.endpoint();
    // Inside the grant the request is signed and served (404: nothing stored there yet).
    assert_eq!(report(format!("http {base}/{BUCKET}/mine/nothing")).await, "status 404");
    for url in [
        format!("{base}/other-bucket/secret.txt"),
        format!("{base}/{BUCKET}/elsewhere/x"),
        format!("{base}/{BUCKET}?list-type=2&prefix=elsewhere/"),
        format!("{base}/"),
    ] {
        assert_eq!(report(format!("http {url}")).await, "error: ErrorCode::HttpRequestDenied", "{url}");
    }
}
