//! The real `restic` binary (Debian's, installed by scripts/test.sh) for interop tests.

use std::process::Command;

/// `restic` with `password`, no cache and no repository from the environment.
pub fn command(password: &str) -> Command {
    let mut cmd = Command::new("restic");
    cmd.env("RESTIC_PASSWORD", password).env_remove("RESTIC_REPOSITORY").arg("--no-cache");
    cmd
}

/// Run it; its stdout, or a panic with its stderr.
pub fn run_ok(mut cmd: Command) -> String {
    let out = cmd.output().expect("restic is installed (scripts/test.sh installs it)");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
