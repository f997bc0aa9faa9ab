//! The plugins embedded in the `warden` binary, so a fresh install needs no plugin directory.

/// The `fs` plugin: a target over one directory.
pub const FS: &[u8] = include_bytes!(concat!(env!("WARDEN_PLUGIN_DIR"), "/warden_plugin_fs.wasm"));

/// The `s3` plugin: a target in an S3 bucket, the host signing its requests.
pub const S3: &[u8] = include_bytes!(concat!(env!("WARDEN_PLUGIN_DIR"), "/warden_plugin_s3.wasm"));

/// The built-in plugins, by name.
const BUILTIN: &[(&str, &[u8])] = &[("fs", FS), ("s3", S3)];

/// A built-in plugin's bytes.
pub fn get(name: &str) -> Option<&'static [u8]> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// The names of the built-in plugins.
pub fn names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// Test-only plugins built beside the built-in ones (not embedded in release use).
pub mod testing {
    /// Directory holding every plugin the build compiled, test ones included.
    pub const DIR: &str = env!("WARDEN_PLUGIN_DIR");

    /// Path of a compiled plugin by artifact stem (e.g. `warden_plugin_null_sink`).
    pub fn path(stem: &str) -> std::path::PathBuf {
        std::path::Path::new(DIR).join(format!("{stem}.wasm"))
    }
}
