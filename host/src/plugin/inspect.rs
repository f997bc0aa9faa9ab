//! What a plugin is and what it would be given: `warden plugin inspect`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Plugin;
use super::load::{export_names, import_names};
use crate::capability::Grants;
use crate::error::Result;
use crate::runtime::Runtime;

/// A plugin's description, and the grants a configuration would give it.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The plugin's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its description.
    pub description: String,
    /// Where it came from.
    pub source: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// The API version it was built against.
    pub api_version: String,
    /// Its kinds.
    pub kinds: Vec<String>,
    /// The URL schemes it serves.
    pub protocols: Vec<String>,
    /// Its exports.
    pub exports: Vec<String>,
    /// Its imports, each with the functions it uses.
    pub imports: BTreeMap<String, Vec<String>>,
    /// Its settings.
    pub config: BTreeMap<String, super::ConfigKey>,
    /// What it asks for.
    pub requested: super::Capabilities,
    /// What the given settings would grant, if settings were given and fit.
    pub granted: Option<Grants>,
    /// Why the given settings do not fit, if they do not.
    pub config_problem: Option<String>,
}

/// Describe a plugin, and what `settings` (if any) would grant it.
pub fn inspect(runtime: &Runtime, plugin: &Plugin, settings: Option<&BTreeMap<String, String>>) -> Result<Inspection> {
    let manifest = plugin.manifest();
    let (granted, config_problem) = match settings {
        None => (None, None),
        Some(settings) => match manifest.check_config(settings) {
            Ok(full) => match Grants::resolve("(inspect)", manifest, &full) {
                Ok(g) => (Some(g), None),
                Err(e) => (None, Some(e.to_string())),
            },
            Err(reason) => (None, Some(reason)),
        },
    };
    Ok(Inspection {
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        description: manifest.description.clone(),
        source: plugin.source().to_string(),
        sha256: plugin.sha256().to_string(),
        api_version: plugin.api_version().to_string(),
        kinds: manifest.kinds.iter().map(|k| format!("{k:?}").to_lowercase()).collect(),
        protocols: manifest.protocols.clone(),
        exports: export_names(runtime, plugin.component()),
        imports: import_names(runtime, plugin.component()).into_iter().collect(),
        config: manifest.config.clone(),
        requested: manifest.capabilities.clone(),
        granted,
        config_problem,
    })
}
