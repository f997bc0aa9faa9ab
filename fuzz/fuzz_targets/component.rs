//! The component pre-parser (custom sections read before anything compiles): any bytes, no
//! panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = warden::plugin::read_sections("fuzzed", data);
});
