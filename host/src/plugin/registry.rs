//! Installed plugins and name resolution: built-in first, then installed, then a path.
//!
//! `warden plugin install FILE` validates the component, precompiles it into the cache,
//! copies it into `<config dir>/plugins/<name>.wasm` and records its SHA-256 in
//! `<config dir>/plugins/registry.toml`. Loading an installed plugin checks the file against
//! the recorded hash, so a swapped file is refused rather than run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::load::read_component_file;
use super::{Plugin, PluginSource, builtin};
use crate::error::{Error, Result};
use crate::runtime::{Runtime, write_atomically};

const REGISTRY_FILE: &str = "registry.toml";

/// One installed plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstalledPlugin {
    /// Its version, from its manifest.
    pub version: String,
    /// SHA-256 of the installed file.
    pub sha256: String,
    /// Where it was installed from.
    pub source: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(default)]
    plugins: BTreeMap<String, InstalledPlugin>,
}

/// The plugins a configuration directory knows: built-in and installed.
#[derive(Debug)]
pub struct Catalog {
    dir: Option<PathBuf>,
    installed: BTreeMap<String, InstalledPlugin>,
}

impl Catalog {
    /// Only the built-in plugins (and paths).
    pub fn builtin_only() -> Catalog {
        Catalog { dir: None, installed: BTreeMap::new() }
    }

    /// The built-in plugins and those installed under `config_dir`.
    pub fn load(config_dir: &Path) -> Result<Catalog> {
        let dir = config_dir.join("plugins");
        let path = dir.join(REGISTRY_FILE);
        let installed = match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str::<RegistryFile>(&text)
                    .map_err(|e| Error::ConfigFile { path: path.clone(), reason: e.message().to_string() })?
                    .plugins
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(Error::io("reading the plugin registry", &path, e)),
        };
        Ok(Catalog { dir: Some(dir), installed })
    }

    /// The installed plugins, by name.
    pub fn installed(&self) -> &BTreeMap<String, InstalledPlugin> {
        &self.installed
    }

    /// Find a plugin by built-in name, installed name, or path to a `.wasm` file, and load it.
    pub fn resolve(&self, runtime: &Runtime, name_or_path: &str) -> Result<Plugin> {
        if let Some(bytes) = builtin::get(name_or_path) {
            return Plugin::load(runtime, PluginSource::Builtin(name_or_path.to_string()), bytes);
        }
        if let (Some(entry), Some(dir)) = (self.installed.get(name_or_path), &self.dir) {
            let path = dir.join(format!("{name_or_path}.wasm"));
            let bytes = read_component_file(&path)?;
            if hex::encode(Sha256::digest(&bytes)) != entry.sha256 {
                return Err(Error::NotAComponent {
                    source_name: path.display().to_string(),
                    reason: "its SHA-256 no longer matches the one recorded at install; reinstall it with `warden plugin install --force FILE`".to_string(),
                });
            }
            return Plugin::load(runtime, PluginSource::Installed(name_or_path.to_string()), &bytes);
        }
        let path = Path::new(name_or_path);
        if path.exists() || name_or_path.ends_with(".wasm") || name_or_path.contains('/') {
            let bytes = read_component_file(path)?;
            return Plugin::load(runtime, PluginSource::File(path.to_path_buf()), &bytes);
        }
        let mut known: Vec<&str> = builtin::names();
        known.extend(self.installed.keys().map(String::as_str));
        Err(Error::UnknownPlugin { name: name_or_path.to_string(), known: known.join(", ") })
    }

    /// Install the component at `file`: validate and precompile it, copy it in, record its
    /// hash. Refuses a built-in name always, an installed name unless `force`.
    pub fn install(&mut self, runtime: &Runtime, file: &Path, force: bool) -> Result<Plugin> {
        let dir = self.dir.clone().ok_or_else(|| Error::ConfigFile {
            path: PathBuf::from("-"),
            reason: "no configuration directory to install into".into(),
        })?;
        let bytes = read_component_file(file)?;
        // Loading validates everything and precompiles into the cache.
        let plugin = Plugin::load(runtime, PluginSource::File(file.to_path_buf()), &bytes)?;
        let name = plugin.name().to_string();
        if builtin::get(&name).is_some() {
            return Err(Error::PluginExists {
                name,
                hint: "that is a built-in plugin's name; rename the plugin in its warden.toml".into(),
            });
        }
        if self.installed.contains_key(&name) && !force {
            return Err(Error::PluginExists { name, hint: "pass --force to replace it".into() });
        }
        create_dir(&dir)?;
        write_atomically(&dir.join(format!("{name}.wasm")), &bytes)?;
        let source = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf()).display().to_string();
        let entry =
            InstalledPlugin { version: plugin.manifest().version.clone(), sha256: plugin.sha256().to_string(), source };
        self.installed.insert(name, entry);
        self.save(&dir)?;
        Ok(plugin)
    }

    /// Remove an installed plugin.
    pub fn remove(&mut self, name: &str) -> Result<()> {
        let dir = self.dir.clone().ok_or_else(|| Error::UnknownPlugin { name: name.into(), known: String::new() })?;
        if self.installed.remove(name).is_none() {
            let known: Vec<&str> = self.installed.keys().map(String::as_str).collect();
            return Err(Error::UnknownPlugin { name: name.to_string(), known: known.join(", ") });
        }
        self.save(&dir)?;
        match std::fs::remove_file(dir.join(format!("{name}.wasm"))) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("removing the plugin file", dir.join(format!("{name}.wasm")), e)),
        }
    }

    fn save(&self, dir: &Path) -> Result<()> {
        let text = toml::to_string_pretty(&RegistryFile { plugins: self.installed.clone() })
            .map_err(|e| Error::ConfigFile { path: dir.join(REGISTRY_FILE), reason: e.to_string() })?;
        write_atomically(&dir.join(REGISTRY_FILE), text.as_bytes())
    }
}

fn create_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| Error::io("creating the plugin directory", dir, e))
}
