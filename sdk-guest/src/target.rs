//! The `Target` trait and the glue between it and the generated bindings.

use std::cell::RefCell;
use std::io::Read;

use wasip2::io::streams::InputStream;

use crate::bindings::exports::warden::plugin::target as wit_target;
use crate::bindings::warden::plugin::types as wit;
use crate::config::Config;
use crate::io::{Body, BodyKind, GetBody};
use crate::types::{ByteRange, Check, Error, Features, Key, ListPage, ObjectMeta, PutOptions, Result};

/// A storage backend: blob storage under keys. Implement it and export it with
/// [`export_target!`](crate::export_target).
///
/// The contract (the WIT package `warden:plugin@0.1.0` says it in full):
/// - `put` replaces atomically: a reader sees the old object, the new one, or not-found; a
///   failed put stores nothing and keeps the previous object;
/// - `delete` of a missing key succeeds;
/// - `list` returns keys in ascending byte order, after the cursor, under the prefix, at most
///   `limit` (0: your maximum) per page;
/// - two different keys never share an object, and no key reaches outside your location;
/// - errors carry a class ([`Error`]); never retry inside the plugin, the host does.
///
/// The host may run several instances of a plugin side by side (each with its own memory),
/// and calls one instance from one thread at a time. A plugin that keeps its objects in
/// memory must say `instances = 1` in its manifest.
///
/// ```no_run
/// use std::cell::RefCell;
/// use std::collections::BTreeMap;
/// use std::io::Read;
/// use warden_sdk::{Body, Config, Features, GetBody, Key, ListPage, ObjectMeta, PutOptions, Result, Target, Error};
///
/// struct Memory(RefCell<BTreeMap<String, Vec<u8>>>);
///
/// impl Target for Memory {
///     fn open(_config: Config) -> Result<Self> {
///         Ok(Memory(RefCell::new(BTreeMap::new())))
///     }
///     fn features(&self) -> Features {
///         Features::default()
///     }
///     fn put(&self, key: &Key, mut body: Body<'_>, options: PutOptions) -> Result<ObjectMeta> {
///         let mut bytes = Vec::new();
///         body.read_to_end(&mut bytes)?;
///         options.check_size(key, bytes.len() as u64)?;
///         let mut objects = self.0.borrow_mut();
///         if options.create_only && objects.contains_key(key.as_str()) {
///             return Err(Error::already_exists(format!("`{key}` exists")));
///         }
///         let meta = ObjectMeta::new(key.as_str(), bytes.len() as u64);
///         objects.insert(key.to_string(), bytes);
///         Ok(meta)
///     }
///     fn get(&self, key: &Key, range: Option<warden_sdk::ByteRange>) -> Result<GetBody> {
///         let objects = self.0.borrow();
///         let bytes = objects.get(key.as_str()).ok_or_else(|| Error::not_found(format!("`{key}`")))?;
///         let (offset, length) = warden_sdk::ByteRange::resolve(range, bytes.len() as u64, key)?;
///         let meta = ObjectMeta::new(key.as_str(), bytes.len() as u64);
///         Ok(GetBody::bytes(meta, bytes[offset as usize..][..length as usize].to_vec()))
///     }
///     fn head(&self, key: &Key) -> Result<ObjectMeta> {
///         let objects = self.0.borrow();
///         let bytes = objects.get(key.as_str()).ok_or_else(|| Error::not_found(format!("`{key}`")))?;
///         Ok(ObjectMeta::new(key.as_str(), bytes.len() as u64))
///     }
///     fn list(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> Result<ListPage> {
///         let objects = self.0.borrow();
///         let matching = objects.iter().filter(|(k, _)| k.starts_with(prefix))
///             .map(|(k, v)| ObjectMeta::new(k.as_str(), v.len() as u64));
///         Ok(ListPage::from_sorted(matching, cursor, limit, 1000))
///     }
///     fn delete(&self, key: &Key) -> Result<()> {
///         self.0.borrow_mut().remove(key.as_str());
///         Ok(())
///     }
/// }
///
/// // In the plugin crate (it reads warden.toml beside Cargo.toml):
/// // warden_sdk::export_target!(Memory);
/// ```
pub trait Target: Sized + 'static {
    /// Open a session with the operator's settings. Fail with [`Error::InvalidInput`]
    /// naming the setting when one is wrong.
    fn open(config: Config) -> Result<Self>;

    /// What this target supports.
    fn features(&self) -> Features;

    /// Check that the location is reachable and usable; say what was found, and for each
    /// failure what the operator should do. The default reports that nothing was checked.
    fn test_connection(&self) -> Result<Vec<Check>> {
        Ok(vec![Check::pass("plugin loaded", "this plugin defines no connection checks")])
    }

    /// Store `body` under `key`, replacing any object there atomically.
    fn put(&self, key: &Key, body: Body<'_>, options: PutOptions) -> Result<ObjectMeta>;

    /// Read the object under `key`, or a range of it ([`ByteRange::resolve`] applies the
    /// contract's rules).
    fn get(&self, key: &Key, range: Option<ByteRange>) -> Result<GetBody>;

    /// The object's metadata, or [`Error::NotFound`].
    fn head(&self, key: &Key) -> Result<ObjectMeta>;

    /// Keys under `prefix` after `cursor`, at most `limit` (0: your maximum), ascending;
    /// [`ListPage::from_sorted`] builds a page from a sorted iterator.
    fn list(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> Result<ListPage>;

    /// Remove `key`; a missing key is not an error.
    fn delete(&self, key: &Key) -> Result<()>;

    /// Remove what interrupted puts left behind (temp files, unfinished uploads) untouched
    /// for `idle_seconds`; return how many were removed. The default has nothing to collect.
    fn gc(&self, idle_seconds: u64) -> Result<u64> {
        let _ = idle_seconds;
        Ok(0)
    }
}

/// Glue: a [`Target`] as the generated `session` resource.
#[doc(hidden)]
pub struct SessionAdapter<T: Target>(T);

impl<T: Target> wit_target::GuestSession for SessionAdapter<T> {
    fn open(config: Vec<(String, String)>) -> Result<wit_target::Session, wit::Error> {
        let target = T::open(Config::from_pairs(config)).map_err(wit::Error::from)?;
        Ok(wit_target::Session::new(SessionAdapter(target)))
    }

    fn features(&self) -> wit_target::Features {
        self.0.features().into()
    }

    fn test_connection(&self) -> Result<Vec<wit_target::Check>, wit::Error> {
        let checks = self.0.test_connection()?;
        Ok(checks.into_iter().map(|c| wit_target::Check { name: c.name, ok: c.ok, detail: c.detail }).collect())
    }

    fn put(
        &self,
        key: String,
        body: &InputStream,
        options: wit_target::PutOptions,
    ) -> Result<wit::ObjectMeta, wit::Error> {
        let options = PutOptions { create_only: options.create_only, size: options.size };
        Ok(self.0.put(&Key(key), Body::new(body), options)?.into())
    }

    fn get(&self, key: String, range: Option<wit::ByteRange>) -> Result<wit_target::ObjectBody, wit::Error> {
        let range = range.map(|r| ByteRange { offset: r.offset, length: r.length });
        let body = self.0.get(&Key(key), range)?;
        let wit_body = match body.kind {
            BodyKind::Stream(stream) => wit_target::Body::Stream(stream),
            BodyKind::Bytes(bytes) => wit_target::Body::Bytes(bytes),
            BodyKind::Reader(reader) => {
                wit_target::Body::Reader(wit_target::BodyReader::new(ReaderAdapter(RefCell::new(reader))))
            }
        };
        Ok(wit_target::ObjectBody { meta: body.meta.into(), length: body.length, body: wit_body })
    }

    fn head(&self, key: String) -> Result<wit::ObjectMeta, wit::Error> {
        Ok(self.0.head(&Key(key))?.into())
    }

    fn list(&self, prefix: String, cursor: Option<String>, limit: u32) -> Result<wit::ListPage, wit::Error> {
        let page = self.0.list(&prefix, cursor.as_deref(), limit)?;
        Ok(wit::ListPage { objects: page.objects.into_iter().map(Into::into).collect(), next: page.next })
    }

    fn delete(&self, key: String) -> Result<(), wit::Error> {
        Ok(self.0.delete(&Key(key))?)
    }

    fn gc(&self, idle_seconds: u64) -> Result<u64, wit::Error> {
        Ok(self.0.gc(idle_seconds)?)
    }
}

/// Glue: a [`Read`] as the generated `body-reader` resource.
#[doc(hidden)]
pub struct ReaderAdapter(RefCell<Box<dyn Read>>);

impl wit_target::GuestBodyReader for ReaderAdapter {
    fn read(&self, max: u32) -> Result<Vec<u8>, wit::Error> {
        let mut buf = vec![0u8; max as usize];
        let mut reader = self.0.borrow_mut();
        loop {
            match reader.read(&mut buf) {
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(buf);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::from(e).into()),
            }
        }
    }
}
