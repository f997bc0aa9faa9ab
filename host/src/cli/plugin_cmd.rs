//! `warden plugin ...`

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Subcommand;

use warden::plugin::{self, Access};

use super::output;
use super::{Env, parse_setting};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List the built-in plugins.
    List,
    /// Show a plugin's manifest, API version, exports, imports and requested capabilities,
    /// and with --set what a target with those settings would grant it.
    Inspect {
        /// A built-in plugin's name or a path to a .wasm file.
        plugin: String,
        /// A setting, KEY=VALUE, to see what it would grant.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
        settings: Vec<(String, String)>,
    },
}

pub async fn run(env: &Env, cmd: PluginCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::List => {
            let mut rows = Vec::new();
            for name in plugin::builtin::names() {
                let p = plugin::resolve(&env.runtime, name)?;
                rows.push(serde_json::json!({
                    "name": name,
                    "version": p.manifest().version,
                    "kinds": p.manifest().kinds,
                    "source": "built-in",
                    "description": p.manifest().description,
                }));
                if !env.json {
                    println!(
                        "{name}\t{}\tbuilt-in\t{}",
                        p.manifest().version,
                        p.manifest().description
                    );
                }
            }
            if env.json {
                output::json(&rows)?;
            }
        }
        PluginCommand::Inspect {
            plugin: name,
            settings,
        } => {
            let p = plugin::resolve(&env.runtime, &name)?;
            let settings: BTreeMap<String, String> = settings.into_iter().collect();
            let given = (!settings.is_empty()).then_some(&settings);
            let report = plugin::inspect(&env.runtime, &p, given)?;
            if env.json {
                output::json(&report)?;
            } else {
                print_inspection(&report);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
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
        println!(
            "  {key}{}: {}",
            if flags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", flags.join(", "))
            },
            spec.description
        );
    }
    println!("asks for:");
    if r.requested.directories.is_empty() {
        println!("  nothing beyond its own memory and the host's log");
    }
    for d in &r.requested.directories {
        let access = match d.access {
            Access::ReadOnly => "read-only",
            Access::ReadWrite => "read-write",
        };
        println!(
            "  a directory, {access}, named by the setting `{}`",
            d.config
        );
    }
    match (&r.granted, &r.config_problem) {
        (Some(g), _) => {
            println!("with these settings it would get:");
            for d in &g.directories {
                println!("  directory {} ({:?})", d.host_path.display(), d.access);
            }
            println!("  and nothing else: no network, no environment, no arguments, stdin closed");
        }
        (None, Some(problem)) => println!("these settings do not fit: {problem}"),
        (None, None) => println!("(pass --set KEY=VALUE to see what a configuration would grant)"),
    }
}
