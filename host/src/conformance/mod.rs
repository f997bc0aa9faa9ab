//! The contract suite every target plugin must pass (object_store's pattern: one suite, every
//! backend). `warden plugin test` runs it against any plugin; our own tests run it against the
//! reference plugins. Each case names the rule it checks and, when it fails, what the plugin
//! did instead.
//!
//! The suite works under a fresh prefix and removes what it wrote when it ends.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorClass};
use crate::target::{Body, ByteRange, PutOptions, Target};

/// How big the suite's heavy cases are.
#[derive(Debug, Clone)]
pub struct Options {
    /// Size of the large streamed object. Default 64 MiB + 1 byte (not a multiple of any
    /// block size).
    pub large_object_bytes: u64,
    /// Keys in the paged-listing case. Default 1,100 (past the usual 1,000-key page).
    pub list_keys: usize,
    /// Writers racing on one key. Default 4.
    pub concurrent_writers: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { large_object_bytes: (64 << 20) + 1, list_keys: 1100, concurrent_writers: 4 }
    }
}

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "lowercase")]
pub enum Outcome {
    /// The plugin kept the rule.
    Pass,
    /// It broke the rule; the text says how.
    Fail(String),
    /// The case does not apply (a feature the plugin does not declare).
    Skip(String),
}

/// One case's result.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    /// The case's name.
    pub name: &'static str,
    /// The rule of the contract it checks.
    pub rule: &'static str,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// How long it took.
    pub millis: u128,
}

/// The suite's result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The plugin tested.
    pub plugin: String,
    /// Every case, in order.
    pub cases: Vec<CaseReport>,
}

impl Report {
    /// Whether no case failed.
    pub fn passed(&self) -> bool {
        !self.cases.iter().any(|c| matches!(c.outcome, Outcome::Fail(_)))
    }

    /// Count of (passed, failed, skipped).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for case in &self.cases {
            match case.outcome {
                Outcome::Pass => counts.0 += 1,
                Outcome::Fail(_) => counts.1 += 1,
                Outcome::Skip(_) => counts.2 += 1,
            }
        }
        counts
    }
}

type CaseResult = Result<(), CaseEnd>;

/// Why a case stopped early.
enum CaseEnd {
    Fail(String),
    Skip(String),
}

impl From<Error> for CaseEnd {
    fn from(e: Error) -> Self {
        CaseEnd::Fail(format!("unexpected error: {e}"))
    }
}

fn fail<T>(why: impl Into<String>) -> Result<T, CaseEnd> {
    Err(CaseEnd::Fail(why.into()))
}

/// The suite's working state.
struct Ctx<'a> {
    target: &'a Target,
    prefix: String,
    options: &'a Options,
}

impl Ctx<'_> {
    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    async fn put(&self, key: &str, data: &[u8]) -> Result<(), CaseEnd> {
        let meta = self.target.put(key, Body::Bytes(data.to_vec().into()), PutOptions::default()).await?;
        if meta.size != data.len() as u64 {
            return fail(format!("put `{key}` of {} bytes reported size {}", data.len(), meta.size));
        }
        Ok(())
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<Vec<u8>, Error> {
        self.target.get_bytes(key, range).await
    }

    async fn expect_content(&self, key: &str, want: &[u8]) -> CaseResult {
        let got = self.get(key, None).await?;
        if got != want {
            return fail(format!(
                "get `{key}` returned {} bytes that differ from the {} bytes put",
                got.len(),
                want.len()
            ));
        }
        Ok(())
    }
}

/// Expect an error of class `class`, naming what the contract says.
fn expect_class<T: std::fmt::Debug>(what: &str, result: Result<T, Error>, class: ErrorClass) -> CaseResult {
    match result {
        Err(e) if e.class() == class => Ok(()),
        Err(e) => fail(format!("{what}: expected a `{class}` error, got `{}`: {e}", e.class())),
        Ok(v) => fail(format!("{what}: expected a `{class}` error, but it succeeded ({v:?})")),
    }
}

