//! Outbound HTTP from a hostile plugin: only the granted endpoint is reachable; other hosts,
//! ports, schemes, loopback spellings, metadata addresses and redirects are denied inside the
//! guest, and denied requests never reach a server. `Authorization` cannot be set.

mod support;

use std::collections::BTreeMap;

use support::http_server::TestServer;
use warden::error::{Error, ErrorClass};
use warden::plugin::{Plugin, PluginSource};
use warden::runtime::Runtime;
use warden::target::{Body, PutOptions, Target};

fn target(endpoint: Option<&str>) -> (tempfile::TempDir, Target) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder().cache_dir(support::shared_cache()).build().unwrap();
    let bytes = std::fs::read(support::test_plugin("warden_plugin_hostile")).unwrap();
    let plugin = Plugin::load(&runtime, PluginSource::File("hostile.wasm".into()), &bytes).unwrap();
    let mut settings = BTreeMap::from([("path".to_string(), dir.path().display().to_string())]);
    if let Some(e) = endpoint {
        settings.insert("endpoint".into(), e.into());
    }
    let target = Target::open(&runtime, plugin, "hostile-http", &settings).unwrap();
    (dir, target)
}

/// What the plugin reported for the attack in `key`.
async fn attempt(target: &Target, key: &str) -> String {
    match target.put(key, Body::Bytes(b"x".to_vec().into()), PutOptions::default()).await {
        Err(Error::Plugin { class: ErrorClass::Other, message, .. }) => message,
        other => panic!("expected the plugin's report for {key:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_granted_endpoint_is_reachable() {
    let granted = TestServer::start();
    let other = TestServer::start();
    let (_dir, t) = target(Some(&granted.url("")));
    let port = granted.addr.port();

    assert_eq!(attempt(&t, &format!("http {}", granted.url("/ok"))).await, "status 200");
    assert_eq!(granted.served(), 1);

    let denied = [
        other.url("/ok"),                       // another port
        format!("https://127.0.0.1:{port}/ok"), // another scheme
        format!("http://localhost:{port}/ok"),  // another spelling of the host
        format!("http://[::1]:{port}/ok"),
        format!("http://[::ffff:127.0.0.1]:{port}/ok"),
        "http://169.254.169.254/latest/meta-data/".to_string(), // cloud metadata
        "http://example.com/".to_string(),
    ];
    for url in &denied {
        let report = attempt(&t, &format!("http {url}")).await;
        assert_eq!(report, "error: ErrorCode::HttpRequestDenied", "{url}");
    }
    // A redirect from the granted host to another is not followed for the plugin, and the
    // plugin cannot follow it itself.
    let redirect = granted.url(&format!("/redirect?to={}", other.url("/stolen")));
    assert_eq!(attempt(&t, &format!("http {redirect}")).await, "status 302");
    assert_eq!(attempt(&t, &format!("http-follow {redirect}")).await, "followed: error: ErrorCode::HttpRequestDenied");
    assert_eq!(other.served(), 0, "no denied request reached the other server");

    let auth = attempt(&t, &format!("http-auth {}", granted.url("/ok"))).await;
    assert_eq!(auth, "header refused: HeaderError::Forbidden");
    assert_eq!(granted.served(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configured_endpoint_nothing_is_reachable() {
    let server = TestServer::start();
    let (_dir, t) = target(None);
    assert_eq!(attempt(&t, &format!("http {}", server.url("/ok"))).await, "error: ErrorCode::HttpRequestDenied");
    assert_eq!(server.served(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_name_that_resolves_to_a_private_address_is_refused() {
    use std::net::ToSocketAddrs;
    let server = TestServer::start();
    let port = server.addr.port();
    // This machine's own name resolves to loopback (/etc/hosts): an operator who grants it
    // grants a name, and a name must resolve to a public address to be reached.
    let name = gethostname::gethostname().to_string_lossy().into_owned();
    let resolved: Vec<_> = (name.as_str(), port).to_socket_addrs().map(|a| a.collect()).unwrap_or_default();
    assert!(
        resolved.iter().any(|a: &std::net::SocketAddr| a.ip().is_loopback()),
        "this test needs the host name {name:?} to resolve to loopback (it did to {resolved:?})"
    );
    let (_dir, t) = target(Some(&format!("http://{name}:{port}")));
    let report = attempt(&t, &format!("http http://{name}:{port}/ok")).await;
    assert_eq!(report, "error: ErrorCode::HttpRequestDenied");
    assert_eq!(server.served(), 0, "the request never reached the server");
    // Written literally, the operator means it: the same server is reachable.
    let (_dir, t) = target(Some(&server.url("")));
    assert_eq!(attempt(&t, &format!("http {}", server.url("/ok"))).await, "status 200");
}
