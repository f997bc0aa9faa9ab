//! Test-only hostile target. `put` and `get` pick an attack from the key:
//!
//! - `panic`: panics (a trap);
//! - `loop`: spins forever (the deadline must stop it);
//! - `oom`: allocates until memory runs out;
//! - `recurse`: unbounded recursion (stack overflow);
//! - `sleep`: blocks for an hour inside a host call (the host's timer must stop it);
//! - `stderr`: writes 20 MB of escape-laden text to stderr, then succeeds;
//! - `log-flood`: calls the host log 100,000 times with 4 KiB messages, then succeeds;
//! - `config`: reports the settings it was opened with (secrets must not be among them);
//! - `ambient`: reports its environment, arguments and preopens in an `other` error;
//! - `write-anything`: tries to create, write, truncate, link, rename, unlink, mkdir and
//!   symlink in its directory (all must fail under a read-only grant);
//! - `escape`: tries to leave its directory and reports what worked in an `other` error;
//! - `escape-slash`: the same through symlink chains and trailing slashes;
//! - `huge-error` / `huge-key` (put): an 8 MiB error message / a 32 MiB key in its answer;
//! - `lie-size` (put): reports one byte more than it was sent;
//! - `short` (get): promises 1,000 bytes and delivers 10;
//! - `endless` and `config` (get): claims a petabyte and streams zeros without end;
//! - `huge-list` (list prefix): returns more objects than the limit;
//! - `stuck-cursor` (list prefix): returns the same cursor forever;
//! - `http <url>` / `http-auth <url>` / `http-follow <url>`: sends a GET (with an
//!   `Authorization` header; following one redirect) and reports the outcome in an `other` error;
//! - `flaky`: fails `unavailable` on the first two attempts, `rate` fails `rate-limited`
//!   (retry after 1 s) on the first, `invalid` always fails `invalid-input`; each counts its
//!   attempts in the file `<key>.count` of its directory.
//!
//! Anything else behaves like an empty store.

use std::hint::black_box;

use wasip2::filesystem::preopens::get_directories;
use wasip2::filesystem::types::{Descriptor, DescriptorFlags, OpenFlags, PathFlags};
use wasip2::io::streams::InputStream;

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
    Body, Check, Features, Guest, GuestBodyReader, GuestSession, ObjectBody, PutOptions, Session,
};
use warden::plugin::log::{Level, log};
use warden::plugin::types::{ByteRange, Error, ListPage, ObjectMeta};

#[used]
#[unsafe(link_section = "warden:manifest")]
static MANIFEST: [u8; include_bytes!("../warden.toml").len()] = *include_bytes!("../warden.toml");
#[used]
#[unsafe(link_section = "warden:api-version")]
static API_VERSION: [u8; 5] = *b"0.1.0";

struct Hostile;
struct HostileSession {
    root: Descriptor,
    config: Vec<(String, String)>,
}

export!(Hostile);

fn meta(key: String, size: u64) -> ObjectMeta {
    ObjectMeta { key, size, modified_ns: None, etag: None }
}

#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    black_box(recurse(black_box(depth + 1)) + 1)
}

