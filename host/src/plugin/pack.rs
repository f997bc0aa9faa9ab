//! `warden plugin pack`: embed a manifest and the API version into a component that was built
//! without warden-sdk (plain wit-bindgen, componentize-py, jco, TinyGo...), so it becomes an
//! installable Warden plugin. The sections are appended at the component's top level, which
//! the component format allows anywhere; nothing else in the file changes.

use super::load::read_sections;
use super::manifest::{API_VERSION_SECTION, MANIFEST_SECTION, Manifest};
use crate::bindings::SUPPORTED_API_VERSIONS;
use crate::error::{Error, Result};

/// Append the manifest (TOML text) and the API version to `component`. Refuses a component
/// that already carries either section, a manifest that does not validate, and an API version
/// this host does not support.
pub fn pack(source_name: &str, component: &[u8], manifest: &[u8], api_version: &str) -> Result<Vec<u8>> {
    let sections = read_sections(source_name, component)?;
    if sections.manifest.is_some() || sections.api_version.is_some() {
        return Err(Error::Manifest {
            plugin: source_name.to_string(),
            reason: "it already carries a manifest or an API version (built with warden-sdk, or packed before)".into(),
        });
    }
    let parsed =
        Manifest::parse(manifest).map_err(|reason| Error::Manifest { plugin: "warden.toml".into(), reason })?;
    if !SUPPORTED_API_VERSIONS.contains(&api_version) {
        return Err(Error::UnsupportedApi {
            plugin: parsed.name,
            found: api_version.to_string(),
            supported: SUPPORTED_API_VERSIONS.join(", "),
        });
    }
    let mut out = component.to_vec();
    custom_section(&mut out, MANIFEST_SECTION, manifest);
    custom_section(&mut out, API_VERSION_SECTION, api_version.as_bytes());
    Ok(out)
}

/// Append a custom section (id 0: LEB128 size, LEB128 name length, name, data).
fn custom_section(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    let mut body = Vec::with_capacity(name.len() + data.len() + 5);
    leb128(&mut body, name.len() as u64);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    out.push(0);
    leb128(out, body.len() as u64);
    out.extend_from_slice(&body);
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_encodes_like_the_spec() {
        let mut out = Vec::new();
        leb128(&mut out, 624_485);
        assert_eq!(out, [0xe5, 0x8e, 0x26]);
        out.clear();
        leb128(&mut out, 0);
        assert_eq!(out, [0]);
    }

    #[test]
    fn refuses_what_it_cannot_pack() {
        let manifest = b"name = \"x\"\nversion = \"1\"\nkinds = [\"target\"]\n";
        let fs = crate::plugin::builtin::FS;
        let err = pack("fs.wasm", fs, manifest, "0.1.0").unwrap_err().to_string();
        assert!(err.contains("already carries"), "{err}");
        assert!(pack("core.wasm", b"\0asm\x01\0\0\0", manifest, "0.1.0").is_err());
    }
}
