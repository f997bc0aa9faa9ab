//! The plugin manifest: what a plugin says it is, what settings it takes and which
//! capabilities it asks for. It travels inside the component in the `warden:manifest` custom
//! section (TOML), next to `warden:api-version`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Name of the custom section that holds the manifest.
pub const MANIFEST_SECTION: &str = "warden:manifest";
/// Name of the custom section that holds the API version the plugin was built against.
pub const API_VERSION_SECTION: &str = "warden:api-version";
/// Largest manifest the host reads.
const MAX_MANIFEST_BYTES: usize = 64 * 1024;

/// A plugin kind, as the manifest names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Blob storage (`warden:plugin/target`).
    Target,
    /// Backup repositories in the plugin's own layout (`warden:plugin/store`).
    Store,
    /// A backup source (`warden:plugin/importer`).
    Importer,
    /// A restore destination (`warden:plugin/exporter`).
    Exporter,
}

impl Kind {
    /// The kind's name as manifests spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Target => "target",
            Kind::Store => "store",
            Kind::Importer => "importer",
            Kind::Exporter => "exporter",
        }
    }

    /// The interface a component of this kind exports.
    pub fn export(self) -> &'static str {
        use crate::bindings::v0_1;
        match self {
            Kind::Target => v0_1::TARGET_EXPORT,
            Kind::Store => v0_1::STORE_EXPORT,
            Kind::Importer => v0_1::IMPORTER_EXPORT,
            Kind::Exporter => v0_1::EXPORTER_EXPORT,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The type of a setting's value, checked by `warden target add`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValueType {
    /// Any text (the default).
    #[default]
    String,
    /// A whole number (may be negative).
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A filesystem path (made absolute when a target is added).
    Path,
    /// A URL with a scheme and a host (`https://s3.example.com:9000`).
    Url,
}

impl ValueType {
    /// Check `value` against the type, describing what was expected when it fails.
    pub fn check(self, value: &str) -> Result<(), String> {
        let ok = match self {
            ValueType::String | ValueType::Path => true,
            ValueType::Integer => value.parse::<i64>().is_ok(),
            ValueType::Boolean => matches!(value, "true" | "false"),
            ValueType::Url => value.split_once("://").is_some_and(|(scheme, rest)| {
                !scheme.is_empty()
                    && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
                    && !rest.is_empty()
            }),
        };
        if ok {
            Ok(())
        } else {
            let expected = match self {
                ValueType::Integer => "a whole number",
                ValueType::Boolean => "true or false",
                ValueType::Url => "a URL such as https://host:port",
                _ => "text",
            };
            Err(format!("{value:?} is not {expected}"))
        }
    }
}

/// One setting the plugin takes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigKey {
    /// What the setting means, for `--help`-like output.
    #[serde(default)]
    pub description: String,
    /// Whether `target add` refuses a config without it.
    #[serde(default)]
    pub required: bool,
    /// The value used when the operator gives none.
    #[serde(default)]
    pub default: Option<String>,
    /// Whether the value is a secret (never shown, never passed to the plugin as config).
    #[serde(default)]
    pub secret: bool,
    /// The value's type (default: text).
    #[serde(default, rename = "type")]
    pub value_type: ValueType,
    /// An environment variable the value is read from when a location is written as a URL
    /// and the URL does not set it (secrets come only from here, never from a URL).
    #[serde(default)]
    pub env: Option<String>,
}

/// How much of a directory a plugin asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Read only.
    ReadOnly,
    /// Read and write.
    ReadWrite,
}

/// A request for a directory of the host, bound to a config key whose value is the path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryRequest {
    /// The config key that names the directory; also the name of the preopen in the guest.
    pub config: String,
    /// The access asked for.
    pub access: Access,
}

/// How the host signs requests to an endpoint for the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigningScheme {
    /// AWS Signature Version 4 (S3 and S3-compatible services).
    AwsSigv4,
}

