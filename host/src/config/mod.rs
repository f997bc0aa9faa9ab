//! The operator's configuration file: the targets and their settings, as TOML in the config
//! directory (`$WARDEN_CONFIG_DIR`, else `$XDG_CONFIG_HOME/warden`, else `~/.config/warden`).
//! Written through a temp file and a rename, so a crash never leaves it half-written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The file's name inside the config directory.
pub const FILE_NAME: &str = "config.toml";

/// One configured target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetEntry {
    /// The plugin: a built-in name or a path to a `.wasm` file.
    pub plugin: String,
    /// Its settings (non-secret).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Its secret settings, sealed under the master key (see `secrets`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileContents {
    #[serde(default)]
    targets: BTreeMap<String, TargetEntry>,
}

/// The configuration file, loaded.
#[derive(Debug)]
pub struct ConfigFile {
    path: PathBuf,
    /// The targets, by name.
    pub targets: BTreeMap<String, TargetEntry>,
}

impl ConfigFile {
    /// The config directory: `explicit` (from `--config-dir`/`WARDEN_CONFIG_DIR`), else the
    /// user's XDG config directory.
    pub fn default_dir(explicit: Option<PathBuf>) -> Result<PathBuf> {
        if let Some(dir) = explicit {
            return Ok(dir);
        }
        dirs::config_dir().map(|d| d.join("warden")).ok_or_else(|| Error::ConfigFile {
            path: PathBuf::from("~/.config/warden"),
            reason: "no home or config directory is known; set WARDEN_CONFIG_DIR or pass --config-dir".into(),
        })
    }

    /// Load the file from `dir`; a missing file is an empty configuration.
    pub fn load(dir: &Path) -> Result<ConfigFile> {
        let path = dir.join(FILE_NAME);
        let contents = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str::<FileContents>(&text)
                .map_err(|e| Error::ConfigFile { path: path.clone(), reason: e.message().to_string() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileContents::default(),
            Err(e) => return Err(Error::io("reading the configuration", &path, e)),
        };
        Ok(ConfigFile { path, targets: contents.targets })
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A target by name.
    pub fn target(&self, name: &str) -> Result<&TargetEntry> {
        self.targets.get(name).ok_or_else(|| Error::UnknownTarget { name: name.to_string() })
    }

    /// Save the file atomically, creating the directory (0700) if needed.
    pub fn save(&self) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|e| Error::io("creating the config directory", dir, e))?;
        let text = toml::to_string_pretty(&FileContents { targets: self.targets.clone() })
            .map_err(|e| Error::ConfigFile { path: self.path.clone(), reason: e.to_string() })?;
        let text = format!("# Warden's targets; edit with `warden target add/remove`.\n{text}");
        crate::runtime::write_atomically(&self.path, text.as_bytes())
    }
}

/// Check a target name: 1 to 64 letters, digits, `-` or `_`.
pub fn validate_target_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Config {
            target: name.chars().take(64).collect(),
            plugin: "-".into(),
            reason: "a target name is 1 to 64 letters, digits, `-` or `_`".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reports_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = ConfigFile::load(dir.path()).unwrap();
        assert!(cfg.targets.is_empty());
        cfg.targets.insert(
            "t".into(),
            TargetEntry {
                plugin: "fs".into(),
                settings: [("path".to_string(), "/x".to_string())].into(),
                secrets: BTreeMap::new(),
            },
        );
        cfg.save().unwrap();
        let again = ConfigFile::load(dir.path()).unwrap();
        assert_eq!(again.target("t").unwrap().settings["path"], "/x");
        assert!(matches!(again.target("u"), Err(Error::UnknownTarget { .. })));
        std::fs::write(dir.path().join(FILE_NAME), "targets = 3").unwrap();
        assert!(matches!(ConfigFile::load(dir.path()), Err(Error::ConfigFile { .. })));
    }

    #[test]
    fn target_names() {
        validate_target_name("my-backup_1").unwrap();
        for bad in ["", "a b", "../x", "é"] {
            assert!(validate_target_name(bad).is_err());
        }
    }
}
