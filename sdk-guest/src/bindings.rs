//! The generated bindings for `warden:plugin@0.1.0`. Private: the SDK's own types are the
//! public API, so a plugin never depends on generated names (public only for the macros).
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../wit",
    world: "warden:plugin/plugin",
    with: {
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
    },
    pub_export_macro: true,
    export_macro_name: "__export_plugin",
    default_bindings_module: "::warden_sdk::__private::bindings",
    runtime_path: "::warden_sdk::__private::wit_bindgen::rt",
});
