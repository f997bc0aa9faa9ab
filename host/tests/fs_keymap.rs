//! The fs plugin's key mapping, compiled natively so its unit tests run here (the plugin
//! crate itself only builds for wasm32-wasip2).

#[path = "../../plugins/fs/src/keymap.rs"]
#[allow(dead_code)]
mod keymap;
