//! Loading a plugin: the bytes are parsed by the host before anything compiles them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmparser::{Encoding, Parser, Payload};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre};

use super::manifest::{API_VERSION_SECTION, Kind, MANIFEST_SECTION, Manifest};
use crate::bindings::{SUPPORTED_API_VERSIONS, v0_1};
use crate::error::{Error, Result};
use crate::runtime::{PluginState, Runtime};

/// The largest component file the host reads.
pub const MAX_COMPONENT_BYTES: u64 = 64 << 20;

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Embedded in the `warden` binary.
    Builtin(String),
    /// Installed with `warden plugin install`, by name.
    Installed(String),
    /// A `.wasm` file.
    File(PathBuf),
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::Builtin(name) => write!(f, "built-in plugin `{name}`"),
            PluginSource::Installed(name) => write!(f, "installed plugin `{name}`"),
            PluginSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The Warden custom sections of a component, read without compiling it.
#[derive(Debug, Clone, Default)]
pub struct RawSections {
    /// The `warden:manifest` section, if present.
    pub manifest: Option<Vec<u8>>,
    /// The `warden:api-version` section, if present.
    pub api_version: Option<String>,
}

/// Parse the bytes as a component and pull out Warden's custom sections (at any nesting
/// depth: a guest's `#[link_section]` lands in the core module inside the component).
pub fn read_sections(source_name: &str, bytes: &[u8]) -> Result<RawSections> {
    let not_component = |reason: String| Error::NotAComponent { source_name: source_name.to_string(), reason };
    if bytes.is_empty() {
        return Err(not_component("the file is empty".into()));
    }
    if !bytes.starts_with(b"\0asm") {
        return Err(not_component("it is not WebAssembly (no `\\0asm` header)".into()));
    }
    let mut sections = RawSections::default();
    let mut first = true;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| {
            not_component(format!("it is not valid WebAssembly (truncated or damaged?): {}", e.message()))
        })?;
        match payload {
            Payload::Version { encoding, .. } if first => {
                first = false;
                if encoding == Encoding::Module {
                    return Err(not_component(
                        "it is a core WebAssembly module, not a component; build for wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
                            .into(),
                    ));
                }
            }
            Payload::CustomSection(reader) if reader.name() == MANIFEST_SECTION => {
                let previous = sections.manifest.replace(reader.data().to_vec());
                if previous.is_some() {
                    return Err(not_component(format!("it has more than one `{MANIFEST_SECTION}` section")));
                }
            }
            Payload::CustomSection(reader) if reader.name() == API_VERSION_SECTION => {
                let text = std::str::from_utf8(reader.data())
                    .map_err(|_| not_component(format!("its `{API_VERSION_SECTION}` section is not text")))?;
                if sections.api_version.replace(text.trim().to_string()).is_some() {
                    return Err(not_component(format!("it has more than one `{API_VERSION_SECTION}` section")));
                }
            }
            _ => {}
        }
    }
    Ok(sections)
}

/// Read a component file, refusing what is too large to be a plugin.
pub(crate) fn read_component_file(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("reading the plugin file", path, e))?;
    if !meta.is_file() {
        return Err(Error::NotAComponent {
            source_name: path.display().to_string(),
            reason: "it is not a file".into(),
        });
    }
    if meta.len() > MAX_COMPONENT_BYTES {
        return Err(Error::NotAComponent {
            source_name: path.display().to_string(),
            reason: format!(
                "it is {} MiB, more than the {} MiB a plugin may be",
                meta.len() >> 20,
                MAX_COMPONENT_BYTES >> 20
            ),
        });
    }
    std::fs::read(path).map_err(|e| Error::io("reading the plugin file", path, e))
}

/// A loaded, validated, pre-instantiated plugin. Cheap to clone.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

struct PluginInner {
    name: Arc<str>,
    source: PluginSource,
    manifest: Manifest,
    api_version: String,
    sha256: String,
    component: Component,
    pres: KindPres,
}

/// The pre-instantiated plugin, once per kind it implements.
struct KindPres {
    target: Option<v0_1::TargetPluginPre<PluginState>>,
    store: Option<v0_1::store::StorePluginPre<PluginState>>,
    importer: Option<v0_1::importer::ImporterPluginPre<PluginState>>,
    exporter: Option<v0_1::exporter::ExporterPluginPre<PluginState>>,
}

impl KindPres {
    fn new(manifest: &Manifest, pre: InstancePre<PluginState>) -> Result<KindPres> {
        let wrong = |kind: Kind, e: wasmtime::Error| Error::WrongWorld {
            plugin: manifest.name.clone(),
            kind,
            found: format!("{e:#}"),
            expected: kind.export().into(),
        };
        let has = |kind| manifest.kinds.contains(&kind);
        Ok(KindPres {
            target: has(Kind::Target)
                .then(|| v0_1::TargetPluginPre::new(pre.clone()).map_err(|e| wrong(Kind::Target, e)))
                .transpose()?,
            store: has(Kind::Store)
                .then(|| v0_1::store::StorePluginPre::new(pre.clone()).map_err(|e| wrong(Kind::Store, e)))
                .transpose()?,
            importer: has(Kind::Importer)
                .then(|| v0_1::importer::ImporterPluginPre::new(pre.clone()).map_err(|e| wrong(Kind::Importer, e)))
                .transpose()?,
            exporter: has(Kind::Exporter)
                .then(|| v0_1::exporter::ExporterPluginPre::new(pre.clone()).map_err(|e| wrong(Kind::Exporter, e)))
                .transpose()?,
        })
    }
}

