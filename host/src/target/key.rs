//! Key validation: the host checks every key before any plugin sees it.

use crate::error::{Error, Result};

/// The longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Check a key: 1 to [`MAX_KEY_BYTES`] bytes of printable ASCII (0x20-0x7e), `/` separating
/// segments. Mapping a valid key to storage safely and injectively is the plugin's job.
pub fn validate(key: &str) -> Result<()> {
    let refuse = |reason: String| Err(Error::InvalidKey { key: key.chars().take(80).collect(), reason });
    if key.is_empty() {
        return refuse("a key cannot be empty".into());
    }
    if key.len() > MAX_KEY_BYTES {
        return refuse(format!("it is {} bytes; keys are at most {MAX_KEY_BYTES}", key.len()));
    }
    if let Some((i, b)) = key.bytes().enumerate().find(|(_, b)| !(0x20..=0x7e).contains(b)) {
        return refuse(format!(
            "byte {i} is 0x{b:02x}; keys are printable ASCII (0x20-0x7e), without control characters"
        ));
    }
    Ok(())
}

/// Check a listing prefix: like a key, but it may be empty.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() { Ok(()) } else { validate(prefix) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_printable_ascii_key() {
        let all: String = (0x20u8..=0x7e).map(char::from).collect();
        validate(&all).unwrap();
        validate("../../etc/passwd").unwrap(); // safe mapping is the plugin's job, tested there
        validate(&"k".repeat(MAX_KEY_BYTES)).unwrap();
    }

    #[test]
    fn refuses_empty_control_long_and_non_ascii_keys() {
        for bad in ["", "a\nb", "a\0b", "tab\there", "\u{7f}", "é", "\u{1b}[31m"] {
            assert!(matches!(validate(bad), Err(Error::InvalidKey { .. })), "{bad:?}");
        }
        assert!(validate(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
        validate_prefix("").unwrap();
    }
}
