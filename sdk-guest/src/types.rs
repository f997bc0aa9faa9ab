//! The SDK's own types: what a plugin reads and returns.

use std::fmt;

use crate::bindings::exports::warden::plugin::target as wit_target;
use crate::bindings::warden::plugin::types as wit;

/// Why an operation failed. The class decides what the host does: it retries only
/// [`Error::RateLimited`] and [`Error::Unavailable`], and only when it can replay the body.
/// Never retry inside a plugin. Messages reach the operator: say what failed, for which key,
/// and never include a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The key does not exist.
    NotFound(String),
    /// A create-only put found the key present.
    AlreadyExists(String),
    /// The request is wrong and will fail the same way again (a bad setting, a range past
    /// the end, a body whose size differs from the declared one).
    InvalidInput(String),
    /// The backend does not know who is asking.
    Unauthenticated(String),
    /// The backend refuses the caller.
    PermissionDenied(String),
    /// The backend asked to slow down; retryable.
    RateLimited {
        /// Seconds to wait, if the backend said.
        retry_after_seconds: Option<u32>,
        /// What the backend said.
        message: String,
    },
    /// A transient failure (connection reset, timeout, service down); retryable.
    Unavailable(String),
    /// Stored data failed a check.
    Corrupt(String),
    /// The plugin does not support this.
    Unsupported(String),
    /// Anything else.
    Other(String),
}

impl Error {
    /// [`Error::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound(message.into())
    }

    /// [`Error::AlreadyExists`].
    pub fn already_exists(message: impl Into<String>) -> Self {
        Error::AlreadyExists(message.into())
    }

    /// [`Error::InvalidInput`].
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::InvalidInput(message.into())
    }

    /// [`Error::Unauthenticated`].
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Error::Unauthenticated(message.into())
    }

    /// [`Error::PermissionDenied`].
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Error::PermissionDenied(message.into())
    }

    /// [`Error::RateLimited`].
    pub fn rate_limited(retry_after_seconds: Option<u32>, message: impl Into<String>) -> Self {
        Error::RateLimited { retry_after_seconds, message: message.into() }
    }

    /// [`Error::Unavailable`].
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::Unavailable(message.into())
    }

    /// [`Error::Corrupt`].
    pub fn corrupt(message: impl Into<String>) -> Self {
        Error::Corrupt(message.into())
    }

    /// [`Error::Unsupported`].
    pub fn unsupported(message: impl Into<String>) -> Self {
        Error::Unsupported(message.into())
    }

    /// [`Error::Other`].
    pub fn other(message: impl Into<String>) -> Self {
        Error::Other(message.into())
    }

    /// Add context in front of the message, keeping the class.
    pub fn context(self, what: impl fmt::Display) -> Self {
        let with = |m: String| format!("{what}: {m}");
        match self {
            Error::NotFound(m) => Error::NotFound(with(m)),
            Error::AlreadyExists(m) => Error::AlreadyExists(with(m)),
            Error::InvalidInput(m) => Error::InvalidInput(with(m)),
            Error::Unauthenticated(m) => Error::Unauthenticated(with(m)),
            Error::PermissionDenied(m) => Error::PermissionDenied(with(m)),
            Error::RateLimited { retry_after_seconds, message } => {
                Error::RateLimited { retry_after_seconds, message: with(message) }
            }
            Error::Unavailable(m) => Error::Unavailable(with(m)),
            Error::Corrupt(m) => Error::Corrupt(with(m)),
            Error::Unsupported(m) => Error::Unsupported(with(m)),
            Error::Other(m) => Error::Other(with(m)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound(m) => write!(f, "not found: {m}"),
            Error::AlreadyExists(m) => write!(f, "already exists: {m}"),
            Error::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Error::Unauthenticated(m) => write!(f, "unauthenticated: {m}"),
            Error::PermissionDenied(m) => write!(f, "permission denied: {m}"),
            Error::RateLimited { message, .. } => write!(f, "rate limited: {message}"),
            Error::Unavailable(m) => write!(f, "unavailable: {m}"),
            Error::Corrupt(m) => write!(f, "corrupt: {m}"),
            Error::Unsupported(m) => write!(f, "unsupported: {m}"),
            Error::Other(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let m = e.to_string();
        match e.kind() {
            K::NotFound => Error::NotFound(m),
            K::AlreadyExists => Error::AlreadyExists(m),
            K::PermissionDenied | K::ReadOnlyFilesystem => Error::PermissionDenied(m),
            K::InvalidInput | K::InvalidData | K::InvalidFilename => Error::InvalidInput(m),
            K::Interrupted
            | K::WouldBlock
            | K::TimedOut
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::BrokenPipe => Error::Unavailable(m),
            K::Unsupported => Error::Unsupported(m),
            _ => Error::Other(m),
        }
    }
}

impl From<Error> for wit::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(m) => wit::Error::NotFound(m),
            Error::AlreadyExists(m) => wit::Error::AlreadyExists(m),
            Error::InvalidInput(m) => wit::Error::InvalidInput(m),
            Error::Unauthenticated(m) => wit::Error::Unauthenticated(m),
            Error::PermissionDenied(m) => wit::Error::PermissionDenied(m),
            Error::RateLimited { retry_after_seconds, message } => {
                wit::Error::RateLimited(wit::RateLimit { retry_after_seconds, message })
            }
            Error::Unavailable(m) => wit::Error::Unavailable(m),
            Error::Corrupt(m) => wit::Error::Corrupt(m),
            Error::Unsupported(m) => wit::Error::Unsupported(m),
            Error::Other(m) => wit::Error::Other(m),
        }
    }
}

