//! Locations written as URLs — `s3://bucket/laptop?endpoint=https://...`, `fs:///srv/backup`
//! — resolved to the plugin whose manifest lists the scheme among its `protocols` (as
//! Plakar's connectors are), with settings from the URL as the manifest's `[location]` says,
//! from the query's `key=value` pairs, and from the environment variables its settings name
//! (`env`). Secrets never come from a URL.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;

use super::{Catalog, Plugin, builtin};
use crate::error::{Error, Result};
use crate::runtime::Runtime;

/// A location URL resolved to a plugin and its settings.
#[derive(Clone)]
pub struct UrlLocation {
    /// The plugin serving the scheme.
    pub plugin: Plugin,
    /// The settings, secrets included (from the environment).
    pub settings: BTreeMap<String, String>,
    /// The URL without its query, to name the location in messages.
    pub display: String,
}

/// Whether `text` looks like a location URL (`scheme://...`).
pub fn is_url(text: &str) -> bool {
    text.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
    })
}

/// Resolve `url` through the plugins `catalog` knows, reading secrets (and defaults the URL
/// leaves out) from the environment through `env`.
pub fn resolve(
    catalog: &Catalog,
    runtime: &Runtime,
    url: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<UrlLocation> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| Error::UnknownProtocol { scheme: url.to_string(), known: known_protocols(catalog, runtime) })?;
    let plugin = find(catalog, runtime, scheme)?.ok_or_else(|| Error::UnknownProtocol {
        scheme: scheme.to_string(),
        known: known_protocols(catalog, runtime),
    })?;
    let manifest = plugin.manifest();
    let bad = |reason: String| Error::Config { target: url_without_query(url), plugin: manifest.name.clone(), reason };
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (host, path) = match location.find('/') {
        Some(i) => (&location[..i], &location[i..]),
        None => (location, ""),
    };
    let decode = |s: &str| percent_decode_str(s).decode_utf8().map(|c| c.into_owned());
    let mut settings = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (
            decode(key).map_err(|_| bad(format!("`{key}` is not valid UTF-8")))?,
            decode(value).map_err(|_| bad(format!("the value of `{key}` is not valid UTF-8")))?,
        );
        match manifest.config.get(&key) {
            Some(spec) if spec.secret => {
                let hint = spec.env.as_deref().map(|v| format!(" set {v}, or")).unwrap_or_default();
                return Err(bad(format!(
                    "`{key}` is a secret and cannot be given in a URL (URLs end up in shell histories and logs):{hint} add a target with `warden target add ... --secret {key}`"
                )));
            }
            _ => {
                settings.insert(key, value);
            }
        }
    }
    let map = &manifest.location;
    let host = decode(host).map_err(|_| bad("the host is not valid UTF-8".into()))?;
    let path = decode(path).map_err(|_| bad("the path is not valid UTF-8".into()))?;
    match &map.host {
        Some(key) if !host.is_empty() => {
            settings.insert(key.clone(), host);
        }
        Some(key) => return Err(bad(format!("the URL names no `{key}` (write {scheme}://{key}/...)"))),
        None if !host.is_empty() => {
            return Err(bad(format!("`{scheme}://` locations have no host part: write {scheme}:///a/path")));
        }
        None => {}
    }
    if let Some(key) = &map.path {
        if !path.is_empty() {
            settings.insert(key.clone(), path.clone());
        }
    } else if let Some(key) = &map.prefix {
        let prefix = path.trim_matches('/');
        if !prefix.is_empty() {
            settings.insert(key.clone(), format!("{prefix}/"));
        }
    } else if !path.trim_matches('/').is_empty() {
        return Err(bad(format!("`{scheme}://` locations take no path")));
    }
    for (key, spec) in &manifest.config {
        if let Some(var) = &spec.env
            && !settings.contains_key(key)
            && let Some(value) = env(var)
        {
            settings.insert(key.clone(), value);
        }
    }
    Ok(UrlLocation { plugin, settings, display: url_without_query(url) })
}

fn url_without_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

/// The plugin (built-in first, then installed) whose manifest lists `scheme`.
fn find(catalog: &Catalog, runtime: &Runtime, scheme: &str) -> Result<Option<Plugin>> {
    for name in builtin::names().into_iter().map(str::to_string).chain(catalog.installed().keys().cloned()) {
        let plugin = catalog.resolve(runtime, &name)?;
        if plugin.manifest().protocols.iter().any(|p| p == scheme) {
            return Ok(Some(plugin));
        }
    }
    Ok(None)
}

fn known_protocols(catalog: &Catalog, runtime: &Runtime) -> String {
    let mut known = Vec::new();
    for name in builtin::names().into_iter().map(str::to_string).chain(catalog.installed().keys().cloned()) {
        if let Ok(plugin) = catalog.resolve(runtime, &name) {
            known.extend(plugin.manifest().protocols.iter().map(|p| format!("{p}://")));
        }
    }
    if known.is_empty() { "none".into() } else { known.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::is_url;

    #[test]
    fn urls_are_told_from_paths_and_names() {
        assert!(is_url("s3://bucket/prefix"));
        assert!(is_url("fs:///srv/backup"));
        assert!(!is_url("/srv/backup"));
        assert!(!is_url("offsite"));
        assert!(!is_url("offsite:laptop"));
        assert!(!is_url("://nothing"));
    }
}
