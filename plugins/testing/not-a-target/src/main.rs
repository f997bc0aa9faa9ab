//! A component for another world: a plain WASI command. The host must refuse it as a plugin,
//! naming what it exports and what a target exports.
fn main() {
    println!("not a warden plugin");
}

// A valid manifest, so the host gets as far as checking what the component exports.
#[used]
#[unsafe(link_section = "warden:manifest")]
static MANIFEST: [u8; 62] = *b"name = \"not-a-target\"\nversion = \"0.1.0\"\nkinds = [\"target\"]\n\n\n\n";
#[used]
#[unsafe(link_section = "warden:api-version")]
static API_VERSION: [u8; 5] = *b"0.1.0";