/// The SDK's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A key: 1 to 1024 bytes of printable ASCII with `/` separating segments, already checked
/// by the host. Map it to storage injectively and without letting it leave your location.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(pub(crate) String);

impl Key {
    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated segments (empty ones included: `a//b` has three).
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// Whether the key starts with `prefix`.
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }

    /// The key as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Key {
    /// A key from text, for a plugin's own calls (the host validates the keys it sends).
    fn from(key: &str) -> Self {
        Key(key.to_string())
    }
}

impl From<String> for Key {
    /// A key from text, for a plugin's own calls (the host validates the keys it sends).
    fn from(key: String) -> Self {
        Key(key)
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// What a target knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Last modification, nanoseconds since the Unix epoch, if known.
    pub modified_ns: Option<u64>,
    /// An opaque version tag, if the backend has one.
    pub etag: Option<String>,
}

impl ObjectMeta {
    /// Metadata with just a key and a size.
    pub fn new(key: impl Into<String>, size: u64) -> Self {
        ObjectMeta { key: key.into(), size, modified_ns: None, etag: None }
    }
}

impl From<ObjectMeta> for wit::ObjectMeta {
    fn from(m: ObjectMeta) -> Self {
        wit::ObjectMeta { key: m.key, size: m.size, modified_ns: m.modified_ns, etag: m.etag }
    }
}

/// A byte range: `length` bytes from `offset`, or to the end when `length` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// The first byte.
    pub offset: u64,
    /// How many bytes, or `None` for "to the end".
    pub length: Option<u64>,
}

impl ByteRange {
    /// Resolve the range against an object of `size` bytes into `(offset, length)`: cut at
    /// the end, and [`Error::InvalidInput`] when it starts past the end, as the contract says.
    pub fn resolve(range: Option<ByteRange>, size: u64, key: &Key) -> Result<(u64, u64)> {
        match range {
            None => Ok((0, size)),
            Some(r) if r.offset > size => Err(Error::invalid_input(format!(
                "get `{key}`: the range starts at byte {} but the object has {size} bytes",
                r.offset
            ))),
            Some(r) => Ok((r.offset, r.length.unwrap_or(u64::MAX).min(size - r.offset))),
        }
    }
}

/// One page of a listing: objects in ascending byte order of their keys, and the cursor for
/// the next page (the last key of this one) when there is more.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListPage {
    /// The objects.
    pub objects: Vec<ObjectMeta>,
    /// The cursor for the next page, `None` on the last.
    pub next: Option<String>,
}

impl ListPage {
    /// Build a page from every matching key in ascending order: takes the objects after
    /// `cursor`, at most `limit` (0: `max`), and sets `next` when more remain.
    pub fn from_sorted(
        objects: impl IntoIterator<Item = ObjectMeta>,
        cursor: Option<&str>,
        limit: u32,
        max: u32,
    ) -> Self {
        let limit = if limit == 0 { max } else { limit.min(max) } as usize;
        let mut page: Vec<ObjectMeta> = Vec::with_capacity(limit.min(1024));
        let mut more = false;
        for object in objects {
            if cursor.is_some_and(|c| object.key.as_str() <= c) {
                continue;
            }
            if page.len() == limit {
                more = true;
                break;
            }
            page.push(object);
        }
        let next = if more { page.last().map(|o| o.key.clone()) } else { None };
        ListPage { objects: page, next }
    }
}

