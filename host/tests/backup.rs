//! Backups end to end through the real CLI and plugins: round trips, incremental runs,
//! interop with the real `restic` binary both ways, and bad inputs.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use predicates::prelude::*;
use support::{World, pattern};

const PASSWORD: &str = "correct horse battery staple";

/// A tree with the shapes a backup meets: big and small files, a duplicate, an empty file,
/// nested directories, a relative link, names with spaces and non-ASCII.
fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("docs/deep/er")).unwrap();
    std::fs::create_dir_all(root.join("empty dir")).unwrap();
    std::fs::write(root.join("big.bin"), pattern(5 << 20, 1)).unwrap();
    std::fs::write(root.join("big copy.bin"), pattern(5 << 20, 1)).unwrap();
    std::fs::write(root.join("docs/empty"), b"").unwrap();
    std::fs::write(root.join("docs/deep/er/élan.txt"), "non-ASCII name\n").unwrap();
    for i in 0..50u64 {
        std::fs::write(root.join(format!("docs/note-{i:02}.txt")), pattern(10 + i as usize * 101, i)).unwrap();
    }
    std::os::unix::fs::symlink("docs/note-00.txt", root.join("link")).unwrap();
}

/// Every entry below `root` with its content (files), its target (links) or nothing (dirs).
fn snapshot_of(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for rel in support::files_below(root) {
        let path = root.join(&rel);
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let value = if meta.is_symlink() {
            format!("link {}", std::fs::read_link(&path).unwrap().display())
        } else if meta.is_dir() {
            "dir".into()
        } else {
            let bytes = std::fs::read(&path).unwrap();
            format!(
                "file {} {:x}",
                bytes.len(),
                bytes.iter().fold(0u64, |h, b| h.wrapping_mul(131).wrapping_add(*b as u64))
            )
        };
        out.push((rel, value));
    }
    out
}

/// Where a restore puts the source (snapshots keep absolute paths).
fn restored(dest: &Path, source: &Path) -> PathBuf {
    dest.join(source.strip_prefix("/").unwrap())
}

impl RepoWorld for World {}

trait RepoWorld {
    fn repo_cmd(w: &World, repo: &Path) -> assert_cmd::Command {
        let mut cmd = w.warden();
        cmd.env("WARDEN_PASSWORD", PASSWORD).arg("--repo").arg(repo);
        cmd
    }
}

fn json(output: &[u8]) -> serde_json::Value {
    serde_json::from_slice(output).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(output)))
}

fn restic() -> StdCommand {
    support::restic::command(PASSWORD)
}

use support::restic::run_ok;

#[test]
fn backup_and_restore_round_trip_and_skip_unchanged_files() {
    let w = World::new();
    let (source, repo) = (w.path("source"), w.path("repo"));
    make_tree(&source);
    World::repo_cmd(&w, &repo).arg("init").assert().success().stdout(predicate::str::contains("created repository"));
    let run = World::repo_cmd(&w, &repo).args(["--json", "backup", "--tag", "first"]).arg(&source).assert().success();
    let first = json(&run.get_output().stdout);
    assert_eq!(first["files_new"], 55, "{first}");
    assert!(first["failures"].as_array().unwrap().is_empty());
    // The duplicate is stored once: less than one big file plus the small ones was added.
    assert!(first["bytes_added"].as_u64().unwrap() < (5 << 20) + (1 << 20), "{first}");

    // Unchanged files are not read again; a changed one is.
    std::fs::write(source.join("docs/note-07.txt"), "changed\n").unwrap();
    let run = World::repo_cmd(&w, &repo).args(["--json", "backup"]).arg(&source).assert().success();
    let second = json(&run.get_output().stdout);
    assert_eq!(
        (second["files_changed"].as_u64(), second["files_unmodified"].as_u64()),
        (Some(1), Some(54)),
        "{second}"
    );

    let run = World::repo_cmd(&w, &repo).args(["--json", "snapshots"]).assert().success();
    let snaps = json(&run.get_output().stdout);
    assert_eq!(snaps.as_array().unwrap().len(), 2);
    assert_eq!(snaps[0]["tags"][0], "first");

    let ls = World::repo_cmd(&w, &repo).args(["ls", "latest"]).assert().success();
    let listing = String::from_utf8_lossy(&ls.get_output().stdout).into_owned();
    assert!(listing.contains(&format!("{}\n", source.join("docs/deep/er/élan.txt").display())), "{listing}");

    let dest = w.path("restored");
    World::repo_cmd(&w, &repo).args(["restore", "--verify", "latest"]).arg(&dest).assert().success();
    assert_eq!(snapshot_of(&restored(&dest, &source)), snapshot_of(&source));

    // A part of the first snapshot, by id prefix: its contents land in the destination (as
    // with restic), with the old content of the changed file.
    let first_id = snaps[0]["id"].as_str().unwrap()[..8].to_string();
    let part = w.path("part");
    World::repo_cmd(&w, &repo)
        .arg("restore")
        .arg(format!("{first_id}:{}", source.join("docs").display()))
        .arg(&part)
        .assert()
        .success();
    assert_eq!(std::fs::read(part.join("note-07.txt")).unwrap(), pattern(10 + 7 * 101, 7));
    World::repo_cmd(&w, &repo).args(["check", "--read-data"]).assert().success();
}

