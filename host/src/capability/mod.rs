//! Capabilities: what a plugin instance may reach. One module per capability, each holding its
//! configuration and its enforcement (Spin's factors). A plugin gets the intersection of what
//! its manifest asks for and what the operator's configuration grants; everything else is
//! denied, starting from a WASI context that inherits nothing.

pub mod fs;
pub mod http;
pub mod log;
pub mod sigv4;

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use crate::error::Result;
use crate::plugin::Manifest;

pub use fs::DirectoryGrant;
pub use http::{Endpoint, HttpGrant, RequestSigner};

/// What one plugin is granted under one configuration.
#[derive(Clone, Default, serde::Serialize)]
pub struct Grants {
    /// Host directories preopened for it.
    pub directories: Vec<DirectoryGrant>,
    /// Endpoints it may send HTTP requests to.
    pub http: Vec<HttpGrant>,
    /// The signer of each signed endpoint (never serialized: it holds credentials).
    #[serde(skip)]
    signers: Vec<(Endpoint, Arc<dyn RequestSigner>)>,
}

impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grants")
            .field("directories", &self.directories)
            .field("http", &self.http)
            .field("signers", &self.signers.len())
            .finish()
    }
}

impl Grants {
    /// Intersect the manifest's requests with the operator's settings. `target` names the
    /// configuration in errors.
    pub fn resolve(target: &str, manifest: &Manifest, settings: &BTreeMap<String, String>) -> Result<Self> {
        let http = http::resolve(target, manifest, settings)?;
        let mut signers = Vec::new();
        let requested = manifest.capabilities.http.iter().filter(|r| settings.contains_key(&r.config));
        for (grant, request) in http.iter().zip(requested) {
            if let Some(sign) = &request.sign {
                signers.push((grant.endpoint.clone(), http::signer(target, manifest, sign, settings)?));
            }
        }
        Ok(Grants { directories: fs::resolve(target, manifest, settings)?, http, signers })
    }

    /// What a plugin serving `kind` may use of these grants: importers and exporters handle
    /// plaintext, so they never get the network; an importer only reads its directories.
    pub(crate) fn for_kind(mut self, kind: crate::plugin::Kind) -> Grants {
        use crate::plugin::{Access, Kind};
        if kind != Kind::Target {
            self.http.clear();
            self.signers.clear();
        }
        if kind == Kind::Importer {
            for dir in &mut self.directories {
                dir.access = Access::ReadOnly;
            }
        }
        self
    }

    /// The wasi:http hooks that enforce the HTTP grants for one instance.
    pub(crate) fn http_hooks(&self, plugin: &Arc<str>) -> http::HttpHooks {
        let allowed = self
            .http
            .iter()
            .map(|g| {
                let signer = self.signers.iter().find(|(e, _)| *e == g.endpoint).map(|(_, s)| s.clone());
                (g.endpoint.clone(), signer)
            })
            .collect();
        http::HttpHooks::new(plugin.clone(), allowed)
    }

    /// A WASI context that gives exactly these grants: no environment, no arguments, stdin
    /// closed, no network (TCP, UDP and name lookups denied), stdout and stderr captured into
    /// the host's log under the plugin's name.
    pub fn wasi_context(&self, plugin: &Arc<str>, log: &log::LogBudget) -> Result<WasiCtx> {
        let mut builder = WasiCtxBuilder::new();
        // Must come before the preopens, or it does not apply to them: plugin calls run on
        // threads that may block, and blocking file I/O inline is 2-6x cheaper than a
        // round trip through a blocking pool.
        builder.allow_blocking_current_thread(true);
        builder
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .stdout(log.stdio_sink(log::Stream::Stdout))
            .stderr(log.stdio_sink(log::Stream::Stderr));
        fs::apply(plugin, &self.directories, &mut builder)?;
        Ok(builder.build())
    }
}