/// A request that the host sign requests to an endpoint with credentials the plugin never
/// sees. Every field but `scheme` and `service` names a config key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningRequest {
    /// The scheme.
    pub scheme: SigningScheme,
    /// The service name in the signature (`s3`).
    pub service: String,
    /// The setting holding the region.
    pub region: String,
    /// The (secret) setting holding the access key id.
    pub access_key_id: String,
    /// The (secret) setting holding the secret access key.
    pub secret_access_key: String,
    /// The setting holding the only bucket the host will sign for.
    #[serde(default)]
    pub bucket: Option<String>,
    /// The setting holding the key prefix the host will sign for.
    #[serde(default)]
    pub prefix: Option<String>,
}

/// A request for outbound HTTP to the endpoint a config key names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequest {
    /// The config key whose value is the endpoint URL.
    pub config: String,
    /// Sign requests to it with the operator's credentials.
    #[serde(default)]
    pub sign: Option<SigningRequest>,
}

/// The capabilities a plugin asks for. Anything not asked for is denied.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Directories of the host.
    #[serde(default)]
    pub directories: Vec<DirectoryRequest>,
    /// Outbound HTTP endpoints.
    #[serde(default)]
    pub http: Vec<HttpRequest>,
}

/// A plugin's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name: lower-case letters, digits and `-`.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// One sentence about what it does.
    #[serde(default)]
    pub description: String,
    /// The kinds it implements.
    pub kinds: Vec<Kind>,
    /// URL schemes it serves (`fs`, `s3`), for locations written as URLs.
    #[serde(default)]
    pub protocols: Vec<String>,
    /// The settings it takes, by key.
    #[serde(default)]
    pub config: BTreeMap<String, ConfigKey>,
    /// The capabilities it asks for.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// The most instances the host may run side by side for one target; 1 for a plugin
    /// that keeps state in its own memory. Default: the host's limit.
    #[serde(default)]
    pub instances: Option<u32>,
    /// How a location URL (`scheme://host/path?key=value`) maps onto settings.
    #[serde(default)]
    pub location: LocationMap,
}

/// Which settings the parts of a location URL fill; the query's `key=value` pairs are settings
/// too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationMap {
    /// The setting the URL's host fills (`s3://BUCKET/...`).
    #[serde(default)]
    pub host: Option<String>,
    /// The setting the URL's path fills as an absolute filesystem path (`fs:///srv/backup`).
    #[serde(default)]
    pub path: Option<String>,
    /// The setting the URL's path fills as a key prefix: no leading `/`, a trailing one
    /// (`s3://bucket/laptop` gives `laptop/`).
    #[serde(default)]
    pub prefix: Option<String>,
}

impl Manifest {
    /// Parse and validate a manifest's TOML text.
    pub fn parse(text: &[u8]) -> Result<Self, String> {
        if text.len() > MAX_MANIFEST_BYTES {
            return Err(format!("it is {} bytes, more than the {MAX_MANIFEST_BYTES} allowed", text.len()));
        }
        let text = std::str::from_utf8(text).map_err(|_| "it is not UTF-8 text".to_string())?;
        let manifest: Manifest = toml::from_str(text).map_err(|e| e.message().to_string())?;
        manifest.validate()?;
        Ok(manifest)
    }