/// Run the whole suite against `target`.
pub async fn run(target: &Target, options: &Options) -> Report {
    let prefix = format!("warden-conformance-{:016x}/", rand::random::<u64>());
    let ctx = Ctx { target, prefix, options };
    let mut cases = Vec::new();
    macro_rules! case {
        ($name:literal, $rule:literal, $body:expr) => {{
            let start = Instant::now();
            let outcome = match $body.await {
                Ok(()) => Outcome::Pass,
                Err(CaseEnd::Fail(why)) => Outcome::Fail(why),
                Err(CaseEnd::Skip(why)) => Outcome::Skip(why),
            };
            cases.push(CaseReport { name: $name, rule: $rule, outcome, millis: start.elapsed().as_millis() });
        }};
    }
    case!("features", "features are declared and sane (a listing page holds at least one object)", features(&ctx));
    case!(
        "test-connection",
        "test-connection runs its checks and they pass on a working location",
        test_connection(&ctx)
    );
    case!("zero-length", "a zero-length object is stored, reported and read back as empty", zero_length(&ctx));
    case!("large-streamed", "a large object streams through put and get intact (SHA-256 compared)", large(&ctx));
    case!("overwrite", "put replaces an existing object whole", overwrite(&ctx));
    case!("create-only", "a create-only put fails with already-exists and keeps the first object", create_only(&ctx));
    case!("head", "head reports the size; a missing key is not-found", head(&ctx));
    case!("get-matches-head", "get returns exactly as many bytes as head reports", get_matches_head(&ctx));
    case!("missing-key", "get of a missing key is not-found", missing(&ctx));
    case!(
        "ranges",
        "ranges return exactly their bytes, are cut at the end, and past the end are invalid-input",
        ranges(&ctx)
    );
    case!("delete", "delete removes the object; deleting a missing key succeeds", delete(&ctx));
    case!(
        "listing-pages",
        "listing past one page returns every key once, in order, and only under the prefix",
        listing(&ctx)
    );
    case!(
        "printable-ascii-keys",
        "every printable ASCII character works in keys, and distinct keys never alias",
        ascii_keys(&ctx)
    );
    case!(
        "tricky-keys",
        "keys like `..`, `.`, `a/`, `a//b` and escapes are ordinary, distinct keys",
        tricky_keys(&ctx)
    );
    case!(
        "prefix-keys",
        "an object `a` beside objects under `a/` works, or (prefix-keys false) is refused with invalid-input keeping the first",
        prefix_keys(&ctx)
    );
    case!("size-mismatch", "a body shorter or longer than declared fails and stores nothing", size_mismatch(&ctx));
    case!("failing-body", "a body that fails mid-put leaves no object and keeps the previous one", failing_body(&ctx));
    case!("concurrent-writers", "racing writers to one key leave exactly one whole body", concurrent(&ctx));
    // Best effort: a plugin that cannot delete already failed above.
    if let Ok(objects) = target.list_all(&ctx.prefix).await {
        for object in objects {
            let _ = target.delete(&object.key).await;
        }
    }
    Report { plugin: target.plugin().name().to_string(), cases }
}

async fn features(ctx: &Ctx<'_>) -> CaseResult {
    let f = ctx.target.features().await?;
    if f.max_list_page == 0 {
        return fail("max-list-page is 0: no listing could make progress");
    }
    Ok(())
}

async fn test_connection(ctx: &Ctx<'_>) -> CaseResult {
    let checks = ctx.target.test_connection().await?;
    if checks.is_empty() {
        return fail("it returned no checks; an operator learns nothing from it");
    }
    if let Some(bad) = checks.iter().find(|c| !c.ok) {
        return fail(format!("check `{}` failed on a working location: {}", bad.name, bad.detail));
    }
    Ok(())
}

async fn zero_length(ctx: &Ctx<'_>) -> CaseResult {
    let key = ctx.key("empty");
    ctx.put(&key, b"").await?;
    let meta = ctx.target.head(&key).await?;
    if meta.size != 0 {
        return fail(format!("head reported {} bytes for an empty object", meta.size));
    }
    ctx.expect_content(&key, b"").await
}

async fn large(ctx: &Ctx<'_>) -> CaseResult {
    let key = ctx.key("large");
    let size = ctx.options.large_object_bytes;
    let (tx_hash, rx_hash) = std::sync::mpsc::channel();
    // Hash as the bytes go, so memory stays flat whatever the size.
    let reader = HashingReader { inner: PatternReader::new(size, 7), hash: Some(Sha256::new()), done: Some(tx_hash) };
    let meta = ctx.target.put(&key, Body::Reader(Box::new(reader)), PutOptions::default()).await?;
    let sent = rx_hash.recv().map_err(|_| CaseEnd::Fail("the body was not read to the end".into()))?;
    if meta.size != size {
        return fail(format!("put reported {} bytes for a {size}-byte body", meta.size));
    }
    let (info, sink) = ctx.target.get(&key, None, HashingWriter::default()).await?;
    if info.length != size {
        return fail(format!("get returned {} bytes of {size}", info.length));
    }
    if sink.hash.finalize()[..] != sent.finalize()[..] {
        return fail("get returned different bytes than were put (SHA-256 differs)");
    }
    Ok(())
}

