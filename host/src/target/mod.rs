//! The host-side handle on a target: key validation, a pool of plugin instances, deadlines,
//! retries and the streaming glue.

pub mod key;
mod retry;
pub(crate) mod stream;
mod types;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;
use wasmtime::component::ResourceAny;
use wasmtime_wasi::p2::DynInputStream;

pub use retry::RetryPolicy;
pub use stream::{BLOCK, Body};
pub use types::{ByteRange, Check, Features, ListPage, ObjectMeta, PutOptions};

use crate::bindings::v0_1;
use crate::capability::Grants;
use crate::error::{Error, Result};
use crate::plugin::{Kind, Plugin};
use crate::pool::{CallError, CallResult, Instance, Pool, block_on_watched, lend_reader, watch_of, watched};
use crate::runtime::Runtime;
use stream::{ChunksReader, CountingWriter};

/// A configured storage location served by a target plugin. Cheap to clone; calls from
/// several tasks run side by side on up to `instances_per_target` instances.
#[derive(Clone)]
pub struct Target {
    inner: Arc<Pool>,
}

/// What a `get` delivered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GetInfo {
    /// The object's metadata (its whole size).
    pub meta: ObjectMeta,
    /// The bytes written to the sink.
    pub length: u64,
}

impl Target {
    /// Open a target named `name` on `plugin` with the operator's settings. Checks the
    /// settings against the plugin's schema and resolves its grants; instances start lazily.
    pub fn open(runtime: &Runtime, plugin: Plugin, name: &str, settings: &BTreeMap<String, String>) -> Result<Target> {
        Ok(Target { inner: Arc::new(Pool::new(runtime, plugin, Kind::Target, name, settings)?) })
    }

