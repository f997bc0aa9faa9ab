//! restic's file encryption (AES-256-CTR with Poly1305-AES: nonce, ciphertext, tag) and key
//! derivation, for the files rustic_core does not write the way restic does: locks, and keys
//! with restic's scrypt cost.

use aes256ctr_poly1305aes::Aes256CtrPoly1305Aes;
use aes256ctr_poly1305aes::aead::{Aead, AeadInPlace, Nonce};
use rustic_core::repofile::MasterKey;

/// restic's scrypt parameters for new keys: N = 2^15, r = 8, p = 1 (32 MiB to open; rustic_core
/// uses 2^17, 128 MiB).
pub(crate) const RESTIC_LOG_N: u8 = 15;

/// A master key as the 64 bytes restic's cipher takes: encryption key, then the MAC's k and r.
pub(crate) fn key_bytes(key: &MasterKey) -> [u8; 64] {
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(&key.encrypt);
    bytes[32..48].copy_from_slice(&key.mac.k);
    bytes[48..].copy_from_slice(&key.mac.r);
    bytes
}

fn cipher(key: &[u8; 64]) -> Aes256CtrPoly1305Aes {
    Aes256CtrPoly1305Aes::new(key.into())
}

/// Encrypt as restic does: a random nonce, the ciphertext, the tag.
pub(crate) fn encrypt(key: &[u8; 64], plain: &[u8]) -> Vec<u8> {
    let mut nonce = Nonce::<Aes256CtrPoly1305Aes>::default();
    rand::fill(nonce.as_mut_slice());
    let mut out = Vec::with_capacity(plain.len() + 32);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plain);
    let tag = cipher(key).encrypt_in_place_detached(&nonce, &[], &mut out[16..]).expect("encryption of a small buffer");
    out.extend_from_slice(&tag);
    out
}

/// Decrypt and authenticate; `None` if the data is damaged or the key is another.
pub(crate) fn decrypt(key: &[u8; 64], data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 32 {
        return None;
    }
    cipher(key).decrypt(Nonce::<Aes256CtrPoly1305Aes>::from_slice(&data[..16]), &data[16..]).ok()
}

/// The key a password opens, by restic's derivation (scrypt into 64 bytes).
pub(crate) fn derive(password: &str, salt: &[u8], log_n: u8) -> [u8; 64] {
    let params = scrypt::Params::new(log_n, 8, 1).expect("restic's scrypt parameters are valid");
    let mut out = [0u8; 64];
    scrypt::scrypt(password.as_bytes(), salt, &params, &mut out).expect("64 bytes is a valid scrypt output length");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage_or_another_key() {
        let key = key_bytes(&MasterKey::new());
        let plain = br#"{"time":"2026-01-01T00:00:00Z","exclusive":true}"#;
        let sealed = encrypt(&key, plain);
        assert_eq!(decrypt(&key, &sealed).as_deref(), Some(&plain[..]));
        let mut damaged = sealed.clone();
        damaged[20] ^= 1;
        assert_eq!(decrypt(&key, &damaged), None);
        assert_eq!(decrypt(&key_bytes(&MasterKey::new()), &sealed), None);
    }
}
