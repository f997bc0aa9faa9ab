//! A real S3 server for the tests: s3s-fs (it verifies SigV4 signatures) on 127.0.0.1, on a
//! runtime of its own, serving a temp directory; stopped when dropped.

use std::net::SocketAddr;
use std::path::PathBuf;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

pub const ACCESS_KEY: &str = "AKIAWARDENTEST000001";
pub const SECRET_KEY: &str = "wardenTestSecretKey/CANARY+0123456789abcd";
pub const BUCKET: &str = "warden-test";

pub struct S3Server {
    pub addr: SocketAddr,
    pub root: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl S3Server {
    /// Start a server with one empty bucket, [`BUCKET`].
    pub fn start() -> S3Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let http = ConnBuilder::new(TokioExecutor::new());
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            let Ok((socket, _)) = accepted else { continue };
                            let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                            tokio::spawn(async move { let _ = conn.await; });
                        }
                        _ = &mut stop_rx => return,
                    }
                }
            });
        });
        let addr = addr_rx.recv().unwrap();
        S3Server { addr, root, stop: Some(stop_tx), thread: Some(thread) }
    }

    /// `warden target add NAME --plugin s3` for this server's bucket (safe keys, the secrets
    /// from the environment), with `extra` settings `k=v`.
    pub fn add_target(&self, w: &super::World, name: &str, extra: &[&str]) -> assert_cmd::assert::Assert {
        let mut cmd = w.warden();
        cmd.env("T_AK", ACCESS_KEY)
            .env("T_SK", SECRET_KEY)
            .args(["target", "add", name, "--plugin", "s3", "--set"])
            .arg(format!("endpoint={}", self.endpoint()))
            .arg("--set")
            .arg(format!("bucket={BUCKET}"))
            .args(["--set", "safe_keys=true"])
            .args(["--secret-env", "access_key_id=T_AK", "--secret-env", "secret_access_key=T_SK"]);
        for setting in extra {
            cmd.args(["--set", setting]);
        }
        cmd.assert()
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where the bucket's objects live on disk.
    pub fn bucket_dir(&self) -> PathBuf {
        self.root.path().join(BUCKET)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
