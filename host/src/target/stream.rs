//! The stream path. `put` lends the plugin an `input-stream` over the body that reads large
//! blocks inline (the stock async adapter runs at ~0.15x native); `get` reads the plugin's
//! returned stream in large reads and writes it to the sink. Host memory stays flat: at most
//! one block is in flight.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use wasmtime_wasi::p2::{InputStream, Pollable, StreamError, StreamResult};

/// Bytes per read from the body, and per read from a plugin's stream.
pub const BLOCK: usize = 256 << 10;

/// The bytes to put.
pub enum Body {
    /// A file: replayable, so a retryable failure can be retried.
    File(PathBuf),
    /// Bytes in memory: replayable.
    Bytes(Bytes),
    /// Bytes in memory in several pieces (a pack file as rustic_core hands it over):
    /// replayable.
    Chunks(Vec<Bytes>),
    /// A one-shot reader such as stdin: never retried.
    Reader(Box<dyn Read + Send>),
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::File(p) => write!(f, "Body::File({})", p.display()),
            Body::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            Body::Chunks(c) => write!(f, "Body::Chunks({} bytes)", c.iter().map(Bytes::len).sum::<usize>()),
            Body::Reader(_) => f.write_str("Body::Reader"),
        }
    }
}

impl Body {
    /// Whether the body can be read again for a retry.
    pub fn is_replayable(&self) -> bool {
        !matches!(self, Body::Reader(_))
    }
}

/// A failure of the body's own source (not of the plugin), recorded so the host reports the
/// real cause instead of the plugin's view of it.
#[derive(Debug, Default, Clone)]
pub(crate) struct SourceError(Arc<Mutex<Option<std::io::Error>>>);

impl SourceError {
    pub(crate) fn take(&self) -> Option<std::io::Error> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn set(&self, e: std::io::Error) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }
}

/// An `input-stream` over a reader that reads up to [`BLOCK`] bytes inline per call. It runs
/// on a thread that may block, so a blocking read is fine here.
pub(crate) struct ReaderStream {
    reader: Box<dyn Read + Send>,
    moved: Arc<AtomicU64>,
    error: SourceError,
    closed: bool,
}

impl ReaderStream {
    pub(crate) fn new(reader: Box<dyn Read + Send>, moved: Arc<AtomicU64>, error: SourceError) -> Self {
        ReaderStream { reader, moved, error, closed: false }
    }
}

#[async_trait::async_trait]
impl Pollable for ReaderStream {
    async fn ready(&mut self) {}
}

impl InputStream for ReaderStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.closed {
            return Err(StreamError::Closed);
        }
        let want = size.min(BLOCK);
        if want == 0 {
            return Ok(Bytes::new());
        }
        let mut buf = BytesMut::zeroed(want);
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => {
                    self.closed = true;
                    return Err(StreamError::Closed);
                }
                Ok(n) => {
                    buf.truncate(n);
                    self.moved.fetch_add(n as u64, Ordering::Relaxed);
                    return Ok(buf.freeze());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let message = format!("reading the body failed: {e}");
                    self.error.set(e);
                    self.closed = true;
                    return Err(StreamError::LastOperationFailed(wasmtime::Error::msg(message)));
                }
            }
        }
    }
}

/// Reads a list of byte pieces one after the other.
pub(crate) struct ChunksReader {
    chunks: std::collections::VecDeque<Bytes>,
}

impl ChunksReader {
    pub(crate) fn new(chunks: Vec<Bytes>) -> Self {
        ChunksReader { chunks: chunks.into() }
    }
}

impl Read for ChunksReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(front) = self.chunks.front_mut() {
            if front.is_empty() {
                self.chunks.pop_front();
                continue;
            }
            let n = front.len().min(buf.len());
            buf[..n].copy_from_slice(&front[..n]);
            bytes::Buf::advance(front, n);
            return Ok(n);
        }
        Ok(0)
    }
}

/// A writer that counts what passes through it.
pub(crate) struct CountingWriter<'a> {
    pub(crate) inner: &'a mut (dyn Write + Send),
    pub(crate) written: u64,
}

impl Write for CountingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