async fn overwrite(ctx: &Ctx<'_>) -> CaseResult {
    let key = ctx.key("overwrite");
    ctx.put(&key, &[1u8; 100]).await?;
    ctx.put(&key, &[2u8; 50]).await?;
    let meta = ctx.target.head(&key).await?;
    if meta.size != 50 {
        return fail(format!("after overwriting 100 bytes with 50, head reports {}", meta.size));
    }
    ctx.expect_content(&key, &[2u8; 50]).await
}

async fn create_only(ctx: &Ctx<'_>) -> CaseResult {
    if !ctx.target.features().await?.create_only {
        return Err(CaseEnd::Skip("the plugin does not declare create-only".into()));
    }
    let key = ctx.key("lock");
    let opts = PutOptions { create_only: true, ..Default::default() };
    ctx.target.put(&key, Body::Bytes(b"first".to_vec().into()), opts).await?;
    let second = ctx.target.put(&key, Body::Bytes(b"second".to_vec().into()), opts).await;
    expect_class("a second create-only put", second, ErrorClass::AlreadyExists)?;
    ctx.expect_content(&key, b"first").await
}

async fn head(ctx: &Ctx<'_>) -> CaseResult {
    let key = ctx.key("head");
    ctx.put(&key, &[9u8; 1234]).await?;
    let meta = ctx.target.head(&key).await?;
    if meta.size != 1234 || meta.key != key {
        return fail(format!("head returned key {:?} size {} for `{key}` of 1234 bytes", meta.key, meta.size));
    }
    expect_class("head of a missing key", ctx.target.head(&ctx.key("head-missing")).await, ErrorClass::NotFound)
}

async fn get_matches_head(ctx: &Ctx<'_>) -> CaseResult {
    let key = ctx.key("get-head");
    ctx.put(&key, &[3u8; 4321]).await?;
    let head = ctx.target.head(&key).await?;
    let got = ctx.get(&key, None).await?;
    if head.size != got.len() as u64 {
        return fail(format!("head reports {} bytes but get returned {}", head.size, got.len()));
    }
    Ok(())
}

async fn missing(ctx: &Ctx<'_>) -> CaseResult {
    expect_class("get of a missing key", ctx.get(&ctx.key("missing"), None).await, ErrorClass::NotFound)?;
    expect_class(
        "get of a missing key below a missing directory",
        ctx.get(&ctx.key("no/such/dir/key"), None).await,
        ErrorClass::NotFound,
    )
}

async fn ranges(ctx: &Ctx<'_>) -> CaseResult {
    let key = ctx.key("ranges");
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    ctx.put(&key, &data).await?;
    let cases: [(u64, Option<u64>, &[u8]); 5] = [
        (10, Some(20), &data[10..30]),
        (0, Some(1), &data[..1]),
        (990, None, &data[990..]),
        (995, Some(100), &data[995..]),
        (1000, None, &[]),
    ];
    for (offset, length, want) in cases {
        let got = ctx.get(&key, Some(ByteRange { offset, length })).await?;
        if got != want {
            return fail(format!(
                "range offset {offset} length {length:?} returned {} bytes{}, expected the {} bytes at that offset",
                got.len(),
                if got.len() == want.len() { " of other content" } else { "" },
                want.len()
            ));
        }
    }
    let past = ctx.get(&key, Some(ByteRange { offset: 1001, length: Some(1) })).await;
    expect_class("a range starting past the end", past, ErrorClass::InvalidInput)
}

async fn delete(ctx: &Ctx<'_>) -> CaseResult {
    ctx.target.delete(&ctx.key("never-existed")).await?;
    let key = ctx.key("deleted/inner");
    ctx.put(&key, b"x").await?;
    ctx.target.delete(&key).await?;
    expect_class("head after delete", ctx.target.head(&key).await, ErrorClass::NotFound)?;
    if ctx.target.list_all(&ctx.key("deleted/")).await?.iter().any(|o| o.key == key) {
        return fail("a deleted key is still listed");
    }
    ctx.target.delete(&key).await?;
    Ok(())
}

