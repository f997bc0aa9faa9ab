//! Host bindings, one module per supported WIT version (Zed's pattern): when the contract
//! gets a new version, add a module beside `v0_1` and keep this one for old plugins.

pub mod v0_1;

/// The API versions this host loads plugins for.
pub const SUPPORTED_API_VERSIONS: &[&str] = &[v0_1::API_VERSION];
