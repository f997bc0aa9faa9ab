//! An example of a third-party plugin: a target that keeps objects in memory. It uses only
//! warden-sdk's public API. Build: `cargo build --release --target wasm32-wasip2`.
//!
//! Objects are kept as lists of chunks of at most 1 MiB, so a large object never needs one
//! large contiguous allocation (a WebAssembly memory only grows).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;
use std::rc::Rc;

use warden_sdk::{
    Body, ByteRange, Check, Config, Error, Features, GetBody, Key, ListPage, ObjectMeta, PutOptions, Result, Target,
};

/// Bodies up to this size are returned whole; larger ones through a reader.
const INLINE: u64 = 1 << 20;
const CHUNK: usize = 1 << 20;
const MAX_PAGE: u32 = 1000;

/// An object's bytes, in chunks.
#[derive(Default)]
struct Object {
    chunks: Vec<Vec<u8>>,
    size: u64,
}

struct Memory {
    objects: RefCell<BTreeMap<String, Rc<Object>>>,
}

impl Memory {
    fn lookup(&self, key: &Key) -> Result<Rc<Object>> {
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
        Ok(Memory { objects: RefCell::new(BTreeMap::new()) })
    }

    fn features(&self) -> Features {
        Features { max_list_page: MAX_PAGE, ..Features::default() }
    }

    fn test_connection(&self) -> Result<Vec<Check>> {
        let count = self.objects.borrow().len();
        Ok(vec![Check::pass("memory", format!("{count} objects held in memory"))])
    }

    fn put(&self, key: &Key, mut body: Body<'_>, options: PutOptions) -> Result<ObjectMeta> {
        // Read everything first: a failing body stores nothing and keeps the old object.
        let mut object = Object::default();
        loop {
            let mut chunk = Vec::new();
            let n = (&mut body)
                .take(CHUNK as u64)
                .read_to_end(&mut chunk)
                .map_err(|e| Error::unavailable(format!("put `{key}`: {e}")))?;
            if n == 0 {
                break;
            }
            chunk.shrink_to_fit();
            object.size += n as u64;
            object.chunks.push(chunk);
        }
        options.check_size(key, object.size)?;
        let mut objects = self.objects.borrow_mut();
        if options.create_only && objects.contains_key(key.as_str()) {
            return Err(Error::already_exists(format!("put `{key}` (create-only): the key exists")));
        }
        let meta = ObjectMeta::new(key.as_str(), object.size);
        objects.insert(key.to_string(), Rc::new(object));
        Ok(meta)
    }

    fn get(&self, key: &Key, range: Option<ByteRange>) -> Result<GetBody> {
        let object = self.lookup(key)?;
        let (offset, length) = ByteRange::resolve(range, object.size, key)?;
        let meta = ObjectMeta::new(key.as_str(), object.size);
        let mut reader = ChunkReader { object, position: offset, end: offset + length };
        if length <= INLINE {
            let mut bytes = Vec::with_capacity(length as usize);
            reader.read_to_end(&mut bytes)?;
            Ok(GetBody::bytes(meta, bytes))
        } else {
            Ok(GetBody::reader(meta, length, reader))
        }
    }

    fn head(&self, key: &Key) -> Result<ObjectMeta> {
        Ok(ObjectMeta::new(key.as_str(), self.lookup(key)?.size))
    }

    fn list(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> Result<ListPage> {
        let objects = self.objects.borrow();
        let matching = objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| ObjectMeta::new(k.as_str(), v.size));
        Ok(ListPage::from_sorted(matching, cursor, limit, MAX_PAGE))
    }

    fn delete(&self, key: &Key) -> Result<()> {
        self.objects.borrow_mut().remove(key.as_str());
        Ok(())
    }
}

/// Reads bytes `position..end` of an object without copying it first.
struct ChunkReader {
    object: Rc<Object>,
    position: u64,
    end: u64,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.position >= self.end || buf.is_empty() {
            return Ok(0);
        }
        let (index, within) = ((self.position / CHUNK as u64) as usize, (self.position % CHUNK as u64) as usize);
        let chunk = &self.object.chunks[index][within..];
        let n = chunk.len().min(buf.len()).min((self.end - self.position) as usize);
        buf[..n].copy_from_slice(&chunk[..n]);
        self.position += n as u64;
        Ok(n)
    }
}

warden_sdk::export_target!(Memory);