    /// Replace the retry policy (tests use short delays). Call it before cloning the target.
    ///
    /// # Panics
    /// If the target was already cloned.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Target {
        Arc::get_mut(&mut self.inner).expect("with_retry is called before the target is shared").retry = retry;
        self
    }

    /// The target's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The plugin serving it.
    pub fn plugin(&self) -> &Plugin {
        &self.inner.plugin
    }

    /// What the plugin is granted for this target.
    pub fn grants(&self) -> &Grants {
        &self.inner.grants
    }

    /// What the target supports.
    pub async fn features(&self) -> Result<Features> {
        self.inner
            .call("features", None, |inst| {
                let w = watch_of(&inst.store);
                let g = inst.bindings.target().session();
                let fut = g.call_features(&mut inst.store, inst.session);
                Ok(Features::from(watched(w, fut)??))
            })
            .await
    }

    /// Run the plugin's connection checks.
    pub async fn test_connection(&self) -> Result<Vec<Check>> {
        self.inner
            .call("test-connection", None, |inst| {
                let w = watch_of(&inst.store);
                let g = inst.bindings.target().session();
                let fut = g.call_test_connection(&mut inst.store, inst.session);
                let checks = watched(w, fut)??.map_err(CallError::Plugin)?;
                Ok(checks.into_iter().map(Check::from).collect())
            })
            .await
    }

    /// Store `body` under `key`. Retries retryable failures when the body is replayable.
    pub async fn put(&self, key: &str, body: Body, options: PutOptions) -> Result<ObjectMeta> {
        self.put_progress(key, body, options, None).await
    }

    /// [`Target::put`], adding the bytes sent to `progress` as they go.
    pub async fn put_progress(
        &self,
        key: &str,
        body: Body,
        options: PutOptions,
        progress: Option<Arc<AtomicU64>>,
    ) -> Result<ObjectMeta> {
        key::validate(key)?;
        let replayable = body.is_replayable();
        let body = Arc::new(Mutex::new(Some(body)));
        self.inner
            .retrying("put", key, replayable, || {
                let (key, body, progress) = (key.to_string(), body.clone(), progress.clone());
                move |inst: &mut Instance| put_once(inst, &key, &body, options, progress)
            })
            .await
    }

    /// Read `key` (or a range of it) into `sink`, returning what was read and the sink.
    /// Retries retryable failures that happen before any byte reached the sink.
    pub async fn get<W: Write + Send + 'static>(
        &self,
        key: &str,
        range: Option<ByteRange>,
        sink: W,
    ) -> Result<(GetInfo, W)> {
        self.get_at_most(key, range, None, sink).await
    }

    /// [`Target::get`] that refuses, before reading any of it, a body the plugin says is
    /// longer than `limit` (for reads into memory of what can only be so big).
    pub async fn get_at_most<W: Write + Send + 'static>(
        &self,
        key: &str,
        range: Option<ByteRange>,
        limit: Option<u64>,
        sink: W,
    ) -> Result<(GetInfo, W)> {
        key::validate(key)?;
        let sink = Arc::new(Mutex::new(Some(sink)));
        // Retryable errors come only from the plugin's call, before any byte reached the
        // sink; failures mid-body are `BodyFailed`, which is not retryable.
        let info = self
            .inner
            .retrying("get", key, true, || {
                let (key, sink) = (key.to_string(), sink.clone());
                move |inst: &mut Instance| {
                    let mut guard = sink.lock().unwrap_or_else(|p| p.into_inner());
                    let sink = guard.as_mut().expect("the sink stays in its slot until the end");
                    get_once(inst, &key, range, limit, sink)
                }
            })
            .await?;
        let sink = sink.lock().unwrap_or_else(|p| p.into_inner()).take().expect("the sink is still in its slot");
        Ok((info, sink))
    }

    /// Read `key` (or a range of it) into memory.
    pub async fn get_bytes(&self, key: &str, range: Option<ByteRange>) -> Result<Vec<u8>> {
        Ok(self.get(key, range, Vec::new()).await?.1)
    }

    /// The object's metadata.
    pub async fn head(&self, key: &str) -> Result<ObjectMeta> {
        key::validate(key)?;
        self.inner
            .retrying("head", key, true, || {
                let key = key.to_string();
                move |inst: &mut Instance| {
                    let w = watch_of(&inst.store);
                    let g = inst.bindings.target().session();
                    let fut = g.call_head(&mut inst.store, inst.session, &key);
                    Ok(ObjectMeta::from(watched(w, fut)??.map_err(CallError::Plugin)?))
                }
            })
            .await
    }

    /// Remove `key`; removing a missing key succeeds.
    pub async fn delete(&self, key: &str) -> Result<()> {
        key::validate(key)?;
        self.inner
            .retrying("delete", key, true, || {
                let key = key.to_string();
                move |inst: &mut Instance| {
                    let w = watch_of(&inst.store);
                    let g = inst.bindings.target().session();
                    let fut = g.call_delete(&mut inst.store, inst.session, &key);
                    watched(w, fut)??.map_err(CallError::Plugin)
                }
            })
            .await
    }

    /// Remove what interrupted puts left behind, untouched for `idle`; returns how many.
    pub async fn gc(&self, idle: Duration) -> Result<u64> {
        let seconds = idle.as_secs();
        self.inner
            .retrying("gc", "", true, || {
                move |inst: &mut Instance| {
                    let w = watch_of(&inst.store);
                    let g = inst.bindings.target().session();
                    let fut = g.call_gc(&mut inst.store, inst.session, seconds);
                    watched(w, fut)??.map_err(CallError::Plugin)
                }
            })
            .await
    }

    /// One page of keys under `prefix` after `cursor`, at most `limit` (0: the plugin's
    /// maximum). The page is checked against the contract: order, prefix, cursor, size.
    pub async fn list(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> Result<ListPage> {
        key::validate_prefix(prefix)?;
        if let Some(c) = cursor {
            key::validate(c)?;
        }
        self.inner
            .retrying("list", prefix, true, || {
                let (p, c, plugin) =
                    (prefix.to_string(), cursor.map(str::to_string), self.inner.plugin.name().to_string());
                move |inst: &mut Instance| {
                    let w = watch_of(&inst.store);
                    let g = inst.bindings.target().session();
                    let fut = g.call_list(&mut inst.store, inst.session, &p, c.as_deref(), limit);
                    let page = watched(w, fut)??.map_err(CallError::Plugin)?;
                    check_page(&plugin, &p, c.as_deref(), limit, page).map_err(CallError::Host)
                }
            })
            .await
    }

    /// Every object under `prefix`, following pages. Refuses a plugin whose cursor does not
    /// advance.
    pub async fn list_all(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.list(prefix, cursor.as_deref(), 0).await?;
            all.extend(page.objects);
            match page.next {
                None => return Ok(all),
                Some(next) => {
                    if cursor.as_deref().is_some_and(|c| next.as_str() <= c) {
                        return Err(Error::Contract {
                            plugin: self.inner.plugin.name().to_string(),
                            op: "list",
                            detail: format!("its next cursor {next:?} does not advance past {cursor:?}"),
                        });
                    }
                    cursor = Some(next);
                }
            }
        }
    }
}

