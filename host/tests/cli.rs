//! The `warden target` and `warden plugin` commands, driven as a user would.

mod support;

use predicates::prelude::*;
use support::{World, files_below, pattern};

#[test]
fn target_lifecycle_round_trips_files() {
    let w = World::new();
    let data = w.add_fs_target("t");
    let src = w.path("src.bin");
    std::fs::write(&src, pattern(3 << 20, 1)).unwrap();

    w.warden().args(["target", "test", "t"]).assert().success().stdout(predicate::str::contains("ok"));
    w.warden().args(["target", "put", "t", "dir/file.bin"]).arg(&src).assert().success();
    let head = w.warden().args(["--json", "target", "head", "t", "dir/file.bin"]).assert().success();
    let meta: serde_json::Value = serde_json::from_slice(&head.get_output().stdout).unwrap();
    assert_eq!(meta["size"], 3 << 20);
    assert_eq!(meta["key"], "dir/file.bin");

    let out = w.path("out/copy.bin");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    w.warden().args(["target", "get", "t", "dir/file.bin"]).arg(&out).assert().success();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&src).unwrap());
    assert!(data.join("dir/file.bin").is_file(), "plain keys map to plain paths");

    w.warden().args(["target", "put", "t", "dir/other", "-"]).write_stdin("from stdin").assert().success();
    w.warden().args(["target", "get", "t", "dir/other"]).assert().success().stdout("from stdin");
    w.warden().args(["target", "get", "t", "dir/other", "--range", "5-9"]).assert().success().stdout("stdin");
    w.warden().args(["target", "get", "t", "dir/other", "--range", "5+2"]).assert().success().stdout("st");

    w.warden().args(["target", "put", "t", "top"]).write_stdin("x").assert().success();
    let ls = w.warden().args(["--json", "target", "ls", "t", "dir/"]).assert().success();
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&ls.get_output().stdout).unwrap();
    let keys: Vec<&str> = listed.iter().map(|o| o["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["dir/file.bin", "dir/other"]);

    w.warden().args(["target", "rm", "t", "dir/other"]).assert().success();
    w.warden().args(["target", "rm", "t", "dir/other"]).assert().success(); // missing is fine
    w.warden()
        .args(["target", "head", "t", "dir/other"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not-found").and(predicate::str::contains("dir/other")));

    let list = w.warden().args(["--json", "target", "list"]).assert().success();
    let targets: serde_json::Value = serde_json::from_slice(&list.get_output().stdout).unwrap();
    assert_eq!(targets["t"]["plugin"], "fs");
    w.warden()
        .args(["target", "show", "t"])
        .assert()
        .success()
        .stdout(predicate::str::contains(data.display().to_string()));
    w.warden().args(["target", "remove", "t"]).assert().success();
    w.warden().args(["target", "show", "t"]).assert().code(3).stderr(predicate::str::contains("warden target list"));
    assert!(data.join("dir/file.bin").is_file(), "removing a target leaves its objects");
}

#[test]
fn create_only_refuses_an_existing_key() {
    let w = World::new();
    w.add_fs_target("t");
    w.warden().args(["target", "put", "t", "lock", "--create-only"]).write_stdin("one").assert().success();
    w.warden()
        .args(["target", "put", "t", "lock", "--create-only"])
        .write_stdin("two")
        .assert()
        .code(5)
        .stderr(predicate::str::contains("already-exists"));
    w.warden().args(["target", "get", "t", "lock"]).assert().success().stdout("one");
}

#[test]
fn bad_input_gets_a_clear_error_and_exit_code() {
    let w = World::new();
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (vec!["target".into(), "put".into(), "nope".into(), "k".into()], 3, "no target named `nope`"),
        (
            vec!["target".into(), "add".into(), "t".into(), "--plugin".into(), "ftp".into()],
            3,
            "no plugin named `ftp` (built in: fs, s3)",
        ),
        (
            vec!["target".into(), "add".into(), "t".into(), "--plugin".into(), "fs".into()],
            4,
            "missing required setting `path`",
        ),
        (
            vec![
                "target".into(),
                "add".into(),
                "t".into(),
                "--plugin".into(),
                "fs".into(),
                "--set".into(),
                "pth=/x".into(),
            ],
            4,
            "unknown setting `pth`; valid keys: path (required)",
        ),
        (vec!["target".into(), "add".into(), "a b".into(), "--plugin".into(), "fs".into()], 4, "a target name is"),
        (vec!["target".into(), "add".into(), "t".into(), "--set".into(), "novalue".into()], 2, "KEY=VALUE"),
    ];
    for (args, code, message) in cases {
        let assert = w.warden().args(&args).assert().code(code).stderr(predicate::str::contains(message));
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    assert!(!w.path("config/config.toml").exists(), "failed adds write no configuration");

    w.add_fs_target("t");
    w.warden()
        .args(["target", "add", "t", "--plugin", "fs", "--set", "path=/tmp"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("already exists"));
    w.warden()
        .args(["target", "put", "t", "a\u{1}b"])
        .write_stdin("x")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("0x01"));
    w.warden()
        .args(["target", "put", "t", ""])
        .write_stdin("x")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("empty"));
    let long = "k".repeat(1025);
    w.warden()
        .args(["target", "put", "t", &long])
        .write_stdin("x")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("1024"));
    w.warden()
        .args(["target", "put", "t", "k"])
        .arg(w.path("no-such-file"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no-such-file"));
    // A failed get leaves no file behind.
    let out = w.path("never.bin");
    w.warden().args(["target", "get", "t", "missing"]).arg(&out).assert().code(3);
    assert!(!out.exists());
    let json = w.warden().args(["--json", "target", "get", "t", "missing"]).assert().code(3);
    let err: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    assert_eq!(err["class"], "not-found");
}

#[test]
fn escaping_keys_stay_inside_the_target_directory() {
    let w = World::new();
    let data = w.add_fs_target("t");
    let outside = w.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("sentinel"), "keep").unwrap();
    let before_outside = files_below(w.root.path());
    let keys = [
        "../outside/sentinel",
        "../../x",
        "../../../../../../../../etc/warden-escape",
        "/abs/path",
        "a/./b",
        "a/../b",
        "%2e%2e/%2e%2e/x",
        "%2E%2E",
        "./.",
        "x/",
        "y//z",
        "\\..\\..\\win",
    ];
    for (i, key) in keys.iter().enumerate() {
        w.warden().args(["target", "put", "t", key]).write_stdin(format!("content {i}")).assert().success();
    }
    for (i, key) in keys.iter().enumerate() {
        w.warden().args(["target", "get", "t", key]).assert().success().stdout(format!("content {i}"));
    }
    assert_eq!(std::fs::read_to_string(outside.join("sentinel")).unwrap(), "keep");
    assert!(!std::path::Path::new("/etc/warden-escape").exists());
    let after: Vec<_> = files_below(w.root.path())
        .into_iter()
        .filter(|p| !p.starts_with("data/t") && !p.starts_with("config"))
        .collect();
    let before: Vec<_> =
        before_outside.into_iter().filter(|p| !p.starts_with("data/t") && !p.starts_with("config")).collect();
    assert_eq!(after, before, "nothing outside the target directory changed");
    let ls = w.warden().args(["--json", "target", "ls", "t"]).assert().success();
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&ls.get_output().stdout).unwrap();
    let mut want: Vec<&str> = keys.to_vec();
    want.sort();
    let got: Vec<&str> = listed.iter().map(|o| o["key"].as_str().unwrap()).collect();
    assert_eq!(got, want, "every key lists back as itself");
    // No stored name is hidden, `.` or `..`: a leading dot is always escaped.
    for path in files_below(&data) {
        assert!(path.components().all(|c| !c.as_os_str().to_string_lossy().starts_with('.')), "{path:?}");
    }
}

#[test]
fn plugin_inspect_shows_requests_and_grants() {
    let w = World::new();
    w.warden()
        .args(["plugin", "inspect", "fs"])
        .assert()
        .success()
        .stdout(predicate::str::contains("api:         warden:plugin@0.1.0"))
        .stdout(predicate::str::contains("warden:plugin/target@0.1.0"))
        .stdout(predicate::str::contains("a directory, read-write, named by the setting `path`"));
    let json = w.warden().args(["--json", "plugin", "inspect", "fs", "--set", "path=/srv/x"]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    assert_eq!(v["granted"]["directories"][0]["host_path"], "/srv/x");
    assert_eq!(v["api_version"], "0.1.0");
    assert!(
        v["imports"].as_object().unwrap().keys().all(|k| !k.starts_with("wasi:sockets") && !k.starts_with("wasi:http"))
    );
    w.warden()
        .args(["plugin", "inspect", "fs", "--set", "path=relative"])
        .assert()
        .success()
        .stdout(predicate::str::contains("must be an absolute path"));
    w.warden().args(["plugin", "list"]).assert().success().stdout(predicate::str::contains("fs\t0.1.0"));
}

#[test]
fn quickstart_backs_up_and_restores_through_the_default_repository() {
    let w = World::new();
    let data = w.path("qs-data");
    let run = w.warden().args(["--json", "quickstart", "--data-dir"]).arg(&data).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    assert_eq!(v["identical"], true, "{v}");
    assert_eq!(v["created"], true);
    assert_eq!(v["files_new"], 204);
    assert!(data.join("repository/config").is_file());
    assert!(std::path::Path::new(v["restored"].as_str().unwrap()).join("big.bin").is_file());
    // A second run reuses the repository and reads nothing again.
    let run = w.warden().args(["--json", "quickstart", "--data-dir"]).arg(&data).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    assert_eq!(
        (v["created"].clone(), v["files_new"].clone(), v["files_unmodified"].clone()),
        (false.into(), 0.into(), 204.into())
    );
    // With no --data-dir, the default repository lives in the data directory, and other
    // commands find it (and its password file) without --repo.
    w.warden().args(["quickstart"]).assert().success().stdout(predicate::str::contains("identical to the source"));
    w.warden().args(["snapshots"]).assert().success().stdout(predicate::str::contains("1 snapshots"));
}
