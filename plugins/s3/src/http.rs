//! A small blocking HTTP client over `wasi:http`, with the two fast paths the plugin needs:
//! splicing the host's stream into a request body, and handing a response body stream back.

use warden_sdk::wasip2::http::outgoing_handler;
use warden_sdk::wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingResponse, Method as WasiMethod, OutgoingBody, OutgoingRequest, Scheme,
};
use warden_sdk::wasip2::io::streams::{InputStream, OutputStream, StreamError};
use warden_sdk::{Error, Result};

use crate::xml;

/// The largest error or listing body the plugin reads into memory.
const MAX_TEXT: usize = 8 << 20;
/// `blocking-write-and-flush` takes at most this much at a time.
const WRITE_LIMIT: usize = 4096;
/// Bytes per splice call.
const SPLICE_CHUNK: u64 = 1 << 20;

/// The HTTP methods S3 object operations use.
#[derive(Debug, Clone, Copy)]
pub enum Method {
    Get,
    Head,
    Put,
    Post,
    Delete,
}

/// What a request carries.
pub enum RequestBody<'a> {
    Empty,
    Bytes(Vec<u8>),
    /// Exactly `length` bytes spliced from the host's stream. With `last`, the stream must end
    /// right there: the final byte is held back until that is checked, so a body longer or
    /// shorter than declared never reaches the server complete.
    Splice {
        input: &'a InputStream,
        length: u64,
        last: bool,
    },
}

impl RequestBody<'_> {
    fn length(&self) -> u64 {
        match self {
            RequestBody::Empty => 0,
            RequestBody::Bytes(b) => b.len() as u64,
            RequestBody::Splice { length, .. } => *length,
        }
    }
}

/// One request.
pub struct Request<'a> {
    method: Method,
    path_and_query: String,
    headers: Vec<(String, String)>,
    body: RequestBody<'a>,
}

impl<'a> Request<'a> {
    pub fn new(method: Method, path_and_query: String) -> Self {
        Request { method, path_and_query, headers: Vec::new(), body: RequestBody::Empty }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: RequestBody<'a>) -> Self {
        self.body = body;
        self
    }
}

/// A response: status, headers (read eagerly), and the body not yet consumed.
pub struct Response {
    pub status: u16,
    headers: Vec<(String, Vec<u8>)>,
    response: IncomingResponse,
}

/// Resources behind a body stream handed to the host; dropped once the host is done.
pub struct Held {
    _body: IncomingBody,
    _response: IncomingResponse,
}