async fn listing(ctx: &Ctx<'_>) -> CaseResult {
    let n = ctx.options.list_keys;
    let dir = ctx.key("list/");
    let keys: Vec<String> = (0..n).map(|i| format!("{dir}k{i:05}")).collect();
    put_keys(ctx.target, &keys).await?;
    // Neighbours that share the prefix's characters but are not under it.
    ctx.put(&ctx.key("list-sibling"), b"s").await?;
    ctx.put(&ctx.key("lis"), b"s").await?;
    let all = ctx.target.list_all(&dir).await?;
    let listed: Vec<&str> = all.iter().map(|o| o.key.as_str()).collect();
    if listed != keys.iter().map(String::as_str).collect::<Vec<_>>() {
        let missing = keys.iter().filter(|k| !listed.contains(&k.as_str())).count();
        return fail(format!(
            "listing returned {} keys for {n} put ({missing} missing, or out of order)",
            listed.len()
        ));
    }
    if let Some(bad) = all.iter().find(|o| o.size != o.key.len() as u64) {
        return fail(format!("listing reported size {} for `{}` of {} bytes", bad.size, bad.key, bad.key.len()));
    }
    let first = ctx.target.list(&dir, None, 0).await?;
    let page = ctx.target.features().await?.max_list_page as usize;
    if n > page && first.next.is_none() {
        return fail(format!("the first page holds {} of {n} keys but has no next cursor", first.objects.len()));
    }
    // Small pages must add up to the same listing.
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let p = ctx.target.list(&dir, cursor.as_deref(), 7).await?;
        paged.extend(p.objects.into_iter().map(|o| o.key));
        match p.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
        if paged.len() > n + 7 {
            return fail("pages of 7 never end");
        }
    }
    if paged != keys {
        return fail(format!("pages of 7 returned {} keys for {n}, or in another order", paged.len()));
    }
    Ok(())
}

async fn ascii_keys(ctx: &Ctx<'_>) -> CaseResult {
    let dir = ctx.key("ascii/");
    let mut keys = Vec::new();
    for c in (0x20u8..=0x7e).map(char::from).filter(|c| *c != '/') {
        keys.push(format!("{dir}a{c}b"));
        keys.push(format!("{dir}{c}"));
        keys.push(format!("{dir}x{c}"));
    }
    keys.sort();
    keys.dedup();
    check_distinct_keys(ctx, &dir, keys).await
}

async fn tricky_keys(ctx: &Ctx<'_>) -> CaseResult {
    let dir = ctx.key("tricky/");
    let rest = [
        "..",
        ".",
        "...",
        "dd/../escape",
        "d/./dot",
        "%2e%2e",
        "%2E%2E",
        "%",
        "%%",
        "%25",
        "x/",
        "y//z",
        "/lead",
        " space",
        "trail ",
        ".hidden",
        ".warden-tmp-0000000000000000",
        "~",
        "a\\b",
        "CON",
        "nul",
    ];
    let mut keys: Vec<String> = rest.iter().map(|r| format!("{dir}{r}")).collect();
    keys.sort();
    check_distinct_keys(ctx, &dir, keys).await
}

/// Put each key with its own content, then check each reads back its own and the listing
/// holds exactly these keys.
async fn check_distinct_keys(ctx: &Ctx<'_>, dir: &str, keys: Vec<String>) -> CaseResult {
    put_keys(ctx.target, &keys).await?;
    for key in &keys {
        match ctx.get(key, None).await {
            Ok(got) if got == key.as_bytes() => {}
            Ok(got) => {
                return fail(format!(
                    "key {key:?} read back the content of {:?}: two keys share one object",
                    String::from_utf8_lossy(&got)
                ));
            }
            Err(e) => return fail(format!("key {key:?}: {e}")),
        }
    }
    let listed: Vec<String> = ctx.target.list_all(dir).await?.into_iter().map(|o| o.key).collect();
    if listed != keys {
        let missing: Vec<&String> = keys.iter().filter(|k| !listed.contains(k)).take(5).collect();
        let extra: Vec<&String> = listed.iter().filter(|k| !keys.contains(k)).take(5).collect();
        return fail(format!(
            "the listing differs from the keys put: missing {missing:?}, unexpected {extra:?} (or out of order)"
        ));
    }
    Ok(())
}

async fn prefix_keys(ctx: &Ctx<'_>) -> CaseResult {
    let supported = ctx.target.features().await?.prefix_keys;
    let (short, long) = (ctx.key("nest/a"), ctx.key("nest/a/b"));
    // Both orders: the short key first, then (in a fresh place) the long key first.
    let (short2, long2) = (ctx.key("nest2/a"), ctx.key("nest2/a/b"));
    for (first, second) in [(&short, &long), (&long2, &short2)] {
        ctx.put(first, first.as_bytes()).await?;
        let result =
            ctx.target.put(second, Body::Bytes(second.as_bytes().to_vec().into()), PutOptions::default()).await;
        if supported {
            result?;
            ctx.expect_content(second, second.as_bytes()).await?;
        } else {
            expect_class(&format!("put `{second}` beside `{first}`"), result, ErrorClass::InvalidInput)?;
        }
        ctx.expect_content(first, first.as_bytes()).await?;
    }
    Ok(())
}

