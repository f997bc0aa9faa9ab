//! Bindings for `warden:plugin@0.1.0` (generated; the WIT holds their documentation).
//!
//! One set per world the host instantiates: a component that implements several kinds is
//! instantiated through the world of the kind in use.
#![allow(missing_docs)]

/// The API version these bindings implement.
pub const API_VERSION: &str = "0.1.0";
/// The export a target plugin must provide.
pub const TARGET_EXPORT: &str = "warden:plugin/target@0.1.0";
/// The export a store plugin must provide.
pub const STORE_EXPORT: &str = "warden:plugin/store@0.1.0";
/// The export an importer plugin must provide.
pub const IMPORTER_EXPORT: &str = "warden:plugin/importer@0.1.0";
/// The export an exporter plugin must provide.
pub const EXPORTER_EXPORT: &str = "warden:plugin/exporter@0.1.0";

wasmtime::component::bindgen!({
    path: "../wit",
    world: "warden:plugin/target-plugin",
    exports: { default: async },
    with: {
        "wasi:io/poll": wasmtime_wasi::p2::bindings::io::poll,
        "wasi:io/streams": wasmtime_wasi::p2::bindings::io::streams,
        "wasi:io/error": wasmtime_wasi::p2::bindings::io::error,
    },
});

/// Bindings for one more world of the package, sharing `types` and `log` (and so their Rust
/// types and linker entries) with the target world's.
macro_rules! kind_world {
    ($world:literal) => {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: $world,
            exports: { default: async },
            with: {
                "wasi:io/poll": wasmtime_wasi::p2::bindings::io::poll,
                "wasi:io/streams": wasmtime_wasi::p2::bindings::io::streams,
                "wasi:io/error": wasmtime_wasi::p2::bindings::io::error,
                "warden:plugin/types": super::warden::plugin::types,
                "warden:plugin/log": super::warden::plugin::log,
            },
        });
    };
}

/// The store world.
pub mod store {
    kind_world!("warden:plugin/store-plugin");

    pub use self::exports::warden::plugin::store::{FileBody, FileInfo, FileKind};
}

/// The importer world.
pub mod importer {
    kind_world!("warden:plugin/importer-plugin");

    pub use self::exports::warden::plugin::importer::{Entry, EntryError, EntryKind, ScanItem};
}

/// The exporter world.
pub mod exporter {
    kind_world!("warden:plugin/exporter-plugin");

    pub use self::exports::warden::plugin::exporter::Metadata;
}

pub use self::exports::warden::plugin::target::{Body, Check, Features, ObjectBody, PutOptions};
pub use self::warden::plugin::log::Level;
pub use self::warden::plugin::types::{ByteRange, Error as WitError, ListPage, ObjectMeta};
