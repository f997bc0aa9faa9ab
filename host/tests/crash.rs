//! kill -9 during a put, many times: afterwards the key holds the old object or the new one,
//! whole, never a torn one, and listings show no temp files.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::World;

/// Put `old` under `key` of `target`, start putting `new` and kill the process after
/// `delay(i)`, 20 times; after each, the key must hold one of the two whole. Returns how
/// often each was found; `after_each` runs further checks.
fn kill_puts(
    w: &World,
    target: &str,
    (old, new): (&[u8], &[u8]),
    delay: impl Fn(u64) -> Duration,
    after_each: impl Fn(u64),
) -> (u32, u32) {
    let (old_file, new_file) = (w.path("old.bin"), w.path("new.bin"));
    std::fs::write(&old_file, old).unwrap();
    std::fs::write(&new_file, new).unwrap();
    let (mut saw_old, mut saw_new) = (0, 0);
    for i in 0..20u64 {
        w.warden().args(["target", "put", target, "key"]).arg(&old_file).assert().success();
        let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["target", "put", target, "key"])
            .arg(&new_file)
            .env("WARDEN_CONFIG_DIR", w.path("config"))
            .env("WARDEN_CACHE_DIR", support::shared_cache())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay(i));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let got = w.warden().args(["target", "get", target, "key"]).assert().success().get_output().stdout.clone();
        if got == old {
            saw_old += 1;
        } else if got == new {
            saw_new += 1;
        } else {
            panic!("run {i}: the key holds {} bytes that are neither the old object nor the new one", got.len());
        }
        after_each(i);
    }
    (saw_old, saw_new)
}

#[test]
fn a_killed_put_leaves_the_old_or_the_new_object_never_a_torn_one() {
    let w = World::new();
    w.add_fs_target("t");
    let old = support::pattern(1 << 20, 1);
    let new = support::pattern(96 << 20, 2);
    // Kill at a different point each time: during start-up, mid-stream, near the end.
    let (saw_old, saw_new) = kill_puts(
        &w,
        "t",
        (&old, &new),
        |i| Duration::from_millis((i * 11) % 150),
        |i| {
            let ls = w.warden().args(["target", "ls", "t"]).assert().success().get_output().stdout.clone();
            assert_eq!(String::from_utf8_lossy(&ls).lines().count(), 1, "run {i}: only the key is listed");
        },
    );
    eprintln!("after 20 kills: old object {saw_old} times, new object {saw_new} times");
    // What the killed puts left behind is never listed, and `target gc` removes it.
    let left = leftovers(&w.path("data/t"));
    w.warden()
        .args(["target", "gc", "t", "--idle-minutes", "0"])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!("removed {} leftovers", left.len())));
    assert!(leftovers(&w.path("data/t")).is_empty());
    let got = w.warden().args(["target", "get", "t", "key"]).assert().success().get_output().stdout.clone();
    assert!(got == old || got == new, "gc left the object whole");
}

/// Temp files of interrupted writes below `dir`.
fn leftovers(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    support::files_below(dir)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(".warden-tmp-")))
        .collect()
}

/// kill -9 during backups, 20 times at different points: after each, the repository checks
/// clean and the next backup completes; at the end restic agrees and a restore is exact.
#[test]
fn a_killed_backup_leaves_a_repository_that_checks_clean_and_backs_up_again() {
    let w = World::new();
    let (source, repo) = (w.path("source"), w.path("repo"));
    std::fs::create_dir_all(source.join("many")).unwrap();
    for i in 0..300u64 {
        std::fs::write(source.join(format!("many/{i:03}.txt")), support::pattern(2000 + i as usize * 13, i)).unwrap();
    }
    let bin = env!("CARGO_BIN_EXE_warden");
    let warden = |args: &[&str]| {
        let mut cmd = w.warden();
        cmd.env("WARDEN_PASSWORD", "pw").arg("--repo").arg(&repo).args(args);
        cmd
    };
    let restic = |args: &[&str]| {
        let mut cmd = support::restic::command("pw");
        cmd.arg("-r").arg(&repo).args(args);
        support::restic::run_ok(cmd);
    };
    warden(&["init"]).assert().success();
    let mut completed = 0;
    for i in 0..20u64 {
        // New data every round, so each backup writes packs.
        std::fs::write(source.join(format!("big-{i}.bin")), support::pattern(8 << 20, 1000 + i)).unwrap();
        let mut child = Command::new(bin)
            .args(["--repo"])
            .arg(&repo)
            .arg("backup")
            .arg(&source)
            .env("WARDEN_PASSWORD", "pw")
            .env("WARDEN_CONFIG_DIR", w.path("config"))
            .env("WARDEN_CACHE_DIR", support::shared_cache())
            .env("XDG_DATA_HOME", w.path("xdg-data"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill at a different point each time: start-up, scanning, writing packs, saving.
        std::thread::sleep(Duration::from_millis((i * 137) % 1600));
        let _ = child.kill(); // SIGKILL
        if child.wait().unwrap().success() {
            completed += 1;
        }
        let check = warden(&["check"]).assert();
        let out = check.get_output();
        assert!(
            out.status.success(),
            "run {i}: check failed after a kill: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // restic 0.14 does not clear a dead process's lock by itself (Warden's check just did).
        restic(&["check"]);
    }
    eprintln!("{completed} of 20 backups finished before their kill");
    warden(&["backup"]).arg(&source).assert().success();
    // Temp files the kills left are removed by prune once nothing has touched them for ten
    // minutes (made old here rather than waited for).
    let left = leftovers(&repo);
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    for rel in &left {
        std::fs::File::options().write(true).open(repo.join(rel)).unwrap().set_modified(an_hour_ago).unwrap();
    }
    warden(&["prune"]).assert().success();
    assert!(leftovers(&repo).is_empty(), "prune left {:?}", leftovers(&repo));
    eprintln!("prune removed {} leftovers of killed backups", left.len());
    warden(&["check", "--read-data"]).assert().success();
    restic(&["check", "--read-data"]);
    let dest = w.path("restored");
    warden(&["restore", "latest"]).arg(&dest).assert().success();
    let copy = dest.join(source.strip_prefix("/").unwrap());
    for rel in support::files_below(&source) {
        let (a, b) = (source.join(&rel), copy.join(&rel));
        if a.is_file() {
            assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "{}", rel.display());
        }
    }
}

/// kill -9 during puts to S3 (a real server, every signature checked), 20 times: the key
/// holds the old object or the new one, whole, never a torn one.
#[test]
fn a_killed_s3_put_leaves_the_old_or_the_new_object() {
    let server = support::s3_server::S3Server::start();
    let w = World::new();
    server.add_target(&w, "cloud", &["multipart_threshold_mib=8", "part_size_mib=5"]).success();
    let old = support::pattern(1 << 20, 11);
    let new = support::pattern(24 << 20, 12); // in parts: a kill can land between them
    let (saw_old, saw_new) = kill_puts(&w, "cloud", (&old, &new), |i| Duration::from_millis((i * 113) % 2000), |_| {});
    eprintln!("after 20 kills on S3: old object {saw_old} times, new object {saw_new} times");
}
