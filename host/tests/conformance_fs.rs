//! The conformance suite against the built-in fs plugin, through the library.

use std::collections::BTreeMap;

use warden::conformance::{self, Options, Outcome};
use warden::plugin;
use warden::runtime::Runtime;
use warden::target::Target;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_plugin_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder().build().unwrap();
    let fs = plugin::resolve(&runtime, "fs").unwrap();
    let settings = BTreeMap::from([("path".to_string(), dir.path().display().to_string())]);
    let target = Target::open(&runtime, fs, "conformance", &settings).unwrap();
    let report = conformance::run(&target, &Options::default()).await;
    for case in &report.cases {
        eprintln!("{:<22} {:?} ({} ms)", case.name, case.outcome, case.millis);
    }
    let failures: Vec<_> = report
        .cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Fail(_)))
        .collect();
    assert!(failures.is_empty(), "failed cases: {failures:#?}");
    assert!(
        report.cases.iter().all(|c| c.outcome == Outcome::Pass),
        "no case may be skipped for fs"
    );
    // The suite cleans up after itself: nothing but (possibly) empty directories remain.
    let leftovers: Vec<_> = walk(dir.path())
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    assert!(leftovers.is_empty(), "files left behind: {leftovers:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}
