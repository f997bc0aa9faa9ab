//! Test only: an in-memory target with one deliberate contract violation per rule, so the
//! tests can show that `warden plugin test` names each of them:
//!
//! - overwrite keeps the first object;
//! - create-only is not enforced;
//! - head reports one byte more than the object has;
//! - ranges ignore their offset;
//! - get of a missing key fails with `other`, not `not-found`;
//! - delete of a missing key fails;
//! - listing returns keys in descending order;
//! - a body whose size differs from the declared one is stored anyway;
//! - keys are stored lower-cased, so `A` and `a` alias.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;

use warden_sdk::{
    Body, ByteRange, Config, Error, Features, GetBody, Key, ListPage, ObjectMeta, PutOptions, Result, Target,
};

struct Broken {
    objects: RefCell<BTreeMap<String, Vec<u8>>>,
}

impl Target for Broken {
    fn open(_config: Config) -> Result<Self> {
        Ok(Broken { objects: RefCell::new(BTreeMap::new()) })
    }

    fn features(&self) -> Features {
        Features::default()
    }

    fn put(&self, key: &Key, mut body: Body<'_>, _options: PutOptions) -> Result<ObjectMeta> {
        let mut bytes = Vec::new();
        body.read_to_end(&mut bytes)?;
        let size = bytes.len() as u64;
        self.objects.borrow_mut().entry(key.as_str().to_lowercase()).or_insert(bytes);
        Ok(ObjectMeta::new(key.as_str(), size))
    }

    fn get(&self, key: &Key, range: Option<ByteRange>) -> Result<GetBody> {
        let objects = self.objects.borrow();
        let bytes = objects.get(&key.as_str().to_lowercase()).ok_or_else(|| Error::other("no idea"))?;
        let length = range.and_then(|r| r.length).unwrap_or(bytes.len() as u64).min(bytes.len() as u64);
        let meta = ObjectMeta::new(key.as_str(), bytes.len() as u64);
        Ok(GetBody::bytes(meta, bytes[..length as usize].to_vec()))
    }

    fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let objects = self.objects.borrow();
        let bytes = objects.get(&key.as_str().to_lowercase()).ok_or_else(|| Error::not_found(key.as_str()))?;
        Ok(ObjectMeta::new(key.as_str(), bytes.len() as u64 + 1))
    }

    fn list(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> Result<ListPage> {
        let objects = self.objects.borrow();
        let mut keys: Vec<ObjectMeta> = objects
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| ObjectMeta::new(k.as_str(), v.len() as u64))
            .collect();
        keys.reverse();
        let mut page = ListPage::from_sorted(keys, None, limit, 1000);
        page.objects.retain(|o| cursor.is_none_or(|c| o.key.as_str() != c));
        Ok(page)
    }

    fn delete(&self, key: &Key) -> Result<()> {
        self.objects
            .borrow_mut()
            .remove(&key.as_str().to_lowercase())
            .map(|_| ())
            .ok_or_else(|| Error::not_found(key.as_str()))
    }
}

warden_sdk::export_target!(Broken);