#[test]
fn restic_reads_what_warden_writes_and_warden_reads_what_restic_writes() {
    let w = World::new();
    let (source, repo) = (w.path("source"), w.path("repo"));
    make_tree(&source);
    World::repo_cmd(&w, &repo).arg("init").assert().success();
    World::repo_cmd(&w, &repo).arg("backup").arg(&source).assert().success();

    // restic lists, checks and restores Warden's snapshot byte for byte.
    let listed = run_ok({
        let mut c = restic();
        c.arg("-r").arg(&repo).args(["snapshots", "--json"]);
        c
    });
    assert!(listed.contains(&source.display().to_string()), "{listed}");
    run_ok({
        let mut c = restic();
        c.arg("-r").arg(&repo).args(["check", "--read-data"]);
        c
    });
    let by_restic = w.path("by-restic");
    run_ok({
        let mut c = restic();
        c.arg("-r").arg(&repo).args(["restore", "latest", "--target"]).arg(&by_restic);
        c
    });
    assert_eq!(snapshot_of(&restored(&by_restic, &source)), snapshot_of(&source));

    // Warden lists and restores a snapshot restic made, in a repository restic created.
    let restic_repo = w.path("restic-repo");
    run_ok({
        let mut c = restic();
        c.arg("-r").arg(&restic_repo).arg("init");
        c
    });
    std::fs::write(source.join("added by restic.txt"), "hello from restic\n").unwrap();
    run_ok({
        let mut c = restic();
        c.arg("-r").arg(&restic_repo).arg("backup").arg(&source);
        c
    });
    World::repo_cmd(&w, &restic_repo)
        .arg("snapshots")
        .assert()
        .success()
        .stdout(predicate::str::contains("1 snapshots"));
    let by_warden = w.path("by-warden");
    World::repo_cmd(&w, &restic_repo).arg("restore").arg("latest").arg(&by_warden).assert().success();
    assert_eq!(snapshot_of(&restored(&by_warden, &source)), snapshot_of(&source));
    World::repo_cmd(&w, &restic_repo).args(["check", "--read-data"]).assert().success();
}

