//! moto's S3 server (from PyPI: `pip install 'moto[server]'`, which scripts/test.sh does) on
//! 127.0.0.1, a second, independent S3 implementation; stopped when dropped. It accepts any
//! credentials, so it checks the plugin's S3 semantics, not the host's signatures.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    pub port: u16,
    child: Child,
}

impl Moto {
    /// Start moto with one bucket; panics with the fix when moto is not installed.
    pub fn start(bucket: &str) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto_server ({e}); install it with: pip install 'moto[server]'"));
        let moto = Moto { port, child };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        // CreateBucket, unsigned (moto accepts it; the host would never sign a bucket PUT).
        let answer = moto.raw("PUT", &format!("/{bucket}"));
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
            "creating the bucket: {answer}"
        );
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An unsigned request with an empty body (moto accepts any); the whole answer.
    pub fn raw(&self, method: &str, path_and_query: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "{method} {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