impl HostileSession {
    /// Run the attack named by `key`; `None` when the key names none.
    fn attack(&self, key: &str) -> Option<Result<ObjectMeta, Error>> {
        Some(match key {
            "panic" => panic!("hostile plugin panics on purpose"),
            "loop" => {
                let mut x = 0u64;
                loop {
                    x = black_box(x.wrapping_add(1));
                }
            }
            "oom" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    black_box(&hoard);
                }
            }
            "recurse" => Ok(meta(key.into(), recurse(0))),
            "sleep" => {
                // Block inside a host call (a pollable that resolves in an hour).
                sleep_in_host();
                Ok(meta(key.into(), 0))
            }
            "stderr" => {
                let line = "\x1b[31mred\x1b[0m \x1b]0;title\x07 flood ".repeat(100);
                for _ in 0..(20_000_000 / line.len()) {
                    eprintln!("{line}");
                }
                Ok(meta(key.into(), 0))
            }
            "log-flood" => {
                let message = "x".repeat(4096);
                for _ in 0..100_000 {
                    log(Level::Error, &message);
                }
                Ok(meta(key.into(), 0))
            }
            "config" => Err(Error::Other(format!("config={:?}", self.config))),
            // 8 MiB of message, escape codes included, for the host to cut down.
            "huge-error" => Err(Error::Other("\u{1b}[31mhuge ".repeat(800 << 10))),
            "huge-key" => Ok(meta("k".repeat(32 << 20), 1)),
            "ambient" => {
                let env: Vec<(String, String)> = std::env::vars().collect();
                let args: Vec<String> = std::env::args().collect();
                let preopens: Vec<String> = get_directories().into_iter().map(|(_, name)| name).collect();
                let cwd = std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default();
                Err(Error::Other(format!("env={env:?} args={args:?} preopens={preopens:?} cwd={cwd:?}")))
            }
            "write-anything" => {
                // Under a read-only grant every one of these must fail.
                let mut reached = Vec::new();
                let root = &self.root;
                if root.open_at(PathFlags::empty(), "new-file", OpenFlags::CREATE, DescriptorFlags::WRITE).is_ok() {
                    reached.push("create a file");
                }
                if root.open_at(PathFlags::empty(), "existing", OpenFlags::empty(), DescriptorFlags::WRITE).is_ok() {
                    reached.push("open a file for writing");
                }
                if root.open_at(PathFlags::empty(), "existing", OpenFlags::TRUNCATE, DescriptorFlags::READ).is_ok() {
                    reached.push("truncate a file");
                }
                if root.link_at(PathFlags::empty(), "existing", root, "hard-link").is_ok() {
                    reached.push("hard link");
                }
                if root.rename_at("existing", root, "renamed").is_ok() {
                    reached.push("rename");
                }
                if root.unlink_file_at("existing").is_ok() {
                    reached.push("unlink");
                }
                if root.create_directory_at("new-dir").is_ok() {
                    reached.push("mkdir");
                }
                if root.symlink_at("existing", "sym").is_ok() {
                    reached.push("symlink");
                }
                Err(Error::Other(format!("reached={reached:?}")))
            }
            "escape" => {
                let mut reached = Vec::new();
                for path in ["..", "../..", "/", "/etc/passwd", "../outside/sentinel", "link-out/sentinel", "link-out"]
                {
                    if self
                        .root
                        .open_at(PathFlags::SYMLINK_FOLLOW, path, OpenFlags::empty(), DescriptorFlags::READ)
                        .is_ok()
                    {
                        reached.push(format!("open {path}"));
                    }
                    if self.root.stat_at(PathFlags::SYMLINK_FOLLOW, path).is_ok() {
                        reached.push(format!("stat {path}"));
                    }
                }
                if self.root.symlink_at("/etc/passwd", "made-link").is_ok()
                    && self
                        .root
                        .open_at(PathFlags::SYMLINK_FOLLOW, "made-link", OpenFlags::empty(), DescriptorFlags::READ)
                        .is_ok()
                {
                    reached.push("followed a symlink it made".into());
                }
                if self.root.create_directory_at("../escaped-dir").is_ok() {
                    reached.push("mkdir ../escaped-dir".into());
                }
                if std::fs::read_to_string("/etc/passwd").is_ok() {
                    reached.push("std::fs read /etc/passwd".into());
                }
                if std::net::TcpStream::connect("127.0.0.1:1").is_ok() || std::net::UdpSocket::bind("0.0.0.0:0").is_ok()
                {
                    reached.push("opened a socket".into());
                }
                Err(Error::Other(format!("reached={reached:?}")))
            }
            "escape-slash" => {
                // GHSA-vqjp-4c8c-hfgg's shape: symlink chains and trailing slashes that a
                // path resolver might follow one step too far. The test plants `link-out` (to
                // a directory outside) and `chain-1` -> `chain-2/` -> `link-out/`.
                let mut reached = Vec::new();
                let _ = self.root.symlink_at("../", "made-up-slash");
                let _ = self.root.symlink_at("made-up-slash/", "made-chain");
                let _ = self.root.symlink_at("link-out/", "made-out-slash");
                for path in [
                    "link-out/",
                    "link-out/.",
                    "link-out//sentinel",
                    "link-out/sentinel/",
                    "chain-1/",
                    "chain-1/sentinel",
                    "chain-1/./sentinel",
                    "chain-2/sentinel",
                    "made-up-slash/",
                    "made-up-slash/outside/sentinel",
                    "made-chain/outside/sentinel",
                    "made-out-slash/sentinel",
                    "made-out-slash/",
                ] {
                    for flags in [PathFlags::SYMLINK_FOLLOW, PathFlags::empty()] {
                        if self.root.open_at(flags, path, OpenFlags::empty(), DescriptorFlags::READ).is_ok() {
                            reached.push(format!("open {path} ({flags:?})"));
                        }
                        if self.root.open_at(flags, path, OpenFlags::DIRECTORY, DescriptorFlags::READ).is_ok() {
                            reached.push(format!("open dir {path} ({flags:?})"));
                        }
                        if let Ok(stat) = self.root.stat_at(flags, path)
                            && stat.type_ != wasip2::filesystem::types::DescriptorType::SymbolicLink
                        {
                            reached.push(format!("stat {path} ({flags:?})"));
                        }
                    }
                }
                Err(Error::Other(format!("reached={reached:?}")))
            }
            _ if key.starts_with("http") => {
                let (verb, url) = key.split_once(' ')?;
                let auth = verb == "http-auth";
                let outcome = match http_get(url, auth) {
                    Ok((status, Some(location))) if verb == "http-follow" && (300..400).contains(&status) => {
                        match http_get(&location, false) {
                            Ok((status, _)) => format!("followed: status {status}"),
                            Err(e) => format!("followed: {e}"),
                        }
                    }
                    Ok((status, _)) => format!("status {status}"),
                    Err(e) => e,
                };
                Err(Error::Other(outcome))
            }
            "flaky" | "rate" | "invalid" => {
                let attempt = self.count_attempt(key);
                match (key, attempt) {
                    ("flaky", 1 | 2) => Err(Error::Unavailable(format!("attempt {attempt} fails"))),
                    ("rate", 1) => Err(Error::RateLimited(warden::plugin::types::RateLimit {
                        retry_after_seconds: Some(1),
                        message: "slow down".into(),
                    })),
                    ("invalid", _) => Err(Error::InvalidInput("never valid".into())),
                    _ => Ok(meta(key.into(), 0)),
                }
            }
            _ => return None,
        })
    }

    /// Add one to the attempt counter of `key` (a file in the granted directory).
    fn count_attempt(&self, key: &str) -> u32 {
        let name = format!("{key}.count");
        let previous = self
            .root
            .open_at(PathFlags::empty(), &name, OpenFlags::empty(), DescriptorFlags::READ)
            .ok()
            .and_then(|f| f.read(16, 0).ok())
            .and_then(|(bytes, _)| String::from_utf8(bytes).ok())
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(0);
        let now = previous + 1;
        if let Ok(f) = self.root.open_at(
            PathFlags::empty(),
            &name,
            OpenFlags::CREATE | OpenFlags::TRUNCATE,
            DescriptorFlags::WRITE,
        ) {
            let _ = f.write(now.to_string().as_bytes(), 0);
        }
        now
    }
}

