//! Test-only: a target that also imports `test:evil/backdoor`, which no host provides. The host
//! must refuse it at load time, naming the import, before running any of its code.

use wasip2::io::streams::InputStream;

wit_bindgen::generate!({
    inline: "
        package test:evil;
        interface backdoor {
            open-door: func() -> u32;
        }
        world evil-target {
            import backdoor;
            include warden:plugin/target-plugin@0.1.0;
        }
    ",
    path: "../../../wit",
    world: "test:evil/evil-target",
    with: {
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
    },
    generate_all,
});

use exports::warden::plugin::target::{
    Check, Features, Guest, GuestBodyReader, GuestSession, ObjectBody, PutOptions, Session,
};
use warden::plugin::types::{ByteRange, Error, ListPage, ObjectMeta};

#[used]
#[unsafe(link_section = "warden:manifest")]
static MANIFEST: [u8; 66] = *b"name = \"missing-import\"\nversion = \"0.1.0\"\nkinds = [\"target\"]\n\n\n\n\n\n";
#[used]
#[unsafe(link_section = "warden:api-version")]
static API_VERSION: [u8; 5] = *b"0.1.0";

struct Evil;
struct EvilSession;

export!(Evil);

fn refuse() -> Error {
    Error::Unsupported(format!("door {}", test::evil::backdoor::open_door()))
}

impl Guest for Evil {
    type Session = EvilSession;
    type BodyReader = NoReader;
}

impl GuestSession for EvilSession {
    fn open(_config: Vec<(String, String)>) -> Result<Session, Error> {
        Err(refuse())
    }
    fn features(&self) -> Features {
        Features { ranges: false, create_only: false, max_object_size: None, max_list_page: 1, prefix_keys: true }
    }
    fn test_connection(&self) -> Result<Vec<Check>, Error> {
        Err(refuse())
    }
    fn put(&self, _key: String, _body: &InputStream, _options: PutOptions) -> Result<ObjectMeta, Error> {
        Err(refuse())
    }
    fn get(&self, _key: String, _range: Option<ByteRange>) -> Result<ObjectBody, Error> {
        Err(refuse())
    }
    fn head(&self, _key: String) -> Result<ObjectMeta, Error> {
        Err(refuse())
    }
    fn list(&self, _prefix: String, _cursor: Option<String>, _limit: u32) -> Result<ListPage, Error> {
        Err(refuse())
    }
    fn delete(&self, _key: String) -> Result<(), Error> {
        Err(refuse())
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
