//! kill -9 during a put, many times: afterwards the key holds the old object or the new one,
//! whole, never a torn one, and listings show no temp files.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::World;

#[test]
fn a_killed_put_leaves_the_old_or_the_new_object_never_a_torn_one() {
    let w = World::new();
    w.add_fs_target("t");
    let old = support::pattern(1 << 20, 1);
    let new = support::pattern(96 << 20, 2);
    let old_file = w.path("old.bin");
    let new_file = w.path("new.bin");
    std::fs::write(&old_file, &old).unwrap();
    std::fs::write(&new_file, &new).unwrap();
    let bin = env!("CARGO_BIN_EXE_warden");
    let (mut saw_old, mut saw_new) = (0, 0);
    for i in 0..20u64 {
        w.warden().args(["target", "put", "t", "key"]).arg(&old_file).assert().success();
        let mut child = Command::new(bin)
            .args(["target", "put", "t", "key"])
            .arg(&new_file)
            .env("WARDEN_CONFIG_DIR", w.path("config"))
            .env("WARDEN_CACHE_DIR", support::shared_cache())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill at a different point each time: during start-up, mid-stream, near the end.
        std::thread::sleep(Duration::from_millis((i * 11) % 150));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let got = w.warden().args(["target", "get", "t", "key"]).assert().success().get_output().stdout.clone();
        if got == old {
            saw_old += 1;
        } else if got == new {
            saw_new += 1;
        } else {
            panic!("run {i}: the key holds {} bytes that are neither the old object nor the new one", got.len());
        }
        let ls = w.warden().args(["target", "ls", "t"]).assert().success().get_output().stdout.clone();
        assert_eq!(String::from_utf8_lossy(&ls).lines().count(), 1, "run {i}: only the key is listed");
    }
    eprintln!("after 20 kills: old object {saw_old} times, new object {saw_new} times");
}
