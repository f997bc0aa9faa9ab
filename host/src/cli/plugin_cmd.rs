//! `warden plugin ...`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use warden::conformance::{self, Outcome, Report};
use warden::plugin::{self, Access, Catalog};
use warden::target::Target;

use super::output;
use super::{Env, parse_setting};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List the built-in and installed plugins.
    List,
    /// Show a plugin's manifest, API version, exports, imports and requested capabilities,
    /// and with --set what a target with those settings would grant it.
    Inspect {
        /// A plugin's name (built-in or installed) or a path to a .wasm file.
        plugin: String,
        /// A setting, KEY=VALUE, to see what it would grant.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
        settings: Vec<(String, String)>,
    },
    /// Install a plugin file: validate it, precompile it, record its SHA-256. Targets then
    /// use it by name (`warden target add T --plugin NAME`).
    Install {
        /// The .wasm component.
        file: PathBuf,
        /// Replace an installed plugin of the same name.
        #[arg(long)]
        force: bool,
    },
    /// Remove an installed plugin (refused while a target uses it, unless --force).
    Remove {
        /// The plugin's name.
        name: String,
        /// Remove it even if targets use it.
        #[arg(long)]
        force: bool,
    },
    /// Run the contract suite against a plugin, sandboxed; exits 1 if any case fails.
    ///
    /// Directory settings you do not give get a fresh temporary directory.
    Test {
        /// A plugin's name or a path to a .wasm file.
        plugin: String,
        /// A setting, KEY=VALUE (e.g. an endpoint for a network plugin).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
        settings: Vec<(String, String)>,
        /// Also write the report as JUnit XML to this file (for CI).
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Size of the large streamed object, in MiB.
        #[arg(long, default_value_t = 64)]
        large_mib: u64,
    },
    /// Create a new plugin crate (warden-sdk and the WIT included) that builds with
    /// `cargo build --release` and passes `warden plugin test` as it is.
    New {
        /// The plugin's name: lower-case letters, digits, `-`.
        name: String,
        /// Where to create it (default: the current directory).
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
    /// Embed a manifest and the API version into a component built without warden-sdk
    /// (plain wit-bindgen, componentize-py, jco, ...), making it an installable plugin.
    Pack {
        /// The component.
        component: PathBuf,
        /// The manifest (warden.toml).
        #[arg(long, value_name = "FILE")]
        manifest: PathBuf,
        /// Where to write the packed plugin.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// The API version the component was built against.
        #[arg(long, default_value = warden::bindings::v0_1::API_VERSION)]
        api_version: String,
    },
}

