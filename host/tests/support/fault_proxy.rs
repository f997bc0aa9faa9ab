//! A fault-injection proxy for HTTP/1.1 on 127.0.0.1: it forwards requests to an upstream
//! server, or, following a script, answers with an error, resets the connection part way
//! through an upload, or cuts a response body short. One request per connection (the
//! plugin's client opens a connection per request).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What to do with one request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Forward it.
    Pass,
    /// Read the request, then answer with this status, extra headers and body.
    Respond { status: u16, headers: Vec<(String, String)>, body: String },
    /// Read the head and this many body bytes, then reset the connection.
    ResetAfterRequestBytes(usize),
    /// Forward it, then pass on the response head and only this many body bytes, and close.
    TruncateResponse(usize),
    /// Forward it, then pass on the response head, wait this long, and close without a body.
    StallAfterHead(std::time::Duration),
    /// Forward it, flipping one bit in the middle of the response body when the request's
    /// path contains this text (and the body is not empty).
    FlipBitWhenPathHas(String),
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    script: Arc<Mutex<VecDeque<Fault>>>,
    /// What to do once the script is used up (default: pass).
    fallback: Arc<Mutex<Fault>>,
    pub requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// A proxy in front of `upstream`; requests pass unless a scripted fault is queued.
    pub fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let fallback = Arc::new(Mutex::new(Fault::Pass));
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, f, r, st) = (script.clone(), fallback.clone(), requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for client in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let fault = s.lock().unwrap().pop_front().unwrap_or_else(|| f.lock().unwrap().clone());
                let r = r.clone();
                std::thread::spawn(move || {
                    let _ = handle(client, upstream, fault, &r);
                });
            }
        });
        FaultProxy { addr, script, fallback, requests, stop, thread: Some(thread) }
    }

    /// What to do with every request once the script is used up.
    pub fn otherwise(&self, fault: Fault) {
        *self.fallback.lock().unwrap() = fault;
    }

    /// Queue faults for the next requests, in order.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.script.lock().unwrap().extend(faults);
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Read up to the end of the head; returns (head, body bytes read past it).
fn read_head(stream: &mut TcpStream) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(i + 4);
            return Ok((buf, rest));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::other("closed before the end of the head"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// Read the rest of a body of `total` bytes, of which `have` arrived with the head.
fn read_body(stream: &mut TcpStream, mut have: Vec<u8>, total: usize) -> std::io::Result<Vec<u8>> {
    let mut chunk = vec![0u8; 64 << 10];
    while have.len() < total {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        have.extend_from_slice(&chunk[..n]);
    }
    Ok(have)
}

fn handle(mut client: TcpStream, upstream: SocketAddr, fault: Fault, requests: &AtomicUsize) -> std::io::Result<()> {
    let (head, early) = read_head(&mut client)?;
    requests.fetch_add(1, Ordering::SeqCst);
    let length = content_length(&head);
    match fault {
        Fault::Respond { status, headers, body } => {
            read_body(&mut client, early, length)?;
            let mut response =
                format!("HTTP/1.1 {status} Fault\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
            for (k, v) in headers {
                response.push_str(&format!("{k}: {v}\r\n"));
            }
            response.push_str("\r\n");
            response.push_str(&body);
            client.write_all(response.as_bytes())?;
        }
        Fault::ResetAfterRequestBytes(n) => {
            let mut got = early.len();
            let mut chunk = vec![0u8; 64 << 10];
            while got < n.min(length) {
                let r = client.read(&mut chunk)?;
                if r == 0 {
                    break;
                }
                got += r;
            }
            // SO_LINGER 0 would be a true reset; closing mid-body is what the client sees.
            client.shutdown(Shutdown::Both)?;
        }
        Fault::Pass | Fault::TruncateResponse(_) | Fault::StallAfterHead(_) | Fault::FlipBitWhenPathHas(_) => {
            let body = read_body(&mut client, early, length)?;
            let mut up = TcpStream::connect(upstream)?;
            // Ask the upstream to close after answering, so its end of the body is its close.
            let head_text = String::from_utf8_lossy(&head).replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n");
            up.write_all(head_text.as_bytes())?;
            up.write_all(&body)?;
            let (response_head, response_early) = read_head(&mut up)?;
            client.write_all(&response_head)?;
            let total = content_length(&response_head);
            if let Fault::StallAfterHead(wait) = fault {
                std::thread::sleep(wait);
                client.shutdown(Shutdown::Both)?;
                return Ok(());
            }
            let keep = match fault {
                Fault::TruncateResponse(n) => n.min(total),
                _ => total,
            };
            let mut response_body = read_body(&mut up, response_early, total)?;
            if let Fault::FlipBitWhenPathHas(text) = &fault {
                let request_line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_string();
                if request_line.contains(text.as_str()) && !response_body.is_empty() {
                    let middle = response_body.len() / 2;
                    response_body[middle] ^= 0x10;
                }
            }
            client.write_all(&response_body[..keep.min(response_body.len())])?;
            client.shutdown(Shutdown::Both)?;
        }
    }
    Ok(())
}
