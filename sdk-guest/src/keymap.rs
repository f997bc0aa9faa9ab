//! An injective, escape-proof mapping from keys to relative paths, for backends with a
//! filesystem's rules (the fs plugin; S3 servers backed by a filesystem, such as MinIO).
//!
//! Each `/`-separated segment is encoded on its own: letters, digits, `-`, `_` and `.` stand
//! for themselves, except a leading `.` (so no segment is `.`, `..` or a hidden temp name);
//! every other byte becomes `%XX` (upper-case hex), and an empty segment becomes `%` alone.
//! Decoding accepts only names this encoding produces, so two names never decode to one key.

/// The longest encoded segment: most filesystems cap a name at 255 bytes.
const MAX_SEGMENT: usize = 255;

/// Encode a key into a relative path (segments joined by `/`).
pub fn encode(key: &str) -> Result<String, String> {
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    let mut out = String::with_capacity(key.len() + 8);
    for (i, segment) in key.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let start = out.len();
        encode_segment(segment, &mut out)?;
        if out.len() - start > MAX_SEGMENT {
            return Err(format!(
                "key `{key}`: a segment encodes to more than {MAX_SEGMENT} bytes, more than a file name can hold"
            ));
        }
    }
    Ok(out)
}

fn encode_segment(segment: &str, out: &mut String) -> Result<(), String> {
    if segment.is_empty() {
        out.push('%');
        return Ok(());
    }
    for (i, b) in segment.bytes().enumerate() {
        if !(0x20..=0x7e).contains(&b) {
            return Err(format!("the key has byte 0x{b:02x}, which is not printable ASCII"));
        }
        let plain = b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(())
}

/// Decode one file or directory name, or `None` if the encoding would never produce it.
pub fn decode_segment(name: &str) -> Option<String> {
    if name == "%" {
        return Some(String::new());
    }
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = name.get(i + 1..i + 3)?;
            if hex.bytes().any(|c| c.is_ascii_lowercase()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()? as char);
            i += 3;
        } else {
            out.push(bytes[i] as char);
            i += 1;
        }
    }
    // Canonical form only: re-encoding must give the same name back.
    let mut again = String::new();
    encode_segment(&out, &mut again).ok()?;
    (again == name).then_some(out)
}

/// Decode a whole path (segments joined by `/`), or `None` if any segment is not one the
/// encoding produces.
pub fn decode(path: &str) -> Option<String> {
    let segments: Option<Vec<String>> = path.split('/').map(decode_segment).collect();
    Some(segments?.join("/"))
}

/// Split an encoded path into its parent directory (if any) and its last segment.
pub fn split_parent(path: &str) -> (Option<&str>, &str) {
    match path.rfind('/') {
        Some(i) => (Some(&path[..i]), &path[i + 1..]),
        None => (None, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys_map_to_themselves() {
        assert_eq!(encode("data/ab/abcdef0123").unwrap(), "data/ab/abcdef0123");
        assert_eq!(encode("config").unwrap(), "config");
        assert_eq!(encode("a.b/c_d-e").unwrap(), "a.b/c_d-e");
    }

    #[test]
    fn dangerous_segments_are_escaped() {
        assert_eq!(encode("../../x").unwrap(), "%2E./%2E./x");
        assert_eq!(encode("a/./b").unwrap(), "a/%2E/b");
        assert_eq!(encode("%2e%2e").unwrap(), "%252e%252e");
        assert_eq!(encode("a/").unwrap(), "a/%");
        assert_eq!(encode("/a").unwrap(), "%/a");
        assert_eq!(encode("a//b").unwrap(), "a/%/b");
        assert_eq!(encode(".warden-tmp-1").unwrap(), "%2Ewarden-tmp-1");
    }

    #[test]
    fn every_printable_byte_round_trips() {
        for b in 0x20u8..=0x7e {
            let seg = format!("x{}y", b as char);
            if b == b'/' {
                continue;
            }
            let enc = encode(&seg).unwrap();
            assert!(!enc.contains('/'));
            assert_eq!(decode_segment(&enc).as_deref(), Some(seg.as_str()), "byte {b:#x}");
            let lead = (b as char).to_string();
            let enc = encode(&lead).unwrap();
            assert!(!enc.starts_with('.'));
            assert_eq!(decode_segment(&enc).as_deref(), Some(lead.as_str()), "byte {b:#x}");
        }
    }

    #[test]
    fn whole_paths_round_trip() {
        for key in ["a", "a/b", "../x", "x/", "/lead", "y//z", "%2e", "a b/~c"] {
            assert_eq!(decode(&encode(key).unwrap()).as_deref(), Some(key), "{key}");
        }
        assert_eq!(decode("a/%2d"), None);
    }

    #[test]
    fn non_canonical_names_are_not_keys() {
        assert_eq!(decode_segment("%2d"), None); // "-" is written plain
        assert_eq!(decode_segment("%2e"), None); // lower-case hex
        assert_eq!(decode_segment(".hidden"), None);
        assert_eq!(decode_segment("a b"), None);
        assert_eq!(decode_segment("%4"), None);
        assert_eq!(decode_segment("%"), Some(String::new()));
    }

    #[test]
    fn control_bytes_and_long_segments_are_refused() {
        assert!(encode("a\nb").is_err());
        assert!(encode("").is_err());
        assert!(encode(&"x".repeat(256)).is_err());
        assert!(encode(&"x".repeat(255)).is_ok());
    }
}
