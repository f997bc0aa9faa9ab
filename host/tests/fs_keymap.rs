//! The SDK's key mapping (used by the fs plugin and the s3 plugin's safe keys), compiled
//! natively here too.

#[path = "../../sdk-guest/src/keymap.rs"]
#[allow(dead_code)]
mod keymap;