impl Guest for Hostile {
    type Session = HostileSession;
    type BodyReader = NoReader;
}

impl GuestSession for HostileSession {
    fn open(config: Vec<(String, String)>) -> Result<Session, Error> {
        let root = get_directories()
            .into_iter()
            .next()
            .map(|(d, _)| d)
            .ok_or_else(|| Error::PermissionDenied("no directory granted".into()))?;
        Ok(Session::new(HostileSession { root, config }))
    }

    fn features(&self) -> Features {
        Features { ranges: true, create_only: false, max_object_size: None, max_list_page: 10, prefix_keys: true }
    }

    fn test_connection(&self) -> Result<Vec<Check>, Error> {
        Ok(vec![Check { name: "hostile".into(), ok: true, detail: "it lies".into() }])
    }

    fn put(&self, key: String, _body: &InputStream, options: PutOptions) -> Result<ObjectMeta, Error> {
        // Attacks that end well report the declared size: the lie under test is the attack.
        let size = options.size.unwrap_or(0);
        if key == "lie-size" {
            return Ok(meta(key, size + 1));
        }
        self.attack(&key).unwrap_or_else(|| Ok(meta(key, size))).map(|m| ObjectMeta { size, ..m })
    }

    fn get(&self, key: String, _range: Option<ByteRange>) -> Result<ObjectBody, Error> {
        if key == "config" || key == "endless" {
            // Claims a petabyte and streams zeros for as long as anyone reads.
            let huge = 1u64 << 50;
            return Ok(ObjectBody {
                meta: meta(key, huge),
                length: huge,
                body: Body::Reader(exports::warden::plugin::target::BodyReader::new(NoReader)),
            });
        }
        if key == "short" {
            let file = self
                .root
                .open_at(PathFlags::empty(), "short", OpenFlags::CREATE, DescriptorFlags::READ | DescriptorFlags::WRITE)
                .map_err(|e| Error::Other(format!("{e:?}")))?;
            file.write(b"0123456789", 0).map_err(|e| Error::Other(format!("{e:?}")))?;
            let body = file.read_via_stream(0).map_err(|e| Error::Other(format!("{e:?}")))?;
            return Ok(ObjectBody { meta: meta(key, 1000), length: 1000, body: Body::Stream(body) });
        }
        match self.attack(&key) {
            Some(Err(e)) => Err(e),
            _ => Err(Error::NotFound(key)),
        }
    }

