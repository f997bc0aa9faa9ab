//! Secrets at rest: credentials in the configuration file are sealed with XChaCha20-Poly1305
//! under a master key, each bound to its slot (target and setting) so a sealed value cannot be
//! moved to another slot. The master key comes from `WARDEN_MASTER_SECRET` (stretched with
//! HKDF-SHA256; use a long random value), or else from a key file created with mode 0600 in
//! the config directory on first use.
//!
//! Plaintext secrets live only in the host's memory while a target is open: they go to the
//! host-side signer, never to a plugin, a log line, an error message or `Debug` output.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::error::{Error, Result};

/// The environment variable that holds the master secret.
pub const MASTER_SECRET_ENV: &str = "WARDEN_MASTER_SECRET";
/// The key file's name in the config directory.
pub const KEY_FILE: &str = "master.key";
const SEALED_PREFIX: &str = "sealed:v1:";

/// The key that seals secrets. Its `Debug` never shows it.
pub struct MasterKey {
    key: [u8; 32],
    origin: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({}, ***)", self.origin)
    }
}

impl MasterKey {
    /// The master key: from `WARDEN_MASTER_SECRET` when set, else from (or, with `create`, a
    /// new) key file in `config_dir`.
    pub fn load(config_dir: &Path, create: bool) -> Result<MasterKey> {
        if let Ok(secret) = std::env::var(MASTER_SECRET_ENV) {
            return MasterKey::from_secret(&secret);
        }
        MasterKey::from_file(&config_dir.join(KEY_FILE), create)
    }

    /// The master key in a key file, created (mode 0600) if missing and `create` is set.
    pub fn from_file(path: &Path, create: bool) -> Result<MasterKey> {
        let path = path.to_path_buf();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim()).ok().filter(|b| b.len() == 32).ok_or_else(|| Error::ConfigFile {
                    path: path.clone(),
                    reason: "the master key file is damaged (expected 64 hex digits); restore it from a backup, or set WARDEN_MASTER_SECRET".into(),
                })?;
                let mut key = [0u8; 32];
                key.copy_from_slice(&bytes);
                Ok(MasterKey { key, origin: path.display().to_string() })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => create_key_file(&path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::ConfigFile {
                path,
                reason: format!(
                    "there is no master key to open the stored secrets; set {MASTER_SECRET_ENV} to the secret they were stored under"
                ),
            }),
            Err(e) => Err(Error::io(
                format!("reading the master key (check its permissions, or set {MASTER_SECRET_ENV})"),
                &path,
                e,
            )),
        }
    }

    /// A master key derived from a secret string.
    pub fn from_secret(secret: &str) -> Result<MasterKey> {
        if secret.len() < 16 {
            return Err(Error::ConfigFile {
                path: PathBuf::from(format!("${MASTER_SECRET_ENV}")),
                reason: "the master secret is shorter than 16 characters; use a long random value".into(),
            });
        }
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"warden master secret v1"), secret.as_bytes())
            .expand(b"secrets at rest", &mut key)
            .map_err(|_| Error::ConfigFile {
            path: PathBuf::from(MASTER_SECRET_ENV),
            reason: "key derivation failed".into(),
        })?;
        Ok(MasterKey { key, origin: format!("${MASTER_SECRET_ENV}") })
    }

    /// Seal `plaintext` for `slot` (e.g. `target/backups/secret_access_key`).
    pub fn seal(&self, slot: &str, plaintext: &str) -> String {
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        let nonce_bytes: [u8; 24] = rand::random();
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce_bytes), Payload { msg: plaintext.as_bytes(), aad: slot.as_bytes() })
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", B64.encode(out))
    }

    /// Open a value sealed for `slot`. The error never contains the value.
    pub fn open(&self, slot: &str, sealed: &str) -> Result<String> {
        let fail = |why: &str| Error::ConfigFile {
            path: PathBuf::from(&self.origin),
            reason: format!("cannot open the secret `{slot}`: {why}"),
        };
        let data = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|b| B64.decode(b).ok())
            .filter(|d| d.len() > 24)
            .ok_or_else(|| fail("it is not a sealed value (was the config file edited by hand?)"))?;
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        let plain = cipher
            .decrypt(XNonce::from_slice(&data[..24]), Payload { msg: &data[24..], aad: slot.as_bytes() })
            .map_err(|_| fail(&format!("wrong master key (it was sealed under another {MASTER_SECRET_ENV} or key file), or the value is damaged")))?;
        String::from_utf8(plain).map_err(|_| fail("it is not text"))
    }
}

/// The slot name of a target's secret setting.
pub fn slot(target: &str, key: &str) -> String {
    format!("target/{target}/{key}")
}

fn create_key_file(path: &Path) -> Result<MasterKey> {
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|e| Error::io("creating the config directory", dir, e))?;
    }
    let key: [u8; 32] = rand::random();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| Error::io("creating the master key file", path, e))?;
    file.write_all(hex::encode(key).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io("writing the master key file", path, e))?;
    tracing::info!("created a master key for stored secrets at {}; back it up", path.display());
    Ok(MasterKey { key, origin: path.display().to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_bound_to_the_slot() {
        let key = MasterKey::from_secret("a long and random master secret").unwrap();
        let sealed = key.seal("target/t/secret", "CANARY-123");
        assert!(!sealed.contains("CANARY"));
        assert_ne!(sealed, key.seal("target/t/secret", "CANARY-123"), "a fresh nonce every time");
        assert_eq!(key.open("target/t/secret", &sealed).unwrap(), "CANARY-123");
        assert!(key.open("target/u/secret", &sealed).is_err(), "bound to its slot");
        let other = MasterKey::from_secret("another long master secret...").unwrap();
        let err = other.open("target/t/secret", &sealed).unwrap_err().to_string();
        assert!(err.contains("wrong master key") && !err.contains("CANARY"), "{err}");
        assert!(!format!("{key:?}").contains(&hex::encode(key.key)));
        assert!(MasterKey::from_secret("short").is_err());
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(KEY_FILE);
        assert!(MasterKey::from_file(&file, false).is_err(), "no key, no creation");
        let a = MasterKey::from_file(&file, true).unwrap();
        let sealed = a.seal("s", "v");
        let b = MasterKey::from_file(&file, false).unwrap();
        assert_eq!(b.open("s", &sealed).unwrap(), "v");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join(KEY_FILE), "nonsense").unwrap();
        assert!(MasterKey::from_file(&file, false).unwrap_err().to_string().contains("damaged"));
    }
}
