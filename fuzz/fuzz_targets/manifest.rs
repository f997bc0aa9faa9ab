//! Manifests: parse or fail with a message, never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(m) = warden::plugin::Manifest::parse(data) {
        assert!(!m.name.is_empty() && !m.kinds.is_empty());
    }
});