impl Plugin {
    /// Validate and load a plugin from its bytes.
    pub fn load(runtime: &Runtime, source: PluginSource, bytes: &[u8]) -> Result<Plugin> {
        let source_name = source.to_string();
        let sections = read_sections(&source_name, bytes)?;
        let manifest_bytes = sections.manifest.ok_or_else(|| Error::Manifest {
            plugin: source_name.clone(),
            reason: format!(
                "it has no `{MANIFEST_SECTION}` section; build it with warden-sdk, or add one with `warden plugin pack`"
            ),
        })?;
        let manifest = Manifest::parse(&manifest_bytes)
            .map_err(|reason| Error::Manifest { plugin: source_name.clone(), reason })?;
        let api_version = sections.api_version.ok_or_else(|| Error::Manifest {
            plugin: manifest.name.clone(),
            reason: format!(
                "it has no `{API_VERSION_SECTION}` section, so the host cannot tell which API it was built for"
            ),
        })?;
        if !SUPPORTED_API_VERSIONS.contains(&api_version.as_str()) {
            return Err(Error::UnsupportedApi {
                plugin: manifest.name.clone(),
                found: api_version,
                supported: SUPPORTED_API_VERSIONS.join(", "),
            });
        }
        let component = runtime.compile(&source_name, bytes)?;
        let exports = export_names(runtime, &component);
        for kind in &manifest.kinds {
            if !exports.iter().any(|e| e == kind.export()) {
                let found =
                    if exports.is_empty() { "nothing".to_string() } else { format!("`{}`", exports.join("`, `")) };
                return Err(Error::WrongWorld {
                    plugin: manifest.name.clone(),
                    kind: *kind,
                    found,
                    expected: kind.export().into(),
                });
            }
        }
        // A capability the manifest does not ask for is never granted: refuse the import now
        // rather than fail at the first request.
        if manifest.capabilities.http.is_empty()
            && let Some(import) =
                import_names(runtime, &component).into_iter().map(|(n, _)| n).find(|n| n.starts_with("wasi:http/"))
        {
            return Err(Error::MissingImport {
                plugin: manifest.name.clone(),
                detail: format!(
                    "it imports `{import}`, but its manifest asks for no HTTP endpoint; declare one under [[capabilities.http]]"
                ),
            });
        }
        let instance_pre: InstancePre<PluginState> = runtime
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| Error::MissingImport { plugin: manifest.name.clone(), detail: describe_link_error(&e) })?;
        let pres = KindPres::new(&manifest, instance_pre)?;
        Ok(Plugin {
            inner: Arc::new(PluginInner {
                name: manifest.name.clone().into(),
                source,
                manifest,
                api_version,
                sha256: hex::encode(Sha256::digest(bytes)),
                component,
                pres,
            }),
        })
    }

    /// The plugin's name (from its manifest).
    pub fn name(&self) -> &Arc<str> {
        &self.inner.name
    }

    /// Where it came from.
    pub fn source(&self) -> &PluginSource {
        &self.inner.source
    }

    /// Its manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// The API version it was built against.
    pub fn api_version(&self) -> &str {
        &self.inner.api_version
    }

    /// SHA-256 of its bytes, hex.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// The compiled component.
    pub fn component(&self) -> &Component {
        &self.inner.component
    }

    /// Whether the plugin implements `kind` (its manifest says so and it exports it).
    pub fn implements(&self, kind: Kind) -> bool {
        self.inner.manifest.kinds.contains(&kind)
    }

    /// An error saying this plugin cannot serve as `kind`.
    pub fn not_a(&self, kind: Kind) -> Error {
        Error::WrongKind {
            plugin: self.inner.name.to_string(),
            kind,
            implements: self.inner.manifest.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "),
        }
    }

    pub(crate) fn target_pre(&self) -> Result<&v0_1::TargetPluginPre<PluginState>> {
        self.inner.pres.target.as_ref().ok_or_else(|| self.not_a(Kind::Target))
    }

    pub(crate) fn store_pre(&self) -> Result<&v0_1::store::StorePluginPre<PluginState>> {
        self.inner.pres.store.as_ref().ok_or_else(|| self.not_a(Kind::Store))
    }

    pub(crate) fn importer_pre(&self) -> Result<&v0_1::importer::ImporterPluginPre<PluginState>> {
        self.inner.pres.importer.as_ref().ok_or_else(|| self.not_a(Kind::Importer))
    }

    pub(crate) fn exporter_pre(&self) -> Result<&v0_1::exporter::ExporterPluginPre<PluginState>> {
        self.inner.pres.exporter.as_ref().ok_or_else(|| self.not_a(Kind::Exporter))
    }
}

/// The names of a component's exports.
pub(crate) fn export_names(runtime: &Runtime, component: &Component) -> Vec<String> {
    component.component_type().exports(runtime.engine()).map(|(name, _)| name.to_string()).collect()
}

/// The names of a component's imports, down to functions for instances.
pub(crate) fn import_names(runtime: &Runtime, component: &Component) -> Vec<(String, Vec<String>)> {
    let engine = runtime.engine();
    component
        .component_type()
        .imports(engine)
        .map(|(name, item)| {
            let funcs = match item.ty {
                ComponentItem::ComponentInstance(instance) => {
                    instance.exports(engine).map(|(n, _)| n.to_string()).collect()
                }
                _ => Vec::new(),
            };
            (name.to_string(), funcs)
        })
        .collect()
}

fn describe_link_error(e: &wasmtime::Error) -> String {
    let text = format!("{e:#}");
    format!(
        "it imports something this host does not provide or did not grant ({}); only WASI 0.2 and warden:plugin interfaces are available",
        text.lines().next().unwrap_or_default()
    )
}
