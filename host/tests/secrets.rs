//! Secrets given to `warden target add` never appear in the config file, in `show`/`list`
//! output (text or JSON), in logs at trace level, in error messages, or in what the plugin can
//! read; a wrong master secret fails clearly.

mod support;

use predicates::prelude::*;
use support::{World, test_plugin};

const CANARY: &str = "CANARY-5e3cr3t-value-0123456789";

fn add_hostile(w: &World) -> std::path::PathBuf {
    let data = w.path("data");
    w.warden()
        .env("WARDEN_TEST_CANARY", CANARY)
        .args(["target", "add", "h", "--plugin"])
        .arg(test_plugin("warden_plugin_hostile"))
        .arg("--set")
        .arg(format!("path={}", data.display()))
        .args(["--secret-env", "token=WARDEN_TEST_CANARY"])
        .assert()
        .success();
    data
}

fn assert_no_canary(what: &str, bytes: &[u8]) {
    assert!(!String::from_utf8_lossy(bytes).contains(CANARY), "{what} leaks the secret");
}

#[test]
fn a_secret_never_leaks() {
    let w = World::new();
    add_hostile(&w);
    let config = std::fs::read(w.path("config/config.toml")).unwrap();
    assert_no_canary("the config file", &config);
    assert!(String::from_utf8_lossy(&config).contains("sealed:v1:"), "the secret is stored sealed");
    for args in [
        vec!["target", "show", "h"],
        vec!["--json", "target", "show", "h"],
        vec!["--json", "target", "list"],
        vec!["target", "list"],
    ] {
        let out = w.warden().args(&args).assert().success();
        assert_no_canary(&format!("{args:?} stdout"), &out.get_output().stdout);
        assert_no_canary(&format!("{args:?} stderr"), &out.get_output().stderr);
    }
    w.warden().args(["target", "show", "h"]).assert().stdout(predicate::str::contains("secret:   token = ***"));
    // What the plugin sees: its settings, without the secret.
    let run = w.warden().args(["-vvv", "target", "put", "h", "config"]).write_stdin("x").assert().code(1);
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).to_string();
    assert!(stderr.contains("config=[(\"path\""), "{stderr}");
    assert!(!stderr.contains("token"), "the plugin saw the secret's key: {stderr}");
    assert_no_canary("trace logs", run.get_output().stderr.as_slice());
    assert_no_canary("stdout", &run.get_output().stdout);
}

#[test]
fn secrets_are_refused_on_the_command_line_and_need_the_right_master_key() {
    let w = World::new();
    w.warden()
        .args(["target", "add", "h", "--plugin"])
        .arg(test_plugin("warden_plugin_hostile"))
        .args(["--set", "path=/tmp", "--set"])
        .arg(format!("token={CANARY}"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("`token` is a secret: pass it with --secret token"))
        .stderr(predicate::str::contains(CANARY).not());
    w.warden()
        .args(["target", "add", "h", "--plugin"])
        .arg(test_plugin("warden_plugin_hostile"))
        .args(["--set", "path=/tmp", "--secret", "path"])
        .write_stdin("x\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("`path` is not a secret setting"));
    // Stored under a master secret from the environment: the wrong one cannot open it.
    let data = w.path("data");
    w.warden()
        .env("WARDEN_MASTER_SECRET", "the-right-master-secret-for-this-test")
        .args(["target", "add", "h", "--plugin"])
        .arg(test_plugin("warden_plugin_hostile"))
        .arg("--set")
        .arg(format!("path={}", data.display()))
        .args(["--secret", "token"])
        .write_stdin(format!("{CANARY}\n"))
        .assert()
        .success();
    assert!(!w.path("config/master.key").exists(), "no key file when the secret comes from the environment");
    w.warden()
        .env("WARDEN_MASTER_SECRET", "a-wrong-master-secret-for-this-test")
        .args(["target", "show", "h"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("wrong master key"))
        .stderr(predicate::str::contains(CANARY).not());
    w.warden().args(["target", "show", "h"]).assert().code(4).stderr(predicate::str::contains("WARDEN_MASTER_SECRET"));
    w.warden()
        .env("WARDEN_MASTER_SECRET", "the-right-master-secret-for-this-test")
        .args(["target", "show", "h"])
        .assert()
        .success();
}
