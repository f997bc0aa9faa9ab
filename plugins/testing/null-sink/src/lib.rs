//! Test-only target: `put` reads the whole body into guest memory and throws it away, so the
//! benchmark can measure what crossing the boundary costs against a native read loop.
//!
//! Built with plain wit-bindgen and no manifest section: the tests and the benchmark make it
//! a plugin with `warden plugin pack` (`warden::plugin::pack`) and the `warden.toml` beside it.

use wasip2::io::streams::{InputStream, StreamError};

wit_bindgen::generate!({
    path: "../../../wit",
    world: "warden:plugin/target-plugin",
    with: {
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
    },
});

use exports::warden::plugin::target::{
    Check, Features, Guest, GuestBodyReader, GuestSession, ObjectBody, PutOptions, Session,
};
use warden::plugin::types::{ByteRange, Error, ListPage, ObjectMeta};

struct NullSink;
struct NullSession;

export!(NullSink);

impl Guest for NullSink {
    type Session = NullSession;
    type BodyReader = NoReader;
}

impl GuestSession for NullSession {
    fn open(_config: Vec<(String, String)>) -> Result<Session, Error> {
        Ok(Session::new(NullSession))
    }

    fn features(&self) -> Features {
        Features { ranges: false, create_only: false, max_object_size: None, max_list_page: 1000, prefix_keys: true }
    }

    fn test_connection(&self) -> Result<Vec<Check>, Error> {
        Ok(vec![Check { name: "null sink".into(), ok: true, detail: "stores nothing".into() }])
    }

    fn put(&self, key: String, body: &InputStream, _options: PutOptions) -> Result<ObjectMeta, Error> {
        let mut size = 0u64;
        loop {
            match body.blocking_read(1 << 20) {
                Ok(bytes) => size += bytes.len() as u64,
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(Error::Unavailable(e.to_debug_string()));
                }
            }
        }
        Ok(ObjectMeta { key, size, modified_ns: None, etag: None })
    }

    fn get(&self, key: String, _range: Option<ByteRange>) -> Result<ObjectBody, Error> {
        Err(Error::NotFound(format!("`{key}`: the null sink stores nothing")))
    }

    fn head(&self, key: String) -> Result<ObjectMeta, Error> {
        Err(Error::NotFound(format!("`{key}`: the null sink stores nothing")))
    }

    fn list(&self, _prefix: String, _cursor: Option<String>, _limit: u32) -> Result<ListPage, Error> {
        Ok(ListPage { objects: Vec::new(), next: None })
    }

    fn delete(&self, _key: String) -> Result<(), Error> {
        Ok(())
    }

    fn gc(&self, _idle_seconds: u64) -> Result<u64, Error> {
        Ok(0)
    }
}

/// This plugin never returns a body reader.
pub struct NoReader;

impl GuestBodyReader for NoReader {
    fn read(&self, _max: u32) -> Result<Vec<u8>, Error> {
        Ok(Vec::new())
    }
}
