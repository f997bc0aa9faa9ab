//! Backups on the s3 plugin: a repository under a prefix of an S3 bucket (s3s-fs on
//! 127.0.0.1, every signature checked), and restic reading it through its own S3 client, and
//! the other way round.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use predicates::prelude::*;
use support::s3_server::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};
use support::{World, pattern};

const PASSWORD: &str = "s3 repository password";

fn tree(root: &Path) {
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("big.bin"), pattern(12 << 20, 5)).unwrap();
    for i in 0..40u64 {
        std::fs::write(root.join(format!("docs/{i}.txt")), pattern(100 + i as usize * 977, i)).unwrap();
    }
}

fn same_files(a: &Path, b: &Path) {
    let files = support::files_below(a);
    assert_eq!(files, support::files_below(b));
    for rel in files {
        if a.join(&rel).is_file() {
            assert_eq!(std::fs::read(a.join(&rel)).unwrap(), std::fs::read(b.join(&rel)).unwrap(), "{}", rel.display());
        }
    }
}

fn restic(server: &S3Server, prefix: &str) -> Command {
    let mut cmd = support::restic::command(PASSWORD);
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .arg("-r")
        .arg(format!("s3:{}/{BUCKET}/{prefix}", server.endpoint()));
    cmd
}

use support::restic::run_ok as ok;

#[test]
fn a_repository_on_s3_round_trips_and_restic_reads_it_both_ways() {
    let server = S3Server::start();
    let w = World::new();
    server.add_target(&w, "cloud", &["prefix=backups/"]).success();
    let source = w.path("source");
    tree(&source);
    let warden = |repo: &str| {
        let mut cmd = w.warden();
        cmd.env("WARDEN_PASSWORD", PASSWORD).args(["--repo", repo]);
        cmd
    };

    // Warden's repository under `backups/warden/` of the bucket.
    warden("cloud:warden").arg("init").assert().success();
    warden("cloud:warden").arg("backup").arg(&source).assert().success();
    assert!(server.bucket_dir().join("backups/warden/config").is_file(), "the repository is under the prefix");
    let dest: PathBuf = w.path("restored");
    warden("cloud:warden").arg("restore").arg("latest").arg(&dest).assert().success();
    same_files(&source, &dest.join(source.strip_prefix("/").unwrap()));
    warden("cloud:warden").args(["check", "--read-data"]).assert().success();

    // restic reads it with its own S3 client.
    let listed = ok({
        let mut c = restic(&server, "backups/warden");
        c.arg("snapshots");
        c
    });
    assert!(listed.contains("1 snapshots"), "{listed}");
    let by_restic = w.path("by-restic");
    ok({
        let mut c = restic(&server, "backups/warden");
        c.args(["restore", "latest", "--target"]).arg(&by_restic);
        c
    });
    same_files(&source, &by_restic.join(source.strip_prefix("/").unwrap()));

    // And Warden reads a repository restic made on S3.
    ok({
        let mut c = restic(&server, "backups/restic");
        c.arg("init");
        c
    });
    ok({
        let mut c = restic(&server, "backups/restic");
        c.arg("backup").arg(&source);
        c
    });
    warden("cloud:restic").arg("snapshots").assert().success().stdout(predicate::str::contains("1 snapshots"));
    let by_warden = w.path("by-warden");
    warden("cloud:restic").arg("restore").arg("latest").arg(&by_warden).assert().success();
    same_files(&source, &by_warden.join(source.strip_prefix("/").unwrap()));
}

#[test]
fn a_repository_named_by_url_finds_its_plugin_and_takes_secrets_only_from_the_environment() {
    let server = S3Server::start();
    let w = World::new();
    let source = w.path("source");
    tree(&source);
    let url = format!("s3://{BUCKET}/by-url?endpoint={}&safe_keys=true", server.endpoint());
    let warden = |repo: &str| {
        let mut cmd = w.warden();
        cmd.env("WARDEN_PASSWORD", PASSWORD)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .args(["--repo", repo]);
        cmd
    };
    warden(&url).arg("init").assert().success().stdout(predicate::str::contains(format!("s3://{BUCKET}/by-url")));
    warden(&url).arg("backup").arg(&source).assert().success();
    assert!(server.bucket_dir().join("by-url/config").is_file());
    warden(&url).arg("snapshots").assert().success().stdout(predicate::str::contains("1 snapshots"));
    // The secret never travels in the URL, and never shows in the output, trace logs included.
    let run = warden(&url).args(["-vvv", "backup"]).arg(&source).assert().success();
    for output in [&run.get_output().stdout, &run.get_output().stderr] {
        assert!(!String::from_utf8_lossy(output).contains(SECRET_KEY), "the secret leaked");
    }
    warden(&format!("{url}&secret_access_key=leak"))
        .arg("snapshots")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("is a secret and cannot be given in a URL"));
    // Without the environment's keys, the plugin's settings say what is missing.
    w.warden()
        .env("WARDEN_PASSWORD", PASSWORD)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args(["--repo", &url, "snapshots"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("access_key_id"));
    warden("ftp://example.com/x")
        .arg("snapshots")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no plugin serves `ftp://` locations (known: fs://, s3://)"));
    // fs:// is the built-in fs plugin on a directory.
    let dir = w.path("fs-repo");
    let fs_url = format!("fs://{}", dir.display());
    warden(&fs_url).arg("init").assert().success();
    warden(&fs_url).arg("backup").arg(&source).assert().success();
    assert!(dir.join("config").is_file());
}

#[test]
fn a_bit_flipped_on_the_way_back_is_caught_and_never_restored_as_good() {
    use support::fault_proxy::{Fault, FaultProxy};
    let server = S3Server::start();
    let proxy = FaultProxy::start(server.addr);
    let w = World::new();
    let source = w.path("source");
    tree(&source);
    let url = format!("s3://{BUCKET}/flips?endpoint={}&safe_keys=true", proxy.endpoint());
    let warden = || {
        let mut cmd = w.warden();
        cmd.env("WARDEN_PASSWORD", PASSWORD)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .args(["--repo", &url]);
        cmd
    };
    warden().arg("init").assert().success();
    warden().arg("backup").arg(&source).assert().success();
    // Every pack read from now on comes back with one bit flipped.
    proxy.otherwise(Fault::FlipBitWhenPathHas("/data/".into()));
    warden().args(["check", "--read-data"]).assert().failure();
    let dest = w.path("restored");
    let run = warden().arg("restore").arg("latest").arg(&dest).assert().failure();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(stderr.contains("not restored:"), "{stderr}");
    // Nothing written is damaged: whatever is there equals the source.
    let copy = dest.join(source.strip_prefix("/").unwrap());
    for rel in support::files_below(&copy) {
        if copy.join(&rel).is_file() {
            assert_eq!(std::fs::read(copy.join(&rel)).unwrap(), std::fs::read(source.join(&rel)).unwrap());
        }
    }
    // The stored data was never touched: with the wire healthy again, all is well.
    proxy.otherwise(Fault::Pass);
    warden().args(["check", "--read-data"]).assert().success();
    let again = w.path("restored-again");
    warden().arg("restore").arg("latest").arg(&again).assert().success();
    same_files(&source, &again.join(source.strip_prefix("/").unwrap()));
}