    fn head(&self, key: String) -> Result<ObjectMeta, Error> {
        let missing = Err(Error::NotFound(key.clone()));
        self.attack(&key).unwrap_or(missing)
    }

    fn list(&self, prefix: String, _cursor: Option<String>, _limit: u32) -> Result<ListPage, Error> {
        match prefix.as_str() {
            "huge-list" => Ok(ListPage {
                objects: (0..100_000).map(|i| meta(format!("huge-list{i:06}"), 1)).collect(),
                next: None,
            }),
            "stuck-cursor" => {
                Ok(ListPage { objects: vec![meta("stuck-cursor-b".into(), 1)], next: Some("stuck-cursor-a".into()) })
            }
            _ => Ok(ListPage { objects: Vec::new(), next: None }),
        }
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
    /// Zeros, forever: the only reader this plugin hands out is the endless one.
    fn read(&self, max: u32) -> Result<Vec<u8>, Error> {
        Ok(vec![0; max as usize])
    }
}

/// GET `url` through wasi:http; the status and any `location`, or what failed.
fn http_get(url: &str, with_auth: bool) -> Result<(u16, Option<String>), String> {
    use wasip2::http::types::{Fields, OutgoingBody, OutgoingRequest, Scheme};
    let (scheme, rest) = url.split_once("://").ok_or("bad url")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let headers = Fields::new();
    if with_auth {
        headers.append("authorization", b"Bearer stolen").map_err(|e| format!("header refused: {e:?}"))?;
    }
    let request = OutgoingRequest::new(headers);
    let scheme = if scheme == "https" { Scheme::Https } else { Scheme::Http };
    request.set_scheme(Some(&scheme)).map_err(|_| "scheme refused")?;
    request.set_authority(Some(authority)).map_err(|_| "authority refused")?;
    request.set_path_with_query(Some(path)).map_err(|_| "path refused")?;
    let body = request.body().map_err(|_| "no body")?;
    OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))?;
    let future = wasip2::http::outgoing_handler::handle(request, None).map_err(|e| format!("error: {e:?}"))?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(format!("error: {e:?}")),
        other => return Err(format!("error: {other:?}")),
    };
    let location = response.headers().get("location").first().map(|v| String::from_utf8_lossy(v).into_owned());
    Ok((response.status(), location))
}

/// Wait on a monotonic-clock pollable an hour away: time spent in the host, not in wasm.
fn sleep_in_host() {
    let pollable = wasip2::clocks::monotonic_clock::subscribe_duration(3_600_000_000_000);
    pollable.block();
}
