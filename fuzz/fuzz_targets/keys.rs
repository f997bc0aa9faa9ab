//! Keys: the host's validation, then the SDK's mapping to paths — refused cleanly (a segment
//! a file name cannot hold), or inside the directory, never a temp file's name, and back to
//! the same key.
#![no_main]

#[path = "../../sdk-guest/src/keymap.rs"]
#[allow(dead_code)]
mod keymap;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if warden::target::key::validate(text).is_err() {
        return;
    }
    // A valid key whose segment would encode past 255 bytes is refused (invalid-input).
    let Ok(path) = keymap::encode(text) else { return };
    assert!(!path.starts_with('/'));
    for segment in path.split('/') {
        assert!(!segment.is_empty() && segment != "." && segment != ".." && !segment.starts_with('.'));
    }
    assert_eq!(keymap::decode(&path).as_deref(), Some(text));
});