    fn validate(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(format!("name {:?} must be 1 to 64 lower-case letters, digits or `-`", self.name));
        }
        if self.instances == Some(0) {
            return Err("`instances` is 0; a plugin needs at least one instance".into());
        }
        if self.kinds.is_empty() {
            return Err("`kinds` is empty; a plugin implements at least one kind".into());
        }
        for (key, spec) in &self.config {
            if let Some(default) = &spec.default {
                spec.value_type.check(default).map_err(|why| format!("the default of `{key}`: {why}"))?;
            }
        }
        for key in [&self.location.host, &self.location.path, &self.location.prefix].into_iter().flatten() {
            match self.config.get(key) {
                None => {
                    return Err(format!("[location] names config key `{key}`, which is not declared under [config]"));
                }
                Some(spec) if spec.secret => {
                    return Err(format!("[location] names the secret `{key}`; secrets never come from a URL"));
                }
                Some(_) => {}
            }
        }
        for dir in &self.capabilities.directories {
            let Some(key) = self.config.get(&dir.config) else {
                return Err(format!(
                    "a directory is requested through config key `{}`, which the manifest does not declare under [config]",
                    dir.config
                ));
            };
            if key.secret {
                return Err(format!("config key `{}` names a directory and cannot be secret", dir.config));
            }
        }
        for request in &self.capabilities.http {
            let declared = |key: &str, secret: bool| -> Result<(), String> {
                match self.config.get(key) {
                    None => Err(format!(
                        "an HTTP capability names config key `{key}`, which the manifest does not declare under [config]"
                    )),
                    Some(spec) if spec.secret != secret => {
                        Err(format!("config key `{key}` must {}be secret", if secret { "" } else { "not " }))
                    }
                    Some(_) => Ok(()),
                }
            };
            declared(&request.config, false)?;
            if let Some(sign) = &request.sign {
                declared(&sign.region, false)?;
                declared(&sign.access_key_id, true)?;
                declared(&sign.secret_access_key, true)?;
                for key in sign.bucket.iter().chain(&sign.prefix) {
                    declared(key, false)?;
                }
            }
        }
        Ok(())
    }

    /// Check an operator's settings against the schema: unknown keys, missing required keys.
    /// Returns the settings with defaults filled in.
    pub fn check_config(&self, settings: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
        let valid = || {
            if self.config.is_empty() {
                "it takes no settings".to_string()
            } else {
                let keys: Vec<String> = self
                    .config
                    .iter()
                    .map(|(k, v)| format!("{k}{}", if v.required { " (required)" } else { "" }))
                    .collect();
                format!("valid keys: {}", keys.join(", "))
            }
        };
        for (key, value) in settings {
            let Some(spec) = self.config.get(key) else {
                return Err(format!("unknown setting `{key}`; {}", valid()));
            };
            spec.value_type.check(value).map_err(|why| format!("setting `{key}`: {why}; {}", valid()))?;
        }
        let mut full = settings.clone();
        let mut templated = Vec::new();
        for (key, spec) in &self.config {
            if full.contains_key(key) {
                continue;
            }
            if let Some(default) = &spec.default {
                full.insert(key.clone(), default.clone());
                if default.contains('{') {
                    templated.push(key.clone());
                }
            } else if spec.required {
                return Err(format!("missing required setting `{key}` ({}); {}", spec.description, valid()));
            }
        }
        // Defaults may name other settings (`https://s3.{region}.amazonaws.com`); never a
        // secret one, whose value must not flow into a setting the plugin sees.
        let public: Vec<(String, String)> = full
            .iter()
            .filter(|(k, _)| !self.config.get(*k).is_some_and(|c| c.secret))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for key in templated {
            let mut value = full[&key].clone();
            for (other, other_value) in &public {
                value = value.replace(&format!("{{{other}}}"), other_value);
            }
            full.insert(key, value);
        }
        Ok(full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FS: &str = r#"
name = "fs"
version = "0.1.0"
kinds = ["target"]
[config.path]
description = "dir"
required = true
[[capabilities.directories]]
config = "path"
access = "read-write"
"#;

    #[test]
    fn parses_a_valid_manifest() {
        let m = Manifest::parse(FS.as_bytes()).unwrap();
        assert_eq!(m.name, "fs");
        assert_eq!(m.capabilities.directories[0].access, Access::ReadWrite);
    }

    #[test]
    fn refuses_bad_manifests() {
        assert!(Manifest::parse(b"\xff\xfe").unwrap_err().contains("UTF-8"));
        assert!(Manifest::parse(b"name = 1").is_err());
        let bad_name = FS.replace("name = \"fs\"", "name = \"../fs\"");
        assert!(Manifest::parse(bad_name.as_bytes()).unwrap_err().contains("lower-case"));
        let undeclared = FS.replace("config = \"path\"", "config = \"dir\"");
        assert!(Manifest::parse(undeclared.as_bytes()).unwrap_err().contains("does not declare"));
        let unknown_field = format!("{FS}\nsurprise = true\n");
        assert!(Manifest::parse(unknown_field.as_bytes()).is_err());
        assert!(Manifest::parse(&vec![b'#'; 70_000]).unwrap_err().contains("more than"));
    }

    #[test]
    fn a_location_map_names_declared_settings_that_are_not_secret() {
        let base =
            "name = \"t\"\nversion = \"1\"\nkinds = [\"target\"]\n[config.bucket]\n[config.key]\nsecret = true\n";
        assert!(Manifest::parse(format!("{base}[location]\nhost = \"bucket\"\n").as_bytes()).is_ok());
        let undeclared = Manifest::parse(format!("{base}[location]\nhost = \"nope\"\n").as_bytes()).unwrap_err();
        assert!(undeclared.contains("not declared"), "{undeclared}");
        let secret = Manifest::parse(format!("{base}[location]\npath = \"key\"\n").as_bytes()).unwrap_err();
        assert!(secret.contains("secrets never come from a URL"), "{secret}");
    }

    #[test]
    fn checks_value_types() {
        let m = Manifest::parse(
            b"name = \"t\"\nversion = \"1\"\nkinds = [\"target\"]\n[config.parts]\ntype = \"integer\"\n[config.tls]\ntype = \"boolean\"\n[config.endpoint]\ntype = \"url\"\n",
        )
        .unwrap();
        let check = |k: &str, v: &str| m.check_config(&BTreeMap::from([(k.to_string(), v.to_string())]));
        assert!(check("parts", "4").is_ok());
        let err = check("parts", "four").unwrap_err();
        assert!(err.contains("setting `parts`: \"four\" is not a whole number") && err.contains("valid keys"), "{err}");
        assert!(check("tls", "yes").unwrap_err().contains("true or false"));
        assert!(check("endpoint", "https://s3.example.com:9000").is_ok());
        assert!(check("endpoint", "s3.example.com").unwrap_err().contains("URL"));
        assert!(Manifest::parse(b"name = \"t\"\nversion = \"1\"\nkinds = [\"target\"]\n[config.n]\ntype = \"integer\"\ndefault = \"x\"\n").is_err());
    }

    #[test]
    fn defaults_name_other_settings_but_never_secrets() {
        let m = Manifest::parse(
            b"name = \"t\"\nversion = \"1\"\nkinds = [\"target\"]\n[config.region]\ndefault = \"us-east-1\"\n[config.endpoint]\ndefault = \"https://s3.{region}.amazonaws.com/{key}\"\n[config.key]\nsecret = true\n",
        )
        .unwrap();
        let full = m.check_config(&BTreeMap::from([("key".to_string(), "SECRET".to_string())])).unwrap();
        assert_eq!(full["endpoint"], "https://s3.us-east-1.amazonaws.com/{key}");
        let full = m.check_config(&BTreeMap::from([("region".to_string(), "eu-west-1".to_string())])).unwrap();
        assert_eq!(full["endpoint"], "https://s3.eu-west-1.amazonaws.com/{key}");
    }

    #[test]
    fn checks_operator_settings() {
        let m = Manifest::parse(FS.as_bytes()).unwrap();
        let mut s = BTreeMap::new();
        assert!(m.check_config(&s).unwrap_err().contains("missing required setting `path`"));
        s.insert("pth".into(), "/x".into());
        let err = m.check_config(&s).unwrap_err();
        assert!(err.contains("unknown setting `pth`") && err.contains("valid keys: path (required)"), "{err}");
        s.clear();
        s.insert("path".into(), "/x".into());
        assert_eq!(m.check_config(&s).unwrap()["path"], "/x");
    }
}
