//! A component for another world: a plain WASI command. The host must refuse it as a plugin,
//! naming what it exports and what a target exports.
fn main() {
    println!("not a warden plugin");
}
