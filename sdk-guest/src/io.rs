//! Bodies in and out: `std::io` adapters over WASI streams, and the splice fast path.
//!
//! Speed: bytes that only pass through a plugin should never enter its memory. A put that
//! stores into a file should [`Body::write_to_file`] (a WASI splice: the host moves the bytes
//! from its source into the file), and a get that serves a file should return
//! [`GetBody::file`] (the file's own stream, handed to the host untouched). `Read`/`Write`
//! are there for everything else: parsing, computing, talking to other APIs.

use std::io::{Read, Write};

use wasip2::filesystem::types::Descriptor;
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use crate::types::{Error, ObjectMeta, Result};

/// The most bytes one splice or read asks the host for.
const CHUNK: u64 = 1 << 20;
/// `blocking-write-and-flush` accepts at most this many bytes per call (WASI's rule).
const WRITE_LIMIT: usize = 4096;

/// The body of a put: a stream the host lends for the call. Read it with [`Read`], or splice
/// it straight into a sink with [`Body::splice_into`] / [`Body::write_to_file`].
pub struct Body<'a> {
    stream: &'a InputStream,
    received: u64,
}

impl<'a> Body<'a> {
    pub(crate) fn new(stream: &'a InputStream) -> Self {
        Body { stream, received: 0 }
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The underlying WASI stream, for APIs that take one.
    pub fn stream(&self) -> &InputStream {
        self.stream
    }

    /// Move the rest of the body into `sink` without copying it through this plugin's memory,
    /// and flush. Returns the bytes moved by this call. A failure of the host's source is
    /// [`Error::Unavailable`].
    pub fn splice_into(&mut self, sink: &OutputStream) -> Result<u64> {
        let mut moved = 0;
        loop {
            match sink.blocking_splice(self.stream, CHUNK) {
                Ok(n) => moved += n,
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    self.received += moved;
                    return Err(Error::unavailable(format!(
                        "the body failed after {} bytes: {}",
                        self.received,
                        e.to_debug_string()
                    )));
                }
            }
        }
        self.received += moved;
        flush(sink)?;
        Ok(moved)
    }

    /// Write the rest of the body into `file` from its start, then sync it: the fast path
    /// for storing into a file. Returns the bytes written.
    pub fn write_to_file(&mut self, file: &Descriptor) -> Result<u64> {
        let written = self.copy_to_file(file)?;
        file.sync().map_err(|e| Error::other(format!("syncing the file: {e:?}")))?;
        Ok(written)
    }

    /// [`Body::write_to_file`] without the sync, for files whose durability is not the
    /// point (restored files: restic does not sync them either, and thousands of syncs cost
    /// more than the copies). Returns the bytes written.
    pub fn copy_to_file(&mut self, file: &Descriptor) -> Result<u64> {
        let sink =
            file.write_via_stream(0).map_err(|e| Error::other(format!("opening the file for writing: {e:?}")))?;
        let written = self.splice_into(&sink)?;
        drop(sink);
        Ok(written)
    }
}

impl Read for Body<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = read_stream(self.stream, buf)?;
        self.received += n as u64;
        Ok(n)
    }
}

fn read_stream(stream: &InputStream, buf: &mut [u8]) -> std::io::Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    match stream.blocking_read((buf.len() as u64).min(CHUNK)) {
        Ok(bytes) => {
            buf[..bytes.len()].copy_from_slice(&bytes);
            Ok(bytes.len())
        }
        Err(StreamError::Closed) => Ok(0),
        Err(StreamError::LastOperationFailed(e)) => Err(std::io::Error::other(e.to_debug_string())),
    }
}

fn flush(sink: &OutputStream) -> Result<()> {
    match sink.blocking_flush() {
        Ok(()) => Ok(()),
        Err(StreamError::Closed) => Err(Error::unavailable("the sink closed while flushing")),
        Err(StreamError::LastOperationFailed(e)) => {
            Err(Error::unavailable(format!("flushing failed: {}", e.to_debug_string())))
        }
    }
}

/// [`Read`] over a WASI input stream the plugin opened (a file, an HTTP body).
pub struct StreamReader {
    stream: InputStream,
}

impl StreamReader {
    /// Wrap a stream.
    pub fn new(stream: InputStream) -> Self {
        StreamReader { stream }
    }

    /// The stream back.
    pub fn into_inner(self) -> InputStream {
        self.stream
    }
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        read_stream(&self.stream, buf)
    }
}

/// [`Write`] over a WASI output stream, in pieces of at most 4,096 bytes as
/// `blocking-write-and-flush` requires.
pub struct StreamWriter {
    stream: OutputStream,
}

impl StreamWriter {
    /// Wrap a stream.
    pub fn new(stream: OutputStream) -> Self {
        StreamWriter { stream }
    }

    /// The stream back.
    pub fn into_inner(self) -> OutputStream {
        self.stream
    }
}

impl Write for StreamWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(WRITE_LIMIT);
        match self.stream.blocking_write_and_flush(&buf[..n]) {
            Ok(()) => Ok(n),
            Err(StreamError::Closed) => Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
            Err(StreamError::LastOperationFailed(e)) => Err(std::io::Error::other(e.to_debug_string())),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        flush(&self.stream).map_err(|e| std::io::Error::other(e.to_string()))
    }
}

/// What `get` returns: the object's metadata, how many bytes follow, and the bytes.
pub struct GetBody {
    pub(crate) meta: ObjectMeta,
    pub(crate) length: u64,
    pub(crate) kind: BodyKind,
}

pub(crate) enum BodyKind {
    Stream(InputStream),
    Bytes(Vec<u8>),
    Reader(Box<dyn Read>),
}

impl GetBody {
    /// A WASI stream handed to the host untouched (the fast path). `length` is exactly how many
    /// bytes the host will read from it.
    pub fn stream(meta: ObjectMeta, length: u64, stream: InputStream) -> Self {
        GetBody { meta, length, kind: BodyKind::Stream(stream) }
    }

    /// `length` bytes of `file` from `offset`, as the file's own stream (the fast path).
    pub fn file(meta: ObjectMeta, file: &Descriptor, offset: u64, length: u64) -> Result<Self> {
        let stream =
            file.read_via_stream(offset).map_err(|e| Error::other(format!("opening the file for reading: {e:?}")))?;
        Ok(GetBody::stream(meta, length, stream))
    }

    /// Bytes the plugin holds (small objects).
    pub fn bytes(meta: ObjectMeta, bytes: Vec<u8>) -> Self {
        GetBody { meta, length: bytes.len() as u64, kind: BodyKind::Bytes(bytes) }
    }

    /// Bytes the plugin produces as the host pulls them; `length` is exactly how many.
    pub fn reader(meta: ObjectMeta, length: u64, reader: impl Read + 'static) -> Self {
        GetBody { meta, length, kind: BodyKind::Reader(Box::new(reader)) }
    }

    /// The metadata.
    pub fn meta(&self) -> &ObjectMeta {
        &self.meta
    }

    /// The bytes that follow.
    pub fn length(&self) -> u64 {
        self.length
    }
}
