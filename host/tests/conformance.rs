//! The conformance suite through the library: the reference fs plugin and the example memory
//! plugin pass it; the deliberately broken example fails, and each violation is named.

mod support;

use std::collections::BTreeMap;

use warden::conformance::{self, Options, Outcome, Report};
use warden::plugin::{self, Plugin, PluginSource};
use warden::runtime::Runtime;
use warden::target::Target;

async fn run(plugin: &str, settings: BTreeMap<String, String>) -> Report {
    let runtime = Runtime::builder().cache_dir(support::shared_cache()).build().unwrap();
    let plugin = match plugin::builtin::get(plugin) {
        Some(_) => plugin::resolve(&runtime, plugin).unwrap(),
        None => {
            let bytes = std::fs::read(support::test_plugin(plugin)).unwrap();
            Plugin::load(&runtime, PluginSource::File(format!("{plugin}.wasm").into()), &bytes).unwrap()
        }
    };
    let target = Target::open(&runtime, plugin, "conformance", &settings).unwrap();
    let report = conformance::run(&target, &Options::default()).await;
    for case in &report.cases {
        eprintln!("{:<22} {:?} ({} ms)", case.name, case.outcome, case.millis);
    }
    report
}

fn assert_all_pass(report: &Report) {
    let failures: Vec<_> = report.cases.iter().filter(|c| matches!(c.outcome, Outcome::Fail(_))).collect();
    assert!(failures.is_empty(), "failed cases: {failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_plugin_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let report = run("fs", BTreeMap::from([("path".to_string(), dir.path().display().to_string())])).await;
    assert_all_pass(&report);
    assert!(report.cases.iter().all(|c| c.outcome == Outcome::Pass), "no case may be skipped for fs");
    // The suite cleans up after itself: nothing but (possibly) empty directories remain.
    let leftovers: Vec<_> =
        support::files_below(dir.path()).into_iter().filter(|p| dir.path().join(p).is_file()).collect();
    assert!(leftovers.is_empty(), "files left behind: {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_memory_example_passes_the_conformance_suite() {
    let report = run("memory_target", BTreeMap::new()).await;
    assert_all_pass(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broken_example_fails_each_rule_it_breaks() {
    let report = run("broken_target", BTreeMap::new()).await;
    let failed: Vec<&str> =
        report.cases.iter().filter(|c| matches!(c.outcome, Outcome::Fail(_))).map(|c| c.name).collect();
    for rule in [
        "overwrite",
        "create-only",
        "head",
        "ranges",
        "missing-key",
        "delete",
        "listing-pages",
        "printable-ascii-keys",
        "size-mismatch",
        "get-matches-head",
    ] {
        assert!(failed.contains(&rule), "the broken plugin should fail `{rule}`; failed: {failed:?}");
    }
    assert!(!report.passed());
}
