//! Plugins: their manifests, loading (parse the bytes first, check the API version and the
//! world, then compile and pre-instantiate), inspection, and the built-in ones.

pub mod builtin;
mod inspect;
mod load;
pub mod location;
mod manifest;
mod pack;
mod registry;

pub use inspect::{Inspection, inspect};
pub use load::{MAX_COMPONENT_BYTES, Plugin, PluginSource, RawSections, read_sections};
pub use manifest::{
    API_VERSION_SECTION, Access, Capabilities, ConfigKey, DirectoryRequest, HttpRequest, Kind, LocationMap,
    MANIFEST_SECTION, Manifest, SigningRequest, SigningScheme, ValueType,
};
pub use pack::pack;
pub use registry::{Catalog, InstalledPlugin};

use crate::error::Result;
use crate::runtime::Runtime;

/// Find a built-in plugin by name, or a `.wasm` file by path, and load it. (Installed plugins
/// are found through a [`Catalog`].)
pub fn resolve(runtime: &Runtime, name_or_path: &str) -> Result<Plugin> {
    Catalog::builtin_only().resolve(runtime, name_or_path)
}