fn put_once(
    inst: &mut Instance,
    key: &str,
    body: &Mutex<Option<Body>>,
    options: PutOptions,
    progress: Option<Arc<AtomicU64>>,
) -> CallResult<ObjectMeta> {
    let plugin = inst.store.data().log.plugin().to_string();
    let (reader, size): (Box<dyn Read + Send>, Option<u64>) = {
        let mut slot = body.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(Body::File(path)) => {
                let file = std::fs::File::open(path)
                    .map_err(|e| CallError::Host(Error::io(format!("opening the body of put `{key}`"), path, e)))?;
                let len = file.metadata().map(|m| m.len()).ok();
                (Box::new(file), len)
            }
            Some(Body::Bytes(bytes)) => (Box::new(std::io::Cursor::new(bytes.clone())), Some(bytes.len() as u64)),
            Some(Body::Chunks(chunks)) => {
                let size = chunks.iter().map(|c| c.len() as u64).sum();
                (Box::new(ChunksReader::new(chunks.clone())), Some(size))
            }
            Some(Body::Reader(_)) => match slot.take() {
                Some(Body::Reader(r)) => (r, None),
                _ => unreachable!("matched a reader above"),
            },
            None => {
                return Err(CallError::Host(Error::Runtime {
                    plugin,
                    op: "put",
                    detail: "a one-shot body cannot be sent twice".into(),
                }));
            }
        }
    };
    let reader: Box<dyn Read + Send> = match progress {
        Some(counter) => Box::new(ProgressReader { inner: reader, counter }),
        None => reader,
    };
    let declared = options.declared_size.or(size);
    let wit_options = v0_1::PutOptions { create_only: options.create_only, size: declared };
    let (outcome, source_failed) = lend_reader(inst, "put", reader, |inst, body| {
        let w = watch_of(&inst.store);
        let g = inst.bindings.target().session();
        watched(w, g.call_put(&mut inst.store, inst.session, key, body, wit_options))
    })?;
    if let Some(e) = source_failed {
        return Err(CallError::Host(Error::io(format!("reading the body of put `{key}`"), "-", e)));
    }
    let meta = ObjectMeta::from(outcome??.map_err(CallError::Plugin)?);
    if let Some(expected) = declared
        && meta.size != expected
        && options.declared_size.is_none()
    {
        return Err(CallError::Host(Error::Contract {
            plugin,
            op: "put",
            detail: format!("it reported {} bytes stored for `{key}`, but {expected} were sent", meta.size),
        }));
    }
    Ok(meta)
}

