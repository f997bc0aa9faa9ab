//! `warden quickstart`: the main job on the embedded default, end to end. Today that is a
//! round trip through the built-in fs plugin: a file is put into a local target and read
//! back, and the copy is compared byte for byte.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use sha2::{Digest, Sha256};

use warden::config::ConfigFile;
use warden::conformance::PatternReader;
use warden::target::{Body, PutOptions};

use super::Env;
use super::output;

/// The target quickstart creates when it is missing.
const DEFAULT_TARGET: &str = "local";

#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// The file to send through the plugin; by default a generated 16 MiB sample.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Where the default target keeps its objects (default: the user's data dir).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

pub async fn run(env: &Env, args: QuickstartArgs) -> anyhow::Result<ExitCode> {
    let config = ConfigFile::load(&env.config_dir)?;
    if !config.targets.contains_key(DEFAULT_TARGET) {
        let data = match args.data_dir {
            Some(d) => d,
            None => dirs::data_dir()
                .context("no data directory is known; pass --data-dir")?
                .join("warden")
                .join(DEFAULT_TARGET),
        };
        let settings = vec![("path".into(), data.display().to_string())];
        super::target_cmd::add_target(env, DEFAULT_TARGET, "fs", settings, Vec::new())?;
        eprintln!("created target `{DEFAULT_TARGET}` (built-in fs plugin) in {}", config.path().display());
    }
    let target = super::target_cmd::open(env, DEFAULT_TARGET)?;
    let work = tempfile::tempdir().context("creating a scratch directory")?;
    let source = match args.file {
        Some(f) => f,
        None => {
            let path = work.path().join("sample.bin");
            write_sample(&path, 16 << 20)?;
            path
        }
    };
    let key = format!("quickstart/{}", source.file_name().and_then(|n| n.to_str()).unwrap_or("sample"));
    let started = std::time::Instant::now();
    let meta = target.put(&key, Body::File(source.clone()), PutOptions::default()).await?;
    let put_time = started.elapsed();
    let copy = work.path().join("copy.bin");
    let started = std::time::Instant::now();
    let (info, file) = target.get(&key, None, std::fs::File::create(&copy).context("creating the copy")?).await?;
    drop(file);
    let get_time = started.elapsed();
    let same = digest(&source)? == digest(&copy)?;
    let grants = target.grants();
    let dir = grants.directories.first().map(|d| d.host_path.display().to_string()).unwrap_or_default();
    if env.json {
        output::json(&serde_json::json!({
            "target": DEFAULT_TARGET, "key": key, "bytes": meta.size, "identical": same,
            "directory": dir, "put_seconds": put_time.as_secs_f64(), "get_seconds": get_time.as_secs_f64(),
        }))?;
    } else {
        println!("put  {} as `{key}` into target `{DEFAULT_TARGET}` in {:.2?}", output::bytes(meta.size), put_time);
        println!("get  {} back in {:.2?}", output::bytes(info.length), get_time);
        println!("copy is {}", if same { "byte-identical" } else { "DIFFERENT" });
        println!("the fs plugin could reach only {dir}");
        println!("next: `warden target ls {DEFAULT_TARGET}`, `warden target show {DEFAULT_TARGET}`, `warden --help`");
    }
    Ok(if same { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn write_sample(path: &std::path::Path, size: u64) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    std::io::copy(&mut PatternReader::new(size, 1), &mut file)?;
    file.flush()?;
    Ok(())
}

fn digest(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let mut file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hash.finalize().to_vec());
        }
        hash.update(&buf[..n]);
    }
}
