//! Bindings for `warden:plugin@0.1.0` (generated; the WIT holds their documentation).
#![allow(missing_docs)]

/// The API version these bindings implement.
pub const API_VERSION: &str = "0.1.0";
/// The export a target plugin must provide.
pub const TARGET_EXPORT: &str = "warden:plugin/target@0.1.0";

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

pub use self::exports::warden::plugin::target::{Body, Check, Features, ObjectBody, PutOptions};
pub use self::warden::plugin::log::Level;
pub use self::warden::plugin::types::{ByteRange, Error as WitError, ListPage, ObjectMeta};