#[test]
fn bad_inputs_fail_clearly() {
    let w = World::new();
    let (source, repo) = (w.path("source"), w.path("repo"));
    make_tree(&source);
    // No repository yet: not found, and the fix is named.
    World::repo_cmd(&w, &repo)
        .arg("snapshots")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("there is no repository there; create one with `warden init`"));
    World::repo_cmd(&w, &repo).arg("init").assert().success();
    // A second init refuses and keeps the first.
    World::repo_cmd(&w, &repo).arg("init").assert().code(5).stderr(predicate::str::contains("already exists"));
    // Wrong password.
    w.warden()
        .env("WARDEN_PASSWORD", "wrong")
        .arg("--repo")
        .arg(&repo)
        .arg("snapshots")
        .assert()
        .code(6)
        .stderr(predicate::str::contains("the password is wrong"));
    // No password at all, and no terminal to ask on.
    w.warden()
        .arg("--repo")
        .arg(&repo)
        .arg("snapshots")
        .assert()
        .failure()
        .stderr(predicate::str::contains("no repository password: pass --password-file FILE, set WARDEN_PASSWORD"));
    // A source that does not exist.
    World::repo_cmd(&w, &repo)
        .arg("backup")
        .arg(w.path("nope"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("the path to back up cannot be read; check that it exists"));
    // A snapshot that does not exist, a path a snapshot does not hold.
    World::repo_cmd(&w, &repo)
        .arg("restore")
        .arg("deadbeef")
        .arg(w.path("out"))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no snapshot matches `deadbeef`"));
    World::repo_cmd(&w, &repo).arg("backup").arg(&source).assert().success();
    World::repo_cmd(&w, &repo)
        .args(["ls", "latest:/no/such/path"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("snapshot `latest` holds no `/no/such/path`"));
    // A destination that cannot be created: a file is in the way.
    let blocked = w.path("blocked");
    std::fs::write(&blocked, b"a file").unwrap();
    World::repo_cmd(&w, &repo)
        .arg("restore")
        .arg("latest")
        .arg(blocked.join("sub"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("the restore destination cannot be created"));
}

#[test]
fn a_corrupted_pack_is_found_by_check_and_never_restored_as_good() {
    let w = World::new();
    let (source, repo) = (w.path("source"), w.path("repo"));
    make_tree(&source);
    World::repo_cmd(&w, &repo).arg("init").assert().success();
    World::repo_cmd(&w, &repo).arg("backup").arg(&source).assert().success();
    // Flip one byte in the middle of the biggest pack.
    let packs: Vec<PathBuf> = support::files_below(&repo.join("data"))
        .into_iter()
        .map(|p| repo.join("data").join(p))
        .filter(|p| p.is_file())
        .collect();
    let biggest = packs.iter().max_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
    let mut bytes = std::fs::read(biggest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(biggest, bytes).unwrap();
    World::repo_cmd(&w, &repo).args(["check", "--read-data"]).assert().failure();
    let dest = w.path("restored");
    let run = World::repo_cmd(&w, &repo).arg("restore").arg("latest").arg(&dest).assert().failure();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(stderr.contains("not restored:"), "{stderr}");
    // Whatever was written is whole and correct; the damaged file is absent, not torn.
    let copy = restored(&dest, &source);
    for (rel, value) in snapshot_of(&copy) {
        let original = snapshot_of(&source).into_iter().find(|(r, _)| *r == rel).map(|(_, v)| v);
        assert_eq!(original.as_deref(), Some(value.as_str()), "{}", rel.display());
    }
}

#[test]
fn forget_and_prune_keep_what_the_policy_says_and_restic_agrees() {
    let w = World::new();
    let (source, repo) = (w.path("source"), w.path("repo"));
    make_tree(&source);
    World::repo_cmd(&w, &repo).arg("init").assert().success();
    for i in 0..3 {
        // Each round replaces the last one's big file, so forgetting rounds frees data.
        let _ = std::fs::remove_file(source.join(format!("round-{}.bin", i.max(1) - 1)));
        std::fs::write(source.join(format!("round-{i}.bin")), pattern(6 << 20, 100 + i)).unwrap();
        World::repo_cmd(&w, &repo).arg("backup").arg(&source).assert().success();
    }
    // No policy: refused, nothing removed.
    World::repo_cmd(&w, &repo).arg("forget").assert().code(4).stderr(predicate::str::contains("no --keep-* option"));
    let run = World::repo_cmd(&w, &repo).args(["--json", "forget", "--keep-last", "1", "--dry-run"]).assert().success();
    let plan = json(&run.get_output().stdout);
    assert_eq!(plan["snapshots"].as_array().unwrap().iter().filter(|s| s["keep"] == false).count(), 2);
    World::repo_cmd(&w, &repo).arg("snapshots").assert().success().stdout(predicate::str::contains("3 snapshots"));
    let data_before = dir_size(&repo.join("data"));
    World::repo_cmd(&w, &repo).args(["forget", "--keep-last", "1", "--prune"]).assert().success();
    World::repo_cmd(&w, &repo).arg("snapshots").assert().success().stdout(predicate::str::contains("1 snapshots"));
    assert!(dir_size(&repo.join("data")) < data_before, "prune freed nothing");
    World::repo_cmd(&w, &repo).args(["check", "--read-data"]).assert().success();
    run_ok({
        let mut c = restic();
        c.arg("-r").arg(&repo).args(["check", "--read-data"]);
        c
    });
    let dest = w.path("restored");
    World::repo_cmd(&w, &repo).arg("restore").arg("latest").arg(&dest).assert().success();
    assert_eq!(snapshot_of(&restored(&dest, &source)), snapshot_of(&source));
}

fn dir_size(dir: &Path) -> u64 {
    support::files_below(dir).iter().filter_map(|p| std::fs::metadata(dir.join(p)).ok()).map(|m| m.len()).sum()
}

#[test]
fn locks_are_restics_own_and_exclude_each_other() {
    use std::collections::BTreeMap;
    use warden::engine::{self, EngineOptions, RepoFiles, TargetBackend};
    use warden::plugin::Catalog;
    use warden::runtime::Runtime;
    use warden::target::Target;

    let w = World::new();
    let (source, repo) = (w.path("source"), w.path("repo"));
    make_tree(&source);
    World::repo_cmd(&w, &repo).arg("init").assert().success();
    World::repo_cmd(&w, &repo).arg("backup").arg(&source).assert().success();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let runtime = Runtime::builder().cache_dir(support::shared_cache()).build().unwrap();
    let plugin = Catalog::builtin_only().resolve(&runtime, "fs").unwrap();
    let settings = BTreeMap::from([("path".to_string(), repo.display().to_string())]);
    let target = Target::open(&runtime, plugin, "repo", &settings).unwrap();
    let files: std::sync::Arc<dyn RepoFiles> = std::sync::Arc::new(TargetBackend::new(target, "", rt.handle().clone()));
    let opened = engine::open(&files, PASSWORD, &EngineOptions::default()).unwrap();

    // Warden's exclusive lock: restic reads it as its own and refuses to prune under it;
    // Warden's backup refuses too, naming the holder.
    let held = opened.lock(true).unwrap();
    let locks = opened.locks().unwrap();
    assert_eq!(locks.len(), 1);
    let shown = run_ok({
        let mut c = restic();
        c.arg("-r").arg(&repo).args(["--no-lock", "cat", "lock", &locks[0].0]);
        c
    });
    assert!(shown.contains("\"exclusive\": true") || shown.contains("\"exclusive\":true"), "{shown}");
    let out = restic().arg("-r").arg(&repo).arg("prune").output().unwrap();
    assert!(!out.status.success(), "restic pruned under Warden's exclusive lock");
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(said.contains("locked exclusively by PID"), "{said}");
    World::repo_cmd(&w, &repo)
        .arg("backup")
        .arg(&source)
        .assert()
        .failure()
        .stderr(predicate::str::contains("the repository is in use: an exclusive lock by"));
    // A shared lock lets another backup run but not a prune.
    drop(held);
    assert!(opened.locks().unwrap().is_empty(), "the lock was not removed");
    let shared = opened.lock(false).unwrap();
    World::repo_cmd(&w, &repo).arg("backup").arg(&source).assert().success();
    World::repo_cmd(&w, &repo)
        .arg("prune")
        .assert()
        .failure()
        .stderr(predicate::str::contains("the repository is in use"));
    let out = restic().arg("-r").arg(&repo).arg("prune").output().unwrap();
    assert!(!out.status.success(), "restic pruned under Warden's shared lock");
    drop(shared);
    World::repo_cmd(&w, &repo).arg("prune").assert().success();
    run_ok({
        let mut c = restic();
        c.arg("-r").arg(&repo).arg("prune");
        c
    });
    // A lock whose holder is alive stays through `unlock`; `--remove-all` removes it.
    let live = opened.lock(false).unwrap();
    World::repo_cmd(&w, &repo).arg("unlock").assert().success().stdout(predicate::str::contains("removed 0 locks"));
    World::repo_cmd(&w, &repo).arg("prune").assert().failure();
    World::repo_cmd(&w, &repo)
        .args(["unlock", "--remove-all"])
        .assert()
        .success()
        .stdout(predicate::str::contains("removed 1 locks"));
    World::repo_cmd(&w, &repo).arg("prune").assert().success();
    drop(live);
}

/// A directory for the hostile importer, and the plugin's path.
fn hostile_source(w: &World) -> (PathBuf, PathBuf) {
    let dir = w.path("hostile-source");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["a.txt", "b.bad", "c.txt"] {
        std::fs::write(dir.join(name), format!("content of {name}\n")).unwrap();
    }
    (dir, support::test_plugin("warden_plugin_hostile_importer"))
}

fn hostile_backup(w: &World, repo: &Path, mode: &str) -> assert_cmd::assert::Assert {
    let (dir, plugin) = hostile_source(w);
    World::repo_cmd(w, repo)
        .arg("backup")
        .arg(&dir)
        .arg("--source-plugin")
        .arg(&plugin)
        .arg("--source-set")
        .arg(format!("mode={mode}"))
        .assert()
}

#[test]
fn unreadable_source_files_are_reported_and_the_backup_says_it_is_incomplete() {
    let w = World::new();
    let repo = w.path("repo");
    World::repo_cmd(&w, &repo).arg("init").assert().success();
    let run = hostile_backup(&w, &repo, "fail-read").code(7);
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(stderr.contains("b.bad") && stderr.contains("permission denied"), "{stderr}");
    assert!(stderr.contains("ghost"), "{stderr}");
    assert!(stderr.contains("2 entries could not be read"), "{stderr}");
    // The snapshot holds what could be read, and nothing pretends to be b.bad.
    let dest = w.path("restored");
    World::repo_cmd(&w, &repo).arg("restore").arg("latest").arg(&dest).assert().success();
    let copy = restored(&dest, &w.path("hostile-source"));
    assert_eq!(std::fs::read_to_string(copy.join("a.txt")).unwrap(), "content of a.txt\n");
    assert_eq!(std::fs::read_to_string(copy.join("c.txt")).unwrap(), "content of c.txt\n");
    assert!(!copy.join("b.bad").exists());

    // A file whose length differs from the scan's (it changed while read) is reported too.
    let run = hostile_backup(&w, &repo, "wrong-size").code(7);
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(stderr.contains("a.txt") && stderr.contains("changed while being read"), "{stderr}");
}

#[test]
fn a_scan_that_breaks_the_contract_or_crashes_leaves_no_snapshot() {
    let w = World::new();
    let repo = w.path("repo");
    World::repo_cmd(&w, &repo).arg("init").assert().success();
    for (mode, says) in [
        ("out-of-order", "names must ascend"),
        ("escape-path", "which is not `/`-separated names"),
        ("trap-mid-scan", "crashed"),
    ] {
        let run = hostile_backup(&w, &repo, mode).failure();
        let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
        assert!(stderr.contains(says) && stderr.contains("no snapshot was saved"), "{mode}: {stderr}");
        // (The plugin's own panic message reaches the log, tagged with its name; the host's
        // threads must not panic.)
        for host_thread in ["thread 'main'", "thread 'warden-engine'", "thread 'tokio-runtime-worker'"] {
            assert!(!stderr.contains(host_thread), "{mode}: the host panicked: {stderr}");
        }
        World::repo_cmd(&w, &repo)
            .arg("snapshots")
            .assert()
            .success()
            .stdout(predicate::str::contains("no snapshots yet"));
    }
    // An importer's directory is read-only, whatever its manifest asks.
    let run = hostile_backup(&w, &repo, "write").failure();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(stderr.contains("write attempt succeeded: false"), "{stderr}");
    assert!(!w.path("hostile-source/planted").exists());
    World::repo_cmd(&w, &repo).args(["check", "--read-data"]).assert().success();
}

#[test]
fn a_repository_under_a_prefix_of_an_fs_target_goes_through_the_layout_adapter() {
    let w = World::new();
    let source = w.path("source");
    make_tree(&source);
    let dir = w.add_fs_target("t");
    // `t` alone is the fs plugin's own store; `t:laptop` the restic layout under a prefix.
    for repo in ["t", "t:laptop"] {
        let warden = || {
            let mut cmd = w.warden();
            cmd.env("WARDEN_PASSWORD", PASSWORD).args(["--repo", repo]);
            cmd
        };
        warden().arg("init").assert().success();
        warden().arg("backup").arg(&source).assert().success();
        let dest = w.path(&format!("restored-{}", repo.replace(':', "-")));
        warden().arg("restore").arg("latest").arg(&dest).assert().success();
        assert_eq!(snapshot_of(&restored(&dest, &source)), snapshot_of(&source));
    }
    assert!(dir.join("config").is_file() && dir.join("laptop/config").is_file());
    run_ok({
        let mut c = restic();
        c.arg("-r").arg(dir.join("laptop")).args(["check", "--read-data"]);
        c
    });
}

#[test]
fn excludes_leave_out_names_anywhere_and_whole_directories_by_path() {
    let w = World::new();
    let (source, repo) = (w.path("source"), w.path("repo"));
    make_tree(&source);
    World::repo_cmd(&w, &repo).arg("init").assert().success();
    let run = World::repo_cmd(&w, &repo)
        .args(["--json", "backup", "--exclude", "note-1*.txt", "--exclude"])
        .arg(source.join("docs/deep").display().to_string())
        .arg(&source)
        .assert()
        .success();
    // 55 files, less ten note-1x.txt and the one under docs/deep.
    assert_eq!(json(&run.get_output().stdout)["files_new"], 44);
    let ls = World::repo_cmd(&w, &repo).args(["ls", "latest"]).assert().success();
    let listing = String::from_utf8_lossy(&ls.get_output().stdout).into_owned();
    assert!(!listing.contains("note-1") && !listing.contains("docs/deep"), "{listing}");
    assert!(listing.contains("note-2") && listing.contains("big.bin"), "{listing}");
    World::repo_cmd(&w, &repo)
        .args(["backup", "--exclude", "[unclosed"])
        .arg(&source)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("is not a valid pattern"));
}

#[test]
fn restore_verify_catches_a_destination_that_does_not_keep_what_it_is_given() {
    let w = World::new();
    let (source, repo) = (w.path("source"), w.path("repo"));
    make_tree(&source);
    World::repo_cmd(&w, &repo).arg("init").assert().success();
    World::repo_cmd(&w, &repo).arg("backup").arg(&source).assert().success();
    let plugin = support::test_plugin("warden_plugin_hostile_importer");
    let restore = |dest: &Path, verify: bool| {
        let mut cmd = World::repo_cmd(&w, &repo);
        cmd.arg("restore").arg(format!("latest:{}", source.join("docs").display())).arg(dest);
        cmd.arg("--dest-plugin").arg(&plugin).args(["--dest-set", "mode=corrupt-write"]);
        if verify {
            cmd.arg("--verify");
        }
        cmd.assert()
    };
    // Without --verify the damage goes unseen (the plugin said it wrote the files) ...
    restore(&w.path("unverified"), false).success();
    // ... with it, every damaged file is named.
    let run = restore(&w.path("verified"), true).failure();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(stderr.contains("differs from what was restored into it"), "{stderr}");
    assert!(stderr.contains("note-00.txt"), "{stderr}");
}

#[test]
fn a_stream_on_stdin_is_backed_up_as_one_file_that_restic_restores_whole() {
    let w = World::new();
    let repo = w.path("repo");
    World::repo_cmd(&w, &repo).arg("init").assert().success();
    let dump = pattern(3 << 20, 77);
    World::repo_cmd(&w, &repo)
        .args(["backup", "--stdin", "--stdin-filename", "db.sql"])
        .write_stdin(dump.clone())
        .assert()
        .success()
        .stdout(predicate::str::contains("stdin as /db.sql"));
    World::repo_cmd(&w, &repo).args(["ls", "latest"]).assert().success().stdout(predicate::str::contains("/db.sql"));
    let dest = w.path("restored");
    World::repo_cmd(&w, &repo).args(["restore", "latest:/db.sql"]).arg(&dest).assert().success();
    assert_eq!(std::fs::read(dest.join("db.sql")).unwrap(), dump);
    // restic agrees on the content and the size.
    let mut dump_cmd = restic();
    dump_cmd.arg("-r").arg(&repo).args(["dump", "latest", "/db.sql"]);
    let out = dump_cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, dump);
    let by_restic = w.path("by-restic");
    run_ok({
        let mut c = restic();
        c.arg("-r").arg(&repo).args(["restore", "latest", "--target"]).arg(&by_restic);
        c
    });
    assert_eq!(std::fs::read(by_restic.join("db.sql")).unwrap(), dump);
    // Nothing of the stream is left in the spool.
    let spool = support::shared_cache().join("spool");
    let left: Vec<_> = std::fs::read_dir(&spool).map(|d| d.filter_map(|e| e.ok()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "the spool kept {left:?}");
}
