//! An example of a third-party plugin: a target that keeps objects in memory. It uses only
//! warden-sdk's public API. Build: `cargo build --release --target wasm32-wasip2`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::rc::Rc;

use warden_sdk::{
    Body, ByteRange, Check, Config, Error, Features, GetBody, Key, ListPage, ObjectMeta,
    PutOptions, Result, Target,
};

/// Bodies up to this size are returned whole; larger ones through a reader.
const INLINE: u64 = 1 << 20;
const MAX_PAGE: u32 = 1000;

struct Memory {
    objects: RefCell<BTreeMap<String, Rc<Vec<u8>>>>,
}

impl Memory {
    fn meta(key: &str, bytes: &[u8]) -> ObjectMeta {
        ObjectMeta::new(key, bytes.len() as u64)
    }

    fn lookup(&self, key: &Key) -> Result<Rc<Vec<u8>>> {
        self.objects
            .borrow()
            .get(key.as_str())
            .cloned()
            .ok_or_else(|| Error::not_found(format!("`{key}` does not exist")))
    }
}

impl Target for Memory {
    fn open(_config: Config) -> Result<Self> {
        warden_sdk::debug!("memory target opened");
        Ok(Memory {
            objects: RefCell::new(BTreeMap::new()),
        })
    }

    fn features(&self) -> Features {
        Features {
            max_list_page: MAX_PAGE,
            ..Features::default()
        }
    }

    fn test_connection(&self) -> Result<Vec<Check>> {
        let count = self.objects.borrow().len();
        Ok(vec![Check::pass(
            "memory",
            format!("{count} objects held in memory"),
        )])
    }

    fn put(&self, key: &Key, mut body: Body<'_>, options: PutOptions) -> Result<ObjectMeta> {
        // Read everything first: a failing body stores nothing and keeps the old object.
        let mut bytes = Vec::new();
        body.read_to_end(&mut bytes)
            .map_err(|e| Error::unavailable(format!("put `{key}`: {e}")))?;
        options.check_size(key, bytes.len() as u64)?;
        let mut objects = self.objects.borrow_mut();
        if options.create_only && objects.contains_key(key.as_str()) {
            return Err(Error::already_exists(format!(
                "put `{key}` (create-only): the key exists"
            )));
        }
        let meta = Self::meta(key.as_str(), &bytes);
        objects.insert(key.to_string(), Rc::new(bytes));
        Ok(meta)
    }

    fn get(&self, key: &Key, range: Option<ByteRange>) -> Result<GetBody> {
        let bytes = self.lookup(key)?;
        let (offset, length) = ByteRange::resolve(range, bytes.len() as u64, key)?;
        let meta = Self::meta(key.as_str(), &bytes);
        let slice = &bytes[offset as usize..(offset + length) as usize];
        if length <= INLINE {
            Ok(GetBody::bytes(meta, slice.to_vec()))
        } else {
            let mut cursor = Cursor::new(SharedBytes(bytes.clone()));
            cursor.set_position(offset);
            Ok(GetBody::reader(meta, length, cursor.take(length)))
        }
    }

    fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let bytes = self.lookup(key)?;
        Ok(Self::meta(key.as_str(), &bytes))
    }

    fn list(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> Result<ListPage> {
        let objects = self.objects.borrow();
        let matching = objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| Self::meta(k, v));
        Ok(ListPage::from_sorted(matching, cursor, limit, MAX_PAGE))
    }

    fn delete(&self, key: &Key) -> Result<()> {
        self.objects.borrow_mut().remove(key.as_str());
        Ok(())
    }
}

/// Shared bytes a cursor can read without copying the object.
struct SharedBytes(Rc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

warden_sdk::export_target!(Memory);