pub async fn run(env: &Env, cmd: PluginCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::List => list(env)?,
        PluginCommand::Inspect { plugin: name, settings } => {
            let p = Catalog::load(&env.config_dir)?.resolve(&env.runtime, &name)?;
            let settings: BTreeMap<String, String> = settings.into_iter().collect();
            let given = (!settings.is_empty()).then_some(&settings);
            let report = plugin::inspect(&env.runtime, &p, given)?;
            if env.json {
                output::json(&report)?;
            } else {
                print_inspection(&report);
            }
        }
        PluginCommand::Install { file, force } => {
            let mut catalog = Catalog::load(&env.config_dir)?;
            let p = catalog.install(&env.runtime, &file, force)?;
            if env.json {
                output::json(&serde_json::json!({
                    "name": p.name().to_string(), "version": p.manifest().version, "sha256": p.sha256(),
                }))?;
            } else {
                println!(
                    "installed plugin `{}` {} (sha256 {}); test it with `warden plugin test {}`",
                    p.name(),
                    p.manifest().version,
                    &p.sha256()[..16],
                    p.name()
                );
            }
        }
        PluginCommand::Remove { name, force } => {
            let config = warden::config::ConfigFile::load(&env.config_dir)?;
            let users: Vec<&String> = config.targets.iter().filter(|(_, t)| t.plugin == name).map(|(n, _)| n).collect();
            if !users.is_empty() && !force {
                anyhow::bail!(
                    "targets {} use plugin `{name}`; remove them first, or pass --force",
                    users.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ")
                );
            }
            Catalog::load(&env.config_dir)?.remove(&name)?;
            if env.json {
                output::json(&serde_json::json!({ "removed": name }))?;
            } else {
                println!("removed plugin `{name}`");
            }
        }
        PluginCommand::Test { plugin: name, settings, junit, large_mib } => {
            return test(env, &name, settings, junit.as_deref(), large_mib).await;
        }
        PluginCommand::New { name, dir } => {
            let created = super::scaffold::create(&dir, &name)?;
            if env.json {
                output::json(&serde_json::json!({ "created": created }))?;
            } else {
                let crate_name = name.replace('-', "_");
                println!("created {}", created.display());
                println!("next:");
                println!("  cd {} && cargo build --release", created.display());
                println!("  warden plugin test target/wasm32-wasip2/release/{crate_name}.wasm");
                println!("  warden plugin install target/wasm32-wasip2/release/{crate_name}.wasm");
            }
        }
        PluginCommand::Pack { component, manifest, output: out, api_version } => {
            let bytes = std::fs::read(&component).with_context(|| format!("reading {}", component.display()))?;
            let manifest_text = std::fs::read(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
            let packed = plugin::pack(&component.display().to_string(), &bytes, &manifest_text, &api_version)?;
            // Load the result before writing it, so a pack that would not install fails here.
            let p =
                warden::plugin::Plugin::load(&env.runtime, warden::plugin::PluginSource::File(out.clone()), &packed)?;
            warden::runtime::write_atomically(&out, &packed)?;
            if env.json {
                output::json(
                    &serde_json::json!({ "name": p.name().to_string(), "output": out, "sha256": p.sha256() }),
                )?;
            } else {
                println!("packed plugin `{}` {} into {}", p.name(), p.manifest().version, out.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(env: &Env) -> anyhow::Result<()> {
    let catalog = Catalog::load(&env.config_dir)?;
    let mut rows = Vec::new();
    for name in plugin::builtin::names() {
        let p = catalog.resolve(&env.runtime, name)?;
        rows.push(serde_json::json!({
            "name": name, "version": p.manifest().version, "source": "built-in",
            "description": p.manifest().description,
        }));
    }
    for (name, entry) in catalog.installed() {
        rows.push(serde_json::json!({
            "name": name, "version": entry.version, "source": "installed",
            "sha256": entry.sha256, "installed_from": entry.source,
        }));
    }
    if env.json {
        output::json(&rows)?;
    } else {
        for row in &rows {
            let s = |k: &str| row[k].as_str().unwrap_or_default().to_string();
            println!("{}\t{}\t{}\t{}", s("name"), s("version"), s("source"), s("description"));
        }
    }
    Ok(())
}

async fn test(
    env: &Env,
    name: &str,
    settings: Vec<(String, String)>,
    junit: Option<&Path>,
    large_mib: u64,
) -> anyhow::Result<ExitCode> {
    let p = Catalog::load(&env.config_dir)?.resolve(&env.runtime, name)?;
    let mut settings: BTreeMap<String, String> = settings.into_iter().collect();
    // Directory settings not given get a scratch directory, removed at the end.
    let mut scratch = Vec::new();
    for request in &p.manifest().capabilities.directories {
        if !settings.contains_key(&request.config) {
            let dir = tempfile::tempdir().context("creating a scratch directory")?;
            settings.insert(request.config.clone(), dir.path().display().to_string());
            scratch.push(dir);
        }
    }
    let target = Target::open(&env.runtime, p, "plugin-test", &settings)?;
    let options = conformance::Options { large_object_bytes: (large_mib << 20) + 1, ..Default::default() };
    let report = conformance::run(&target, &options).await;
    if let Some(path) = junit {
        std::fs::write(path, junit_xml(&report)).with_context(|| format!("writing {}", path.display()))?;
    }
    let (passed, failed, skipped) = report.counts();
    if env.json {
        output::json(&report)?;
    } else {
        println!("plugin `{}`: the contract suite", report.plugin);
        for case in &report.cases {
            match &case.outcome {
                Outcome::Pass => println!("  pass  {:<22} {}", case.name, case.rule),
                Outcome::Skip(why) => println!("  skip  {:<22} {} ({why})", case.name, case.rule),
                Outcome::Fail(why) => {
                    println!("  FAIL  {:<22} {}", case.name, case.rule);
                    println!("        {why}");
                }
            }
        }
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    }
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The report as JUnit XML.
fn junit_xml(report: &Report) -> String {
    let (_, failed, skipped) = report.counts();
    let total_secs: f64 = report.cases.iter().map(|c| c.millis as f64 / 1000.0).sum();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"warden-conformance.{}\" tests=\"{}\" failures=\"{failed}\" skipped=\"{skipped}\" time=\"{total_secs:.3}\">\n",
        escape(&report.plugin),
        report.cases.len()
    );
    for case in &report.cases {
        xml.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
            escape(&report.plugin),
            escape(case.name),
            case.millis as f64 / 1000.0
        ));
        match &case.outcome {
            Outcome::Pass => {}
            Outcome::Skip(why) => xml.push_str(&format!("<skipped message=\"{}\"/>", escape(why))),
            Outcome::Fail(why) => {
                xml.push_str(&format!("<failure message=\"{}\">{}</failure>", escape(case.rule), escape(why)))
            }
        }
        xml.push_str("</testcase>\n");
    }
    xml.push_str("</testsuite>\n");
    xml
}

fn escape(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn print_inspection(r: &plugin::Inspection) {
    println!("plugin:      {} {}", r.name, r.version);
    if !r.description.is_empty() {
        println!("             {}", r.description);
    }
    println!("source:      {}", r.source);
    println!("sha256:      {}", r.sha256);
    println!("api:         warden:plugin@{}", r.api_version);
    println!("kinds:       {}", r.kinds.join(", "));
    if !r.protocols.is_empty() {
        println!("protocols:   {}", r.protocols.join(", "));
    }
    println!("exports:     {}", r.exports.join(", "));
    println!("imports:");
    for (name, funcs) in &r.imports {
        println!("  {name} ({})", funcs.join(", "));
    }
    println!("settings:");
    if r.config.is_empty() {
        println!("  (none)");
    }
    for (key, spec) in &r.config {
        let mut flags = Vec::new();
        if spec.required {
            flags.push("required".to_string());
        }
        if let Some(d) = &spec.default {
            flags.push(format!("default {d:?}"));
        }
        if spec.secret {
            flags.push("secret".to_string());
        }
        if spec.value_type != plugin::ValueType::String {
            flags.push(format!("{:?}", spec.value_type).to_lowercase());
        }
        let flags = if flags.is_empty() { String::new() } else { format!(" [{}]", flags.join(", ")) };
        println!("  {key}{flags}: {}", spec.description);
    }
    println!("asks for:");
    if r.requested.directories.is_empty() && r.requested.http.is_empty() {
        println!("  nothing beyond its own memory and the host's log");
    }
    for d in &r.requested.directories {
        let access = match d.access {
            Access::ReadOnly => "read-only",
            Access::ReadWrite => "read-write",
        };
        println!("  a directory, {access}, named by the setting `{}`", d.config);
    }
    for h in &r.requested.http {
        let signed =
            if h.sign.is_some() { ", requests signed by the host (it never sees the credentials)" } else { "" };
        println!("  HTTP to the endpoint named by the setting `{}`{signed}", h.config);
    }

    match (&r.granted, &r.config_problem) {
        (Some(g), _) => {
            println!("with these settings it would get:");
            for d in &g.directories {
                println!("  directory {} ({:?})", d.host_path.display(), d.access);
            }
            for h in &g.http {
                println!("  HTTP to {}{}", h.endpoint, if h.signed { " (signed by the host)" } else { "" });
            }
            println!("  and nothing else: no other hosts, no environment, no arguments, stdin closed");
        }
        (None, Some(problem)) => println!("these settings do not fit: {problem}"),
        (None, None) => println!("(pass --set KEY=VALUE to see what a configuration would grant)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden::conformance::CaseReport;

    #[test]
    fn junit_is_escaped_and_counts_cases() {
        let report = Report {
            plugin: "p<1>".into(),
            cases: vec![
                CaseReport { name: "a", rule: "r & s", outcome: Outcome::Pass, millis: 5 },
                CaseReport { name: "b", rule: "r", outcome: Outcome::Fail("bad \"x\" <y>\u{1b}".into()), millis: 1 },
            ],
        };
        let xml = junit_xml(&report);
        assert!(xml.contains("tests=\"2\" failures=\"1\" skipped=\"0\""), "{xml}");
        assert!(xml.contains("p&lt;1&gt;"));
        assert!(xml.contains("bad &quot;x&quot; &lt;y&gt;</failure>"), "{xml}");
        assert!(!xml.contains('\u{1b}'));
    }
}