fn get_once(
    inst: &mut Instance,
    key: &str,
    range: Option<ByteRange>,
    limit: Option<u64>,
    sink: &mut (dyn Write + Send),
) -> CallResult<GetInfo> {
    let plugin = inst.store.data().log.plugin().to_string();
    let w = watch_of(&inst.store);
    let g = inst.bindings.target().session();
    let fut = g.call_get(&mut inst.store, inst.session, key, range.map(Into::into));
    let body = watched(w, fut)??.map_err(CallError::Plugin)?;
    let meta = ObjectMeta::from(body.meta);
    let expected = body.length;
    let most = match range {
        Some(r) => meta.size.saturating_sub(r.offset).min(r.length.unwrap_or(u64::MAX)),
        None => meta.size,
    };
    let promised_wrong = match range {
        Some(_) => expected > most,
        None => expected != meta.size,
    };
    if promised_wrong {
        discard_body(inst, body.body);
        return Err(CallError::Host(Error::Contract {
            plugin,
            op: "get",
            detail: format!(
                "for `{key}` it promised {expected} bytes, but the object has {} and the request allows {most}",
                meta.size
            ),
        }));
    }
    if let Some(limit) = limit.filter(|l| expected > *l) {
        discard_body(inst, body.body);
        return Err(CallError::Host(Error::Contract {
            plugin,
            op: "get",
            detail: format!("for `{key}` it promised {expected} bytes, more than such an object can be ({limit})"),
        }));
    }
    let mut out = CountingWriter { inner: sink, written: 0 };
    let copied = copy_body(inst, body.body, expected, &mut out);
    let failed = |detail: String, after: u64| {
        CallError::Host(Error::BodyFailed { plugin: plugin.clone(), key: key.to_string(), after, detail })
    };
    match copied {
        None => Err(CallError::Stalled),
        Some(Err(CopyError::Sink(e))) => {
            Err(CallError::Host(Error::io(format!("writing the body of get `{key}`"), "-", e)))
        }
        Some(Err(CopyError::Stream(detail))) => Err(failed(detail, out.written)),
        Some(Err(CopyError::Contract(detail))) => {
            Err(CallError::Host(Error::Contract { plugin, op: "get", detail: format!("for `{key}` {detail}") }))
        }
        Some(Err(CopyError::Trap(e))) => Err(CallError::Trap(e)),
        Some(Ok(got)) if got < expected => {
            Err(CallError::Host(Error::ShortBody { plugin, key: key.to_string(), expected, got }))
        }
        Some(Ok(_)) => {
            out.flush().map_err(|e| CallError::Host(Error::io(format!("writing the body of get `{key}`"), "-", e)))?;
            Ok(GetInfo { meta, length: out.written })
        }
    }
}

/// Release a body the host will not read.
fn discard_body(inst: &mut Instance, body: v0_1::Body) {
    match body {
        v0_1::Body::Stream(stream) => {
            let _ = inst.store.data_mut().table.delete(stream);
        }
        v0_1::Body::Bytes(_) => {}
        v0_1::Body::Reader(reader) => {
            let _ = Handle::current().block_on(reader.resource_drop_async(&mut inst.store));
        }
    }
}

/// Copy up to `expected` bytes of a plugin's body into `out`; `None` if it stalled.
fn copy_body(
    inst: &mut Instance,
    body: v0_1::Body,
    expected: u64,
    out: &mut CountingWriter<'_>,
) -> Option<std::result::Result<u64, CopyError>> {
    let (moved, idle) = watch_of(&inst.store);
    match body {
        v0_1::Body::Stream(stream) => {
            let copied = match inst.store.data_mut().table.get_mut(&stream) {
                Ok(input) => block_on_watched(moved.clone(), idle, copy_stream(input, expected, out, &moved)),
                Err(e) => Some(Err(CopyError::Stream(e.to_string()))),
            };
            let _ = inst.store.data_mut().table.delete(stream);
            copied
        }
        v0_1::Body::Bytes(bytes) => Some(if bytes.len() as u64 > expected {
            Err(CopyError::Contract(format!("it returned {} bytes after promising {expected}", bytes.len())))
        } else {
            out.write_all(&bytes).map(|()| bytes.len() as u64).map_err(CopyError::Sink)
        }),
        v0_1::Body::Reader(reader) => {
            let copied = read_all(inst, reader, expected, out, &moved, idle);
            discard_body(inst, v0_1::Body::Reader(reader));
            copied
        }
    }
}

