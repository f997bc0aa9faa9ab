//! # warden-sdk
//!
//! Write a [Warden](https://example.invalid/warden) plugin — a storage backend that runs in a
//! WebAssembly sandbox — in plain Rust: implement [`Target`], describe the plugin in a
//! `warden.toml` beside your `Cargo.toml`, export it with [`export_target!`], and build for
//! `wasm32-wasip2`. The result is one `.wasm` file that carries its own manifest:
//! `warden plugin install` it, `warden plugin test` it.
//!
//! ```toml
//! # warden.toml
//! name = "my-store"
//! version = "0.1.0"
//! description = "Objects in my service"
//! kinds = ["target"]
//!
//! [config.path]
//! description = "Where the objects live"
//! required = true
//!
//! [[capabilities.directories]]
//! config = "path"          # the host preopens this setting's directory, named "path"
//! access = "read-write"
//! ```
//!
//! What a plugin can reach is what its manifest asks for and the operator grants: here one
//! directory, found with [`preopened_dir`]. Nothing else: no environment, no network.
//!
//! For speed, let bytes pass through without entering the plugin's memory: store with
//! [`Body::write_to_file`], serve with [`GetBody::file`] (see [`io`]).

#![deny(missing_docs)]

extern crate self as warden_sdk;

#[doc(hidden)]
pub mod bindings;
mod config;
mod exporter;
mod importer;
pub mod io;
pub mod keymap;
pub mod log;
mod store;
mod target;
mod types;
mod unsupported;

pub use config::Config;
pub use exporter::{Exporter, Metadata};
pub use importer::{Entry, EntryKind, Importer, Scan, ScanItem};
pub use io::{Body, GetBody, StreamReader, StreamWriter};
pub use store::{FileInfo, FileKind, Store};
pub use target::Target;
pub use types::{ByteRange, Check, Error, Features, Key, ListPage, ObjectMeta, PutOptions, Result};
/// The WASI 0.2 bindings (files, streams, clocks, random), for what the SDK does not wrap.
pub use wasip2;

/// The API version this SDK builds plugins for; stamped into every plugin it exports.
pub const API_VERSION: &str = "0.1.0";

/// The directory the host preopened for the config key `setting`, or
/// [`Error::PermissionDenied`] saying that none was granted.
pub fn preopened_dir(setting: &str) -> Result<wasip2::filesystem::types::Descriptor> {
    wasip2::filesystem::preopens::get_directories()
        .into_iter()
        .find_map(|(dir, name)| (name == setting).then_some(dir))
        .ok_or_else(|| {
            Error::permission_denied(format!(
                "no directory was granted for the setting `{setting}`: declare it under [[capabilities.directories]] in warden.toml and set it on the target"
            ))
        })
}

/// Export a [`Target`] as the plugin's implementation (shorthand for
/// `export_plugin!(target: T)`), and embed `warden.toml` (from the crate's directory) and the
/// API version into the component.
///
/// ```ignore
/// warden_sdk::export_target!(MyTarget);
/// ```
#[macro_export]
macro_rules! export_target {
    ($target:ty) => {
        $crate::export_plugin!(target: $target);
    };
}

/// Export the kinds a plugin implements — any of `target:` ([`Target`]), `store:`
/// ([`Store`]), `importer:` ([`Importer`]) and `exporter:` ([`Exporter`]) — and embed `warden.toml` (from the crate's
/// directory) and the API version into the component. List the same kinds under `kinds` in
/// `warden.toml`; the kinds left out answer `unsupported`.
///
/// ```ignore
/// warden_sdk::export_plugin!(target: MyTarget, store: MyStore, importer: MySource, exporter: MyDestination);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($($kind:ident : $ty:ty),+ $(,)?) => {
        $crate::__export_plugin_kinds!(
            [$crate::__private::Unsupported] [$crate::__private::Unsupported]
            [$crate::__private::Unsupported] [$crate::__private::Unsupported]
            $($kind : $ty,)+
        );
    };
}

/// Not part of the API: sorts `export_plugin!`'s arguments into the four kinds.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_plugin_kinds {
    ([$t:ty] [$s:ty] [$i:ty] [$e:ty] target : $ty:ty, $($rest:tt)*) => {
        $crate::__export_plugin_kinds!([$ty] [$s] [$i] [$e] $($rest)*);
    };
    ([$t:ty] [$s:ty] [$i:ty] [$e:ty] store : $ty:ty, $($rest:tt)*) => {
        $crate::__export_plugin_kinds!([$t] [$ty] [$i] [$e] $($rest)*);
    };
    ([$t:ty] [$s:ty] [$i:ty] [$e:ty] importer : $ty:ty, $($rest:tt)*) => {
        $crate::__export_plugin_kinds!([$t] [$s] [$ty] [$e] $($rest)*);
    };
    ([$t:ty] [$s:ty] [$i:ty] [$e:ty] exporter : $ty:ty, $($rest:tt)*) => {
        $crate::__export_plugin_kinds!([$t] [$s] [$i] [$ty] $($rest)*);
    };
    ([$t:ty] [$s:ty] [$i:ty] [$e:ty]) => {
        const _: () = {
            // Readable errors at the user's types if they do not implement their kind.
            fn assert_kinds<T: $crate::Target, S: $crate::Store, I: $crate::Importer, E: $crate::Exporter>() {}
            let _ = assert_kinds::<$t, $s, $i, $e>;
        };

        #[used]
        #[unsafe(link_section = "warden:manifest")]
        static __WARDEN_MANIFEST: [u8; include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/warden.toml")).len()] =
            *include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/warden.toml"));

        #[used]
        #[unsafe(link_section = "warden:api-version")]
        static __WARDEN_API_VERSION: [u8; $crate::API_VERSION.len()] = $crate::__private::api_version_bytes();

        #[doc(hidden)]
        struct __WardenPlugin;

        impl $crate::__private::bindings::exports::warden::plugin::target::Guest for __WardenPlugin {
            type Session = $crate::__private::SessionAdapter<$t>;
            type BodyReader = $crate::__private::ReaderAdapter;
        }

        impl $crate::__private::bindings::exports::warden::plugin::store::Guest for __WardenPlugin {
            type Repository = $crate::__private::RepositoryAdapter<$s>;
        }

        impl $crate::__private::bindings::exports::warden::plugin::importer::Guest for __WardenPlugin {
            type Source = $crate::__private::SourceAdapter<$i>;
            type Scan = $crate::__private::ScanAdapter<<$i as $crate::Importer>::Scan>;
        }

        impl $crate::__private::bindings::exports::warden::plugin::exporter::Guest for __WardenPlugin {
            type Destination = $crate::__private::DestinationAdapter<$e>;
        }

        $crate::__private::bindings::__export_plugin!(__WardenPlugin with_types_in $crate::__private::bindings);
    };
}

/// Not part of the API: what the macros expand to.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings;
    pub use crate::exporter::DestinationAdapter;
    pub use crate::importer::{ScanAdapter, SourceAdapter};
    pub use crate::store::RepositoryAdapter;
    pub use crate::target::{ReaderAdapter, SessionAdapter};
    pub use crate::unsupported::Unsupported;
    pub use wit_bindgen;

    /// The API version as a byte array, for the custom section.
    pub const fn api_version_bytes() -> [u8; crate::API_VERSION.len()] {
        let mut out = [0u8; crate::API_VERSION.len()];
        let bytes = crate::API_VERSION.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            out[i] = bytes[i];
            i += 1;
        }
        out
    }
}
