//! `warden quickstart`: the main job on the embedded default, end to end. It backs up a
//! directory (a generated sample unless `--source` names one) into the default repository on
//! the built-in fs plugin, restores the snapshot somewhere else, and checks that the copy is
//! identical: every file byte for byte, every link's target.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use sha2::{Digest, Sha256};

use warden::conformance::PatternReader;

use super::repo_cmd::{self, RepoArgs};
use super::{Env, output};

#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// The directory to back up; by default a generated sample (big and small files, a
    /// duplicate, a link) kept in the data directory, so a second run shows what is skipped.
    #[arg(long, value_name = "DIR")]
    source: Option<PathBuf>,
    /// Where the repository, its password file, the sample and the restored copy go
    /// (default: `warden` in the user's data directory).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

pub async fn run(env: &Env, args: QuickstartArgs) -> anyhow::Result<ExitCode> {
    let data = match args.data_dir {
        Some(d) => std::path::absolute(d)?,
        None => repo_cmd::default_data_dir()?,
    };
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let repo_dir = data.join("repository");
    let password_file = repo_cmd::ensure_password_file(&data.join("repository.password"))?;
    let repo = RepoArgs { repo: Some(repo_dir.display().to_string()), password_file: Some(password_file.clone()) };
    let source = match args.source {
        Some(s) => std::path::absolute(s)?,
        None => {
            let sample = data.join("quickstart-sample");
            write_sample(&sample)?;
            sample
        }
    };
    let created = repo_cmd::init_if_missing(env, &repo).await?;
    let backup =
        repo_cmd::backup_report(env, &repo, vec![source.clone()], Default::default(), &repo_cmd::PluginChoice::fs())
            .await?;
    let id = backup.snapshot.id.to_hex().to_string();
    let restored = data.join("restored").join(&id[..8]);
    if restored.exists() {
        std::fs::remove_dir_all(&restored).with_context(|| format!("clearing {}", restored.display()))?;
    }
    let restore =
        repo_cmd::restore_report(env, &repo, id.clone(), restored.clone(), &repo_cmd::PluginChoice::fs(), false)
            .await?;
    // The snapshot holds the source under its absolute path.
    let copy = restored.join(source.strip_prefix("/").unwrap_or(&source));
    let differences = compare(&source, &copy)?;
    let summary = backup.snapshot.summary.clone().unwrap_or_default();
    if env.json {
        output::json(&serde_json::json!({
            "repository": repo_dir, "password_file": password_file, "created": created, "snapshot": id,
            "source": source, "restored": copy, "identical": differences.is_empty(), "differences": differences,
            "files_new": summary.files_new, "files_changed": summary.files_changed,
            "files_unmodified": summary.files_unmodified, "bytes_added": summary.data_added,
            "backup_failures": backup.failures, "restore_failures": restore.failures,
        }))?;
    } else {
        if created {
            println!("created the default repository in {}", repo_dir.display());
            println!("its password is in {} (keep a copy: without it nothing can be read)", password_file.display());
        }
        println!(
            "backed up {} into snapshot {}: {} files new, {} changed, {} unchanged, {} added",
            source.display(),
            &id[..8],
            summary.files_new,
            summary.files_changed,
            summary.files_unmodified,
            output::bytes(summary.data_added)
        );
        println!("restored it into {} ({} files, {})", copy.display(), restore.files, output::bytes(restore.bytes));
        if differences.is_empty() {
            println!("the copy is identical to the source");
        } else {
            for d in &differences {
                println!("DIFFERENT: {d}");
            }
        }
        println!(
            "the plugins could reach only {}, {} and {}",
            source.display(),
            repo_dir.display(),
            restored.display()
        );
        println!(
            "next: `warden snapshots`, `warden backup DIR`, `warden restore latest DEST` (the default repository and its password file are used when --repo is not given)"
        );
    }
    let ok = differences.is_empty() && backup.failures.is_empty() && restore.failures.is_empty();
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// A small tree with the shapes a backup meets: a big file, many small ones, a duplicate, an
/// empty file, a nested directory and a link. Written once; kept as is afterwards.
fn write_sample(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let tmp = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("docs/notes"))?;
    write_pattern(&tmp.join("big.bin"), 16 << 20, 1)?;
    write_pattern(&tmp.join("big-copy.bin"), 16 << 20, 1)?;
    for i in 0..200u64 {
        write_pattern(&tmp.join(format!("docs/notes/note-{i:03}.txt")), 100 + i * 37, i + 2)?;
    }
    std::fs::write(tmp.join("docs/empty"), b"")?;
    #[cfg(unix)]
    std::os::unix::fs::symlink("docs/notes/note-000.txt", tmp.join("latest-note"))?;
    std::fs::rename(&tmp, dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(())
}

fn write_pattern(path: &Path, size: u64, seed: u64) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    std::io::copy(&mut PatternReader::new(size, seed), &mut file)?;
    file.flush()?;
    Ok(())
}

/// What differs between two trees: missing or extra entries, other content, other link
/// targets. Empty when they are identical.
pub(crate) fn compare(a: &Path, b: &Path) -> anyhow::Result<Vec<String>> {
    let left = tree(a)?;
    let right = tree(b)?;
    let mut out = Vec::new();
    for (path, l) in &left {
        match right.get(path) {
            None => out.push(format!("{} is missing from the copy", path.display())),
            Some(r) if r != l => out.push(format!("{} differs", path.display())),
            Some(_) => {}
        }
    }
    for path in right.keys().filter(|p| !left.contains_key(*p)) {
        out.push(format!("{} is only in the copy", path.display()));
    }
    Ok(out)
}

/// Each entry below `root`: a digest for files, the target for links, nothing for directories.
fn tree(root: &Path) -> anyhow::Result<BTreeMap<PathBuf, String>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            let rel = path.strip_prefix(root)?.to_path_buf();
            let meta = std::fs::symlink_metadata(&path)?;
            let value = if meta.is_symlink() {
                format!("link:{}", std::fs::read_link(&path)?.display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                "dir".to_string()
            } else {
                format!("file:{}", hex::encode(digest(&path)?))
            };
            out.insert(rel, value);
        }
    }
    Ok(out)
}

fn digest(path: &Path) -> anyhow::Result<Vec<u8>> {
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
