//! Bounded fuzzing on the stable toolchain, run by the test suite: mutated and random inputs
//! for key validation and mapping, manifest parsing and the component pre-parser, each for a
//! bounded number of cases (`WARDEN_FUZZ_CASES`, default 20,000) from a seed that changes
//! every run (`WARDEN_FUZZ_SEED` replays one). Properties, not just "no panic": a valid key
//! maps to a path inside the directory and back to itself. The coverage-guided cargo-fuzz
//! targets for the same three inputs live in `fuzz/` (nightly).

#[path = "../../sdk-guest/src/keymap.rs"]
#[allow(dead_code)]
mod keymap;
mod support;

use warden::plugin::{Manifest, read_sections};
use warden::target::key;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn cases() -> usize {
    std::env::var("WARDEN_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000)
}

fn seeded(name: &str) -> Rng {
    let seed = std::env::var("WARDEN_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    });
    eprintln!("{name}: WARDEN_FUZZ_SEED={seed}");
    Rng(seed | 1)
}

/// Mutate `input`: flip, insert, delete, duplicate or splice in interesting bytes.
fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    const INTERESTING: &[&[u8]] = &[b"/", b"..", b".", b"%2e", b"\0", b"\\", b"//", b"\xff", b"\xc3\xa9", b"~", b" "];
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(out.len() + 1);
                out.insert(i, rng.next() as u8);
            }
            2 if !out.is_empty() => {
                let i = rng.below(out.len());
                out.remove(i);
            }
            3 if !out.is_empty() => {
                let (a, b) = (rng.below(out.len()), rng.below(out.len()));
                let (a, b) = (a.min(b), a.max(b));
                let piece = out[a..b].to_vec();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, piece);
            }
            4 => {
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                let at = rng.below(out.len() + 1);
                out.splice(at..at, piece.iter().copied());
            }
            _ => out.truncate(rng.below(out.len() + 1)),
        }
    }
    out
}

#[test]
fn keys_validate_and_map_inside_the_directory_injectively() {
    let mut rng = seeded("keys");
    let long = format!("_4/{}", " ".repeat(100));
    let seeds: [&[u8]; 7] =
        [b"data/ab/abcdef", b"a/./b", b"../etc/passwd", b".hidden/x", b"a b/c%2e", b"config", long.as_bytes()];
    for _ in 0..cases() {
        let seed = seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed);
        let Ok(text) = std::str::from_utf8(&input) else { continue };
        if key::validate(text).is_err() {
            continue;
        }
        // A valid key whose segment would encode past 255 bytes (a file name's limit) is
        // refused cleanly; cargo-fuzz found one, so the seeds below carry a long segment.
        let Ok(path) = keymap::encode(text) else {
            assert!(text.split('/').any(|s| s.len() > 80), "{text:?} was refused though every segment is short");
            continue;
        };
        assert!(!path.starts_with('/'), "{text:?} -> {path:?} is absolute");
        for segment in path.split('/') {
            assert!(!segment.is_empty() && segment != "." && segment != "..", "{text:?} -> {path:?}");
            assert!(!segment.starts_with('.'), "{text:?} -> {path:?} could collide with temp files");
        }
        assert_eq!(keymap::decode(&path).as_deref(), Some(text), "{text:?} -> {path:?} does not map back");
    }
}

#[test]
fn manifests_parse_or_fail_cleanly() {
    let mut rng = seeded("manifests");
    let seeds: [&[u8]; 3] = [
        include_bytes!("../../plugins/fs/warden.toml"),
        include_bytes!("../../plugins/s3/warden.toml"),
        b"name = \"t\"\nversion = \"1\"\nkinds = [\"target\"]\n",
    ];
    for _ in 0..cases() {
        let seed = seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed);
        if let Ok(m) = Manifest::parse(&input) {
            // What parses is valid: a name the host accepts and at least one kind.
            assert!(!m.name.is_empty() && !m.kinds.is_empty());
        }
    }
}

#[test]
fn the_component_pre_parser_never_panics_on_damaged_bytes() {
    let mut rng = seeded("components");
    let plugin = std::fs::read(support::test_plugin("warden_plugin_null_sink")).unwrap();
    // Mutate near the start (headers, section sizes) more than deep inside code.
    for _ in 0..cases() / 10 {
        let cut = rng.below(plugin.len().min(4096)) + 1;
        let mut bytes = mutate(&mut rng, &plugin[..cut]);
        if rng.below(2) == 0 {
            bytes.extend_from_slice(&plugin[cut..]);
        }
        let _ = read_sections("fuzzed", &bytes);
    }
    for _ in 0..cases() / 10 {
        let len = rng.below(512);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if rng.below(2) == 0 {
            bytes.splice(0..0, *b"\0asm\x0d\0\x01\0");
        }
        let _ = read_sections("random", &bytes);
    }
}
