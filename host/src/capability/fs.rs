//! The filesystem capability: a directory of the host, preopened for a plugin whose manifest
//! asks for it through a config key, and only that directory (cap-std underneath, so no
//! path, `..` or symlink resolves outside it).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::error::{Error, Result};
use crate::plugin::{Access, Manifest};

/// One preopened directory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DirectoryGrant {
    /// The config key that named it; the guest sees the preopen under this name.
    pub config_key: String,
    /// The directory on the host.
    pub host_path: PathBuf,
    /// The access granted.
    pub access: Access,
}

/// The directories a plugin gets: each one it asks for whose config key the operator set.
pub(crate) fn resolve(
    target: &str,
    manifest: &Manifest,
    settings: &BTreeMap<String, String>,
) -> Result<Vec<DirectoryGrant>> {
    let mut grants = Vec::new();
    for request in &manifest.capabilities.directories {
        let Some(value) = settings.get(&request.config) else {
            continue;
        };
        let host_path = PathBuf::from(value);
        if !host_path.is_absolute() {
            return Err(Error::Config {
                target: target.into(),
                plugin: manifest.name.clone(),
                reason: format!("`{}` must be an absolute path, not {value:?}", request.config),
            });
        }
        grants.push(DirectoryGrant { config_key: request.config.clone(), host_path, access: request.access });
    }
    Ok(grants)
}

/// Preopen the granted directories.
pub(crate) fn apply(plugin: &Arc<str>, grants: &[DirectoryGrant], builder: &mut WasiCtxBuilder) -> Result<()> {
    for grant in grants {
        let perms = match grant.access {
            Access::ReadOnly => FsPerms::ReadOnly,
            Access::ReadWrite => FsPerms::ReadWrite,
        };
        builder.preopened_dir(&grant.host_path, &grant.config_key, perms).map_err(|e| {
            Error::io(
                format!(
                    "plugin `{plugin}`: cannot open the directory granted through `{}`; check that it exists and is readable",
                    grant.config_key
                ),
                &grant.host_path,
                std::io::Error::other(format!("{e:#}")),
            )
        })?;
    }
    Ok(())
}