async fn size_mismatch(ctx: &Ctx<'_>) -> CaseResult {
    for (name, declared) in [("short", 11u64), ("long", 9u64)] {
        let key = ctx.key(&format!("mismatch-{name}"));
        let opts = PutOptions { declared_size: Some(declared), ..Default::default() };
        let result = ctx.target.put(&key, Body::Bytes(vec![0u8; 10].into()), opts).await;
        expect_class(&format!("a 10-byte body declared as {declared}"), result, ErrorClass::InvalidInput)?;
        expect_class("head after the refused put", ctx.target.head(&key).await, ErrorClass::NotFound)?;
    }
    Ok(())
}

async fn failing_body(ctx: &Ctx<'_>) -> CaseResult {
    let key = ctx.key("failing-body");
    ctx.put(&key, b"previous").await?;
    let reader = FailingReader { left: 3 << 20 };
    match ctx.target.put(&key, Body::Reader(Box::new(reader)), PutOptions::default()).await {
        Ok(meta) => {
            return fail(format!("a body that failed after 3 MiB was stored ({} bytes)", meta.size));
        }
        Err(Error::Io { .. }) => {}
        Err(e) => {
            return fail(format!("expected the body's own failure to be reported, got: {e}"));
        }
    }
    ctx.expect_content(&key, b"previous").await
}

async fn concurrent(ctx: &Ctx<'_>) -> CaseResult {
    let key = ctx.key("contended");
    let writers = ctx.options.concurrent_writers.max(2);
    let size = 1 << 20;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let (target, key) = (ctx.target.clone(), key.clone());
        tasks.spawn(async move {
            target.put(&key, Body::Bytes(vec![w as u8 + 1; size].into()), PutOptions::default()).await
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return fail(format!("a concurrent writer failed: {e}")),
            Err(e) => return fail(format!("a writer task failed: {e}")),
        }
    }
    let got = ctx.get(&key, None).await?;
    let first = got.first().copied().unwrap_or(0);
    if got.len() != size || first == 0 || first as usize > writers || got.iter().any(|b| *b != first) {
        return fail(format!("after {writers} racing writers the object is {} bytes of mixed content", got.len()));
    }
    Ok(())
}

/// Put each key with the key itself as content, a few at a time.
async fn put_keys(target: &Target, keys: &[String]) -> Result<(), CaseEnd> {
    let items: Vec<(String, Vec<u8>)> = keys.iter().map(|k| (k.clone(), k.as_bytes().to_vec())).collect();
    let mut tasks = tokio::task::JoinSet::new();
    let items = Arc::new(std::sync::Mutex::new(items));
    for _ in 0..4 {
        let (target, items) = (target.clone(), items.clone());
        tasks.spawn(async move {
            loop {
                let next = items.lock().unwrap_or_else(|p| p.into_inner()).pop();
                let Some((key, data)) = next else {
                    return Ok::<(), Error>(());
                };
                target.put(&key, Body::Bytes(data.into()), PutOptions::default()).await?;
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(r) => r?,
            Err(e) => return fail(format!("a put task failed: {e}")),
        }
    }
    Ok(())
}

/// Deterministic pseudo-random bytes (xorshift): `size` of them, the same for the same seed.
/// Test data that does not compress or deduplicate, generated as it is read.
pub struct PatternReader {
    left: u64,
    state: u64,
}

impl PatternReader {
    /// `size` bytes from `seed`.
    pub fn new(size: u64, seed: u64) -> Self {
        PatternReader { left: size, state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1 }
    }
}

impl Read for PatternReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for chunk in buf[..n].chunks_mut(8) {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            chunk.copy_from_slice(&self.state.to_le_bytes()[..chunk.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Hashes what is read through it and sends the hash when the reader ends.
struct HashingReader {
    inner: PatternReader,
    hash: Option<Sha256>,
    done: Option<std::sync::mpsc::Sender<Sha256>>,
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hash.as_mut() {
            h.update(&buf[..n]);
        }
        if n == 0
            && let (Some(h), Some(tx)) = (self.hash.take(), self.done.take())
        {
            let _ = tx.send(h);
        }
        Ok(n)
    }
}

/// A sink that only hashes.
#[derive(Default)]
struct HashingWriter {
    hash: Sha256,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hash.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A body that yields `left` bytes and then fails.
struct FailingReader {
    left: usize,
}

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("the source failed (simulated by the conformance suite)"));
        }
        let n = buf.len().min(self.left);
        buf[..n].fill(0x5a);
        self.left -= n;
        Ok(n)
    }
}