/// What a target supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// `get` honours ranges without reading from the start.
    pub ranges: bool,
    /// `put` honours create-only atomically.
    pub create_only: bool,
    /// The largest object accepted, if limited.
    pub max_object_size: Option<u64>,
    /// The most objects one listing page holds.
    pub max_list_page: u32,
    /// Whether an object `a` can exist beside objects under `a/`.
    pub prefix_keys: bool,
}

impl Default for Features {
    /// Ranges and create-only supported, no size limit, 1,000 objects a page, prefix keys.
    fn default() -> Self {
        Features { ranges: true, create_only: true, max_object_size: None, max_list_page: 1000, prefix_keys: true }
    }
}

impl From<Features> for wit_target::Features {
    fn from(f: Features) -> Self {
        wit_target::Features {
            ranges: f.ranges,
            create_only: f.create_only,
            max_object_size: f.max_object_size,
            max_list_page: f.max_list_page,
            prefix_keys: f.prefix_keys,
        }
    }
}

/// One check made by `test_connection`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found; when it failed, what the operator should do.
    pub detail: String,
}

impl Check {
    /// A passed check.
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Check { name: name.into(), ok: true, detail: detail.into() }
    }

    /// A failed check; `fix` says what to do about it.
    pub fn fail(name: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { name: name.into(), ok: false, detail: fix.into() }
    }
}

/// Options of a put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PutOptions {
    /// Fail with [`Error::AlreadyExists`] if the key is present, atomically.
    pub create_only: bool,
    /// The exact size the body will have, when the host knows it. Fail with
    /// [`Error::InvalidInput`] and store nothing if the body differs.
    pub size: Option<u64>,
}

impl PutOptions {
    /// Check the bytes received against the declared size.
    pub fn check_size(&self, key: &Key, received: u64) -> Result<()> {
        match self.size {
            Some(size) if size != received => Err(Error::invalid_input(format!(
                "put `{key}`: the body yielded {received} bytes but {size} were declared; nothing was stored"
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        Key(s.to_string())
    }

    #[test]
    fn ranges_resolve_as_the_contract_says() {
        let k = key("k");
        assert_eq!(ByteRange::resolve(None, 10, &k).unwrap(), (0, 10));
        assert_eq!(ByteRange::resolve(Some(ByteRange { offset: 2, length: Some(3) }), 10, &k).unwrap(), (2, 3));
        assert_eq!(ByteRange::resolve(Some(ByteRange { offset: 8, length: Some(5) }), 10, &k).unwrap(), (8, 2));
        assert_eq!(ByteRange::resolve(Some(ByteRange { offset: 10, length: None }), 10, &k).unwrap(), (10, 0));
        assert!(matches!(
            ByteRange::resolve(Some(ByteRange { offset: 11, length: None }), 10, &k),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn pages_follow_the_cursor_and_limit() {
        let objects = || (0..5).map(|i| ObjectMeta::new(format!("k{i}"), 1));
        let first = ListPage::from_sorted(objects(), None, 2, 1000);
        assert_eq!(first.objects.len(), 2);
        assert_eq!(first.next.as_deref(), Some("k1"));
        let last = ListPage::from_sorted(objects(), Some("k2"), 0, 1000);
        assert_eq!(last.objects.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["k3", "k4"]);
        assert_eq!(last.next, None);
        let exact = ListPage::from_sorted(objects(), None, 5, 1000);
        assert_eq!(exact.next, None, "no next when nothing remains");
    }

    #[test]
    fn io_errors_map_to_classes_and_context_keeps_them() {
        let e: Error = std::io::Error::from(std::io::ErrorKind::NotFound).into();
        assert!(matches!(e, Error::NotFound(_)));
        let e = Error::unavailable("reset").context("put `k`");
        assert_eq!(e, Error::Unavailable("put `k`: reset".into()));
        assert!(PutOptions { size: Some(3), ..Default::default() }.check_size(&key("k"), 4).is_err());
    }
}