impl From<IncomingResponse> for Response {
    /// Read the status and headers now: the headers resource must go before the response.
    fn from(response: IncomingResponse) -> Self {
        let status = response.status();
        let headers = {
            let fields = response.headers();
            let entries = fields.entries();
            drop(fields);
            entries
        };
        Response { status, headers, response }
    }
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length").and_then(|v| v.trim().parse().ok())
    }

    /// The body as text (capped).
    pub fn text(self) -> Result<String> {
        let body = self.response.consume().map_err(|()| Error::other("the response body was already taken"))?;
        let stream = body.stream().map_err(|()| Error::other("the response body has no stream"))?;
        let mut out = Vec::new();
        loop {
            match stream.blocking_read(64 << 10) {
                Ok(chunk) => {
                    out.extend_from_slice(&chunk);
                    if out.len() > MAX_TEXT {
                        return Err(Error::other("the server's answer is unreasonably large"));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(Error::unavailable(format!("reading the answer failed: {}", e.to_debug_string())));
                }
            }
        }
        drop(stream);
        drop(body);
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// The body as a stream for the host, and what must stay alive while it is read.
    pub fn into_stream(self) -> Result<(InputStream, Held)> {
        let body = self.response.consume().map_err(|()| Error::other("the response body was already taken"))?;
        let stream = body.stream().map_err(|()| Error::other("the response body has no stream"))?;
        Ok((stream, Held { _body: body, _response: self.response }))
    }

    /// The error this (unsuccessful) response stands for.
    pub fn error(self, op: &str, key: &str, bucket: &str) -> Error {
        let status = self.status;
        let retry_after = self.header("retry-after").and_then(|v| v.trim().parse().ok());
        let text = self.text().unwrap_or_default();
        error_from(status, &text, retry_after, op, key, bucket)
    }
}

/// Map an S3 error answer to the contract's classes. Only the error's code and message are
/// used (S3's error bodies can echo request details; none of it is needed).
pub fn error_from(status: u16, text: &str, retry_after: Option<u32>, op: &str, key: &str, bucket: &str) -> Error {
    let code = xml::child_text(text, "Code").unwrap_or_default();
    let message = xml::child_text(text, "Message").unwrap_or_default();
    let what = format!("{op} `{key}`: {status} {code}{}{message}", if message.is_empty() { "" } else { ": " });
    match (status, code.as_str()) {
        (_, "NoSuchBucket") => Error::invalid_input(format!(
            "{what} (bucket `{bucket}` does not exist at this endpoint; check the `bucket` setting)"
        )),
        (_, "NoSuchKey") | (404, _) => Error::not_found(what),
        (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AuthorizationHeaderMalformed" | "ExpiredToken")
        | (401, _) => Error::unauthenticated(format!("{what} (check the access key, the secret and the region)")),
        (_, "AccessDenied") => Error::permission_denied(what),
        // HEAD answers carry no body to tell a refused key from a missing permission.
        (403, "") => Error::permission_denied(format!(
            "{what}: access denied or credentials not accepted; `warden target test` tells which"
        )),
        (403, _) => Error::permission_denied(what),
        (_, "SlowDown") | (429, _) => Error::rate_limited(retry_after, what),
        (412, _) => Error::already_exists(what),
        (500 | 502 | 503 | 504, _) | (_, "InternalError" | "ServiceUnavailable" | "RequestTimeout") => {
            Error::unavailable(what)
        }
        (400 | 411 | 413 | 416, _) => Error::invalid_input(what),
        _ => Error::other(what),
    }
}

/// The endpoint requests go to.
pub struct Client {
    scheme: Scheme,
    authority: String,
    base_path: String,
    endpoint: String,
}

impl Client {
    pub fn new(endpoint: &str) -> Result<Client> {
        let (scheme, rest) = endpoint
            .split_once("://")
            .ok_or_else(|| Error::invalid_input(format!("the endpoint {endpoint:?} has no scheme")))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            other => return Err(Error::invalid_input(format!("the endpoint's scheme {other:?} is not http or https"))),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(Error::invalid_input(format!("the endpoint {endpoint:?} has no host")));
        }
        Ok(Client {
            scheme,
            authority: authority.to_string(),
            base_path: path.to_string(),
            endpoint: endpoint.to_string(),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Send a request and wait for the response's head.
    pub fn send(&self, request: Request<'_>) -> Result<Response> {
        let headers = Fields::new();
        for (name, value) in &request.headers {
            headers.append(name, value.as_bytes()).map_err(|e| Error::other(format!("header {name}: {e:?}")))?;
        }
        let length = request.body.length();
        if matches!(request.method, Method::Put | Method::Post | Method::Delete) {
            headers
                .append("content-length", length.to_string().as_bytes())
                .map_err(|e| Error::other(format!("content-length: {e:?}")))?;
        }
        let outgoing = OutgoingRequest::new(headers);
        let method = match request.method {
            Method::Get => WasiMethod::Get,
            Method::Head => WasiMethod::Head,
            Method::Put => WasiMethod::Put,
            Method::Post => WasiMethod::Post,
            Method::Delete => WasiMethod::Delete,
        };
        let invalid = |what: &str| Error::other(format!("the request's {what} was refused"));
        outgoing.set_method(&method).map_err(|()| invalid("method"))?;
        outgoing.set_scheme(Some(&self.scheme)).map_err(|()| invalid("scheme"))?;
        outgoing.set_authority(Some(&self.authority)).map_err(|()| invalid("authority"))?;
        outgoing
            .set_path_with_query(Some(&format!("{}{}", self.base_path, request.path_and_query)))
            .map_err(|()| invalid("path"))?;
        let body = outgoing.body().map_err(|()| invalid("body"))?;
        // Send first, then stream the body: the host consumes it as it goes.
        let future = outgoing_handler::handle(outgoing, None).map_err(|e| self.transport_error(e))?;
        let stream = body.write().map_err(|()| invalid("body stream"))?;
        let written = write_body(&stream, request.body);
        drop(stream);
        match written {
            // A body that does not match its declared size is abandoned unfinished, so the
            // server never sees it complete.
            Err(e @ Error::InvalidInput(_)) => {
                drop(body);
                drop(future);
                return Err(e);
            }
            // The server may have answered early (an error) and closed: report its answer.
            Err(e) => {
                drop(body);
                future.subscribe().block();
                return match future.get() {
                    Some(Ok(Ok(response))) => {
                        warden_sdk::debug!("sending the body failed ({e}); the server answered {}", response.status());
                        Ok(Response::from(response))
                    }
                    Some(Ok(Err(code))) => Err(self.transport_error(code)),
                    _ => Err(e),
                };
            }
            Ok(()) => OutgoingBody::finish(body, None).map_err(|e| self.transport_error(e))?,
        }
        future.subscribe().block();
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(e))) => return Err(self.transport_error(e)),
            _ => return Err(Error::unavailable("the response never arrived")),
        };
        Ok(Response::from(response))
    }

    fn transport_error(&self, e: ErrorCode) -> Error {
        match e {
            ErrorCode::HttpRequestDenied => Error::permission_denied(format!(
                "the host refused a request to {}: only the configured endpoint, bucket and prefix may be used",
                self.endpoint
            )),
            ErrorCode::HttpRequestBodySize(_) => {
                Error::invalid_input("the body's size differs from the one declared; nothing was stored")
            }
            e => Error::unavailable(format!("cannot reach {}: {e:?}", self.endpoint)),
        }
    }
}

fn write_body(out: &OutputStream, body: RequestBody<'_>) -> Result<()> {
    match body {
        RequestBody::Empty => Ok(()),
        RequestBody::Bytes(bytes) => {
            for chunk in bytes.chunks(WRITE_LIMIT) {
                out.blocking_write_and_flush(chunk).map_err(stream_error)?;
            }
            Ok(())
        }
        RequestBody::Splice { input, length, last } => {
            let held_back = u64::from(last && length > 0);
            splice_exact(out, input, length - held_back)?;
            if last {
                // The declared size must be exactly what the stream holds.
                let tail = read_up_to(input, held_back + 1)?;
                if tail.len() as u64 != held_back || !at_end(input)? {
                    return Err(Error::invalid_input(
                        "the body's size differs from the one declared; nothing was stored",
                    ));
                }
                out.blocking_write_and_flush(&tail).map_err(stream_error)?;
            }
            out.blocking_flush().map_err(stream_error)
        }
    }
}

/// Splice exactly `length` bytes, failing if the input ends sooner.
fn splice_exact(out: &OutputStream, input: &InputStream, length: u64) -> Result<()> {
    let mut moved = 0;
    while moved < length {
        match out.blocking_splice(input, (length - moved).min(SPLICE_CHUNK)) {
            Ok(n) => moved += n,
            // Either side may be closed: the body ended early, or the connection went away.
            Err(StreamError::Closed) if at_end(input)? => {
                return Err(Error::invalid_input(format!(
                    "the body ended after {moved} of {length} bytes; nothing was stored"
                )));
            }
            Err(StreamError::Closed) => {
                return Err(Error::unavailable(format!("the connection closed after {moved} of {length} bytes")));
            }
            Err(e) => return Err(stream_error(e)),
        }
    }
    Ok(())
}

fn at_end(input: &InputStream) -> Result<bool> {
    match input.blocking_read(1) {
        Ok(bytes) => Ok(bytes.is_empty()),
        Err(StreamError::Closed) => Ok(true),
        Err(e) => Err(stream_error(e)),
    }
}

/// Read up to `limit` bytes (fewer only at the end of the stream).
pub fn read_up_to(input: &InputStream, limit: u64) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(limit.min(64 << 20) as usize);
    while (out.len() as u64) < limit {
        match input.blocking_read((limit - out.len() as u64).min(1 << 20)) {
            Ok(chunk) => out.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(e) => return Err(stream_error(e)),
        }
    }
    Ok(out)
}

fn stream_error(e: StreamError) -> Error {
    match e {
        StreamError::Closed => Error::unavailable("the connection closed while sending"),
        StreamError::LastOperationFailed(e) => Error::unavailable(format!("sending failed: {}", e.to_debug_string())),
    }
}

/// Percent-encode an object key for a URL path (S3's rules: unreserved and `/` stay).
pub fn encode_path(key: &str) -> String {
    encode(key, true)
}

/// Percent-encode a query value.
pub fn encode_query(value: &str) -> String {
    encode(value, false)
}

fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
