//! The public types of the target API, independent of any WIT version's bindings.

use serde::Serialize;

use crate::bindings::v0_1;

/// What a target knows about one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectMeta {
    /// The object's key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Last modification, nanoseconds since the Unix epoch, when known.
    pub modified_ns: Option<u64>,
    /// An opaque version tag, when the backend has one.
    pub etag: Option<String>,
}

/// A byte range: `length` bytes from `offset`, or to the end when `length` is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ByteRange {
    /// First byte.
    pub offset: u64,
    /// Number of bytes, or none for "to the end".
    pub length: Option<u64>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListPage {
    /// Objects in ascending key order.
    pub objects: Vec<ObjectMeta>,
    /// Cursor for the next page, none on the last.
    pub next: Option<String>,
}

/// What a target supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Features {
    /// Native byte ranges.
    pub ranges: bool,
    /// Atomic create-only puts.
    pub create_only: bool,
    /// Largest object accepted, if limited.
    pub max_object_size: Option<u64>,
    /// Most objects per listing page.
    pub max_list_page: u32,
    /// Whether an object `a` can coexist with objects under `a/`.
    pub prefix_keys: bool,
}

/// One check from `test-connection`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, and the fix when it failed.
    pub detail: String,
}

/// Options for `put`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// Fail with already-exists if the key is present.
    pub create_only: bool,
    /// Declare this size instead of the body's own (for tests of the size check).
    pub declared_size: Option<u64>,
}

impl From<v0_1::ObjectMeta> for ObjectMeta {
    fn from(m: v0_1::ObjectMeta) -> Self {
        ObjectMeta { key: m.key, size: m.size, modified_ns: m.modified_ns, etag: m.etag }
    }
}

impl From<v0_1::Features> for Features {
    fn from(f: v0_1::Features) -> Self {
        Features {
            ranges: f.ranges,
            create_only: f.create_only,
            max_object_size: f.max_object_size,
            max_list_page: f.max_list_page,
            prefix_keys: f.prefix_keys,
        }
    }
}

impl From<v0_1::Check> for Check {
    fn from(c: v0_1::Check) -> Self {
        Check { name: c.name, ok: c.ok, detail: c.detail }
    }
}

impl From<ByteRange> for v0_1::ByteRange {
    fn from(r: ByteRange) -> Self {
        v0_1::ByteRange { offset: r.offset, length: r.length }
    }
}
