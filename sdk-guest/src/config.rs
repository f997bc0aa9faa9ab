//! The operator's settings, as a plugin receives them.

use std::str::FromStr;

use crate::types::{Error, Result};

/// The target's settings (non-secret values only), with typed getters whose errors name the
/// setting. The host has already checked them against the manifest's `[config]` schema
/// (unknown keys refused, required keys present, defaults filled in).
///
/// ```
/// # use warden_sdk::Config;
/// let config = Config::from_pairs([("path", "/srv"), ("parts", "4")]);
/// assert_eq!(config.require("path").unwrap(), "/srv");
/// assert_eq!(config.parse::<u32>("parts").unwrap(), Some(4));
/// assert!(config.require("bucket").is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pairs: Vec<(String, String)>,
}

impl Config {
    /// Settings from key/value pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Config { pairs: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The value of `key`, or [`Error::InvalidInput`] naming it.
    pub fn require(&self, key: &str) -> Result<&str> {
        self.get(key).ok_or_else(|| {
            Error::invalid_input(format!("the setting `{key}` is required; add it with `--set {key}=...`"))
        })
    }

    /// The value of `key` parsed as `T`, `None` if unset, [`Error::InvalidInput`] naming the
    /// setting and the value if it does not parse.
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse::<T>().map(Some).map_err(|_| {
                Error::invalid_input(format!(
                    "the setting `{key}` is {v:?}, which is not a valid {}",
                    std::any::type_name::<T>().rsplit("::").next().unwrap_or("value")
                ))
            }),
        }
    }

    /// [`Config::parse`] for a required setting.
    pub fn require_parse<T: FromStr>(&self, key: &str) -> Result<T> {
        self.require(key)?;
        self.parse(key).map(|v| v.expect("checked above"))
    }

    /// A boolean setting (`true`/`false`, `yes`/`no`, `1`/`0`), `default` if unset.
    pub fn flag(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "yes" | "1" | "on") => Ok(true),
            Some("false" | "no" | "0" | "off") => Ok(false),
            Some(v) => Err(Error::invalid_input(format!("the setting `{key}` is {v:?}; use true or false"))),
        }
    }

    /// Every setting, in the order the host sent them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_getters_name_the_setting() {
        let c = Config::from_pairs([("n", "x"), ("on", "yes")]);
        let err = c.parse::<u64>("n").unwrap_err().to_string();
        assert!(err.contains("`n`") && err.contains("\"x\"") && err.contains("u64"), "{err}");
        assert!(c.flag("on", false).unwrap());
        assert!(!c.flag("missing", false).unwrap());
        assert!(c.require_parse::<u64>("missing").unwrap_err().to_string().contains("--set missing="));
    }
}
