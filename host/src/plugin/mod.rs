//! Plugins: their manifests, loading (parse the bytes first, check the API version and the
//! world, then compile and pre-instantiate), inspection, and the built-in ones.

pub mod builtin;
mod inspect;
mod load;
mod manifest;

pub use inspect::{Inspection, inspect};
pub use load::{Plugin, PluginSource, RawSections, read_sections};
pub use manifest::{
    API_VERSION_SECTION, Access, Capabilities, ConfigKey, DirectoryRequest, Kind, MANIFEST_SECTION,
    Manifest,
};

use std::path::Path;

use crate::error::{Error, Result};
use crate::runtime::Runtime;

/// Find a plugin by built-in name, or by path to a `.wasm` file, and load it.
pub fn resolve(runtime: &Runtime, name_or_path: &str) -> Result<Plugin> {
    if let Some(bytes) = builtin::get(name_or_path) {
        return Plugin::load(
            runtime,
            PluginSource::Builtin(name_or_path.to_string()),
            bytes,
        );
    }
    let path = Path::new(name_or_path);
    if path.exists() || name_or_path.ends_with(".wasm") || name_or_path.contains('/') {
        let bytes = load::read_component_file(path)?;
        return Plugin::load(runtime, PluginSource::File(path.to_path_buf()), &bytes);
    }
    Err(Error::UnknownPlugin {
        name: name_or_path.to_string(),
        known: builtin::names().join(", "),
    })
}
