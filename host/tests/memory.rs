//! A 1 GiB object through the real CLI and the fs plugin: byte-identical round trip, and the
//! host's peak RSS stays under 64 MiB (it streams; nothing is buffered whole).
//! One test in its own binary, so the child's rusage is its own.

mod support;

use std::io::{Read, Write};
use std::process::Command;

use sha2::{Digest, Sha256};
use support::World;

const SIZE: u64 = 1 << 30;
const RSS_LIMIT_KIB: i64 = 64 * 1024;

/// Run `warden` and return its peak RSS in KiB (from wait4's rusage).
// The child is reaped by wait4 below, which std does not know about.
#[allow(clippy::zombie_processes)]
fn run_measured(w: &World, args: &[&std::ffi::OsStr]) -> i64 {
    let child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .env("WARDEN_CONFIG_DIR", w.path("config"))
        .env("WARDEN_CACHE_DIR", support::shared_cache())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain FFI; `usage` is written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "warden {args:?} failed: {status}");
    usage.ru_maxrss
}

fn sha256_of(path: &std::path::Path) -> Vec<u8> {
    let mut file = std::fs::File::open(path).unwrap();
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            return hash.finalize().to_vec();
        }
        hash.update(&buf[..n]);
    }
}

#[test]
fn a_1_gib_put_and_get_stream_with_flat_memory() {
    let w = World::new();
    w.add_fs_target("big");
    let src = w.path("big.bin");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&src).unwrap());
        let block = support::pattern(1 << 20, 3);
        for i in 0..(SIZE >> 20) {
            let mut b = block.clone();
            b[..8].copy_from_slice(&i.to_le_bytes()); // no two blocks alike
            file.write_all(&b).unwrap();
        }
        file.flush().unwrap();
    }
    let put_rss = run_measured(&w, &["target".as_ref(), "put".as_ref(), "big".as_ref(), "k".as_ref(), src.as_os_str()]);
    let out = w.path("back.bin");
    let get_rss = run_measured(&w, &["target".as_ref(), "get".as_ref(), "big".as_ref(), "k".as_ref(), out.as_os_str()]);
    assert_eq!(std::fs::metadata(&out).unwrap().len(), SIZE);
    assert_eq!(sha256_of(&out), sha256_of(&src), "the copy is byte-identical");
    eprintln!("peak RSS: put {put_rss} KiB, get {get_rss} KiB");
    assert!(put_rss < RSS_LIMIT_KIB, "put peak RSS {put_rss} KiB");
    assert!(get_rss < RSS_LIMIT_KIB, "get peak RSS {get_rss} KiB");
}