/// Pull a plugin's body reader until it has yielded `expected` bytes or ends.
fn read_all(
    inst: &mut Instance,
    reader: ResourceAny,
    expected: u64,
    out: &mut CountingWriter<'_>,
    moved: &Arc<AtomicU64>,
    idle: Duration,
) -> Option<std::result::Result<u64, CopyError>> {
    let mut got = 0u64;
    while got < expected {
        let max = (expected - got).min(BLOCK as u64) as u32;
        let g = inst.bindings.target().body_reader();
        let chunk = match block_on_watched(moved.clone(), idle, g.call_read(&mut inst.store, reader, max))? {
            Err(trap) => return Some(Err(CopyError::Trap(trap))),
            Ok(Err(e)) => return Some(Err(CopyError::Stream(format!("{e:?}")))),
            Ok(Ok(chunk)) => chunk,
        };
        if chunk.len() > max as usize {
            return Some(Err(CopyError::Contract(format!(
                "its reader returned {} bytes when asked for at most {max}",
                chunk.len()
            ))));
        }
        if chunk.is_empty() {
            break;
        }
        if let Err(e) = out.write_all(&chunk) {
            return Some(Err(CopyError::Sink(e)));
        }
        got += chunk.len() as u64;
        moved.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
    Some(Ok(got))
}

pub(crate) enum CopyError {
    /// The plugin's stream or reader failed.
    Stream(String),
    /// The sink failed.
    Sink(std::io::Error),
    /// The plugin broke the contract while delivering.
    Contract(String),
    /// The plugin trapped while delivering.
    Trap(wasmtime::Error),
}

/// Copy exactly `expected` bytes (or fewer, if the stream ends) from a plugin's stream.
pub(crate) async fn copy_stream(
    input: &mut DynInputStream,
    expected: u64,
    out: &mut CountingWriter<'_>,
    moved: &AtomicU64,
) -> std::result::Result<u64, CopyError> {
    use wasmtime_wasi::p2::StreamError;
    // Streams deliver what they have (an HTTP body comes in frames of a few KiB): gather
    // them into large writes.
    let mut out = std::io::BufWriter::with_capacity(BLOCK, out);
    let mut got = 0u64;
    while got < expected {
        let want = (expected - got).min(BLOCK as u64) as usize;
        match input.blocking_read(want).await {
            Ok(bytes) => {
                let take = bytes.len().min(want);
                out.write_all(&bytes[..take]).map_err(CopyError::Sink)?;
                got += take as u64;
                moved.fetch_add(take as u64, Ordering::Relaxed);
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) | Err(StreamError::Trap(e)) => {
                return Err(CopyError::Stream(format!("{e:#}")));
            }
        }
    }
    out.flush().map_err(CopyError::Sink)?;
    Ok(got)
}

/// Counts bytes read, for progress bars.
struct ProgressReader {
    inner: Box<dyn Read + Send>,
    counter: Arc<AtomicU64>,
}

impl Read for ProgressReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Check a listing page against the contract.
fn check_page(plugin: &str, prefix: &str, cursor: Option<&str>, limit: u32, page: v0_1::ListPage) -> Result<ListPage> {
    let broke = |detail: String| Error::Contract { plugin: plugin.to_string(), op: "list", detail };
    if limit > 0 && page.objects.len() > limit as usize {
        return Err(broke(format!("it returned {} objects for a limit of {limit}", page.objects.len())));
    }
    let mut previous: Option<&str> = cursor;
    for object in &page.objects {
        if !object.key.starts_with(prefix) {
            return Err(broke(format!(
                "it returned {:?}, which does not start with the prefix {prefix:?}",
                object.key
            )));
        }
        if previous.is_some_and(|p| object.key.as_str() <= p) {
            return Err(broke(format!(
                "it returned {:?} after {:?}; keys must be strictly ascending and after the cursor",
                object.key,
                previous.unwrap_or_default()
            )));
        }
        previous = Some(&object.key);
    }
    if page.next.is_some() && page.objects.is_empty() {
        return Err(broke("it returned an empty page with a next cursor".into()));
    }
    Ok(ListPage { objects: page.objects.into_iter().map(ObjectMeta::from).collect(), next: page.next })
}
