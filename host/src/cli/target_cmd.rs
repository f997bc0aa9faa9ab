//! `warden target ...`

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use std::io::IsTerminal;

use warden::config::{ConfigFile, TargetEntry, validate_target_name};
use warden::plugin::{self, Access, Catalog};
use warden::secrets::{self, MasterKey};
use warden::target::{Body, ByteRange, PutOptions, Target};

use super::output::{self, Progress};
use super::{Env, parse_setting};

#[derive(Debug, Subcommand)]
pub enum TargetCommand {
    /// Add a target: a name for a plugin and its settings.
    ///
    /// Examples:
    ///   warden target add backups --plugin fs --set path=/srv/backups
    ///   warden target add cloud --plugin s3 --set bucket=my-backups --set region=eu-west-1 \
    ///       --secret access_key_id --secret secret_access_key
    ///
    /// A directory setting that does not exist yet is created. Secrets are read from a prompt,
    /// stdin or an environment variable, never from the command line.
    #[command(verbatim_doc_comment)]
    Add {
        /// The target's name (letters, digits, `-`, `_`).
        name: String,
        /// The plugin: a built-in or installed name (`fs`), or a path to a .wasm file.
        #[arg(long)]
        plugin: String,
        /// A setting, KEY=VALUE; repeat for several. `warden plugin inspect P` lists them.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
        settings: Vec<(String, String)>,
        /// A secret setting, read from a prompt (or one line of stdin when it is not a
        /// terminal), never from the command line; stored sealed under the master key.
        #[arg(long = "secret", value_name = "KEY")]
        secrets: Vec<String>,
        /// A secret setting read from an environment variable, KEY=VAR.
        #[arg(long = "secret-env", value_name = "KEY=VAR", value_parser = parse_setting)]
        secret_envs: Vec<(String, String)>,
    },
    /// List the configured targets.
    List,
    /// Show one target: its plugin, settings and what the plugin is granted.
    Show {
        /// The target's name.
        name: String,
    },
    /// Remove a target from the configuration (its stored objects are left alone).
    Remove {
        /// The target's name.
        name: String,
    },
    /// Check that a target is reachable and usable; exits 1 if a check fails.
    Test {
        /// The target's name.
        name: String,
    },
    /// Store a file (or stdin) under a key, replacing any object there atomically.
    Put {
        /// The target's name.
        name: String,
        /// The key: printable ASCII, `/` separating segments, at most 1024 bytes.
        key: String,
        /// The file to store; `-` or nothing reads stdin (a file can be retried, stdin cannot).
        file: Option<PathBuf>,
        /// Fail (exit 5) if the key already exists.
        #[arg(long)]
        create_only: bool,
    },
    /// Read an object into a file (or stdout). A file appears only once complete.
    Get {
        /// The target's name.
        name: String,
        /// The key.
        key: String,
        /// Where to write; `-` or nothing writes to stdout.
        file: Option<PathBuf>,
        /// Read only a byte range: OFFSET, OFFSET-END (inclusive) or OFFSET+LENGTH.
        #[arg(long, value_parser = parse_range)]
        range: Option<ByteRange>,
    },
    /// Show an object's size and modification time.
    Head {
        /// The target's name.
        name: String,
        /// The key.
        key: String,
    },
    /// List keys, in order, optionally under a prefix.
    Ls {
        /// The target's name.
        name: String,
        /// Only keys starting with this.
        #[arg(default_value = "")]
        prefix: String,
    },
    /// Remove what interrupted puts left behind (temp files of a killed `put` or backup).
    Gc {
        /// The target's name.
        name: String,
        /// Only leftovers nothing has written to for this many minutes (a put in progress
        /// keeps writing to its temp file).
        #[arg(long, default_value_t = 60, value_name = "MINUTES")]
        idle_minutes: u64,
    },
    /// Delete an object; deleting a missing key succeeds.
    Rm {
        /// The target's name.
        name: String,
        /// The key.
        key: String,
    },
}

pub async fn run(env: &Env, cmd: TargetCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TargetCommand::Add { name, plugin, settings, secrets, secret_envs } => {
            let secrets = read_secrets(&name, secrets, secret_envs)?;
            add(env, &name, &plugin, settings, secrets)
        }
        TargetCommand::List => list(env),
        TargetCommand::Show { name } => show(env, &name),
        TargetCommand::Remove { name } => remove(env, &name),
        TargetCommand::Test { name } => test(env, &name).await,
        TargetCommand::Put { name, key, file, create_only } => put(env, &name, &key, file, create_only).await,
        TargetCommand::Get { name, key, file, range } => get(env, &name, &key, file, range).await,
        TargetCommand::Head { name, key } => {
            let meta = open(env, &name)?.head(&key).await?;
            if env.json {
                output::json(&meta)?;
            } else {
                println!("key:      {}", meta.key);
                println!("size:     {} ({})", meta.size, output::bytes(meta.size));
                if let Some(ns) = meta.modified_ns {
                    println!("modified: {}", format_time(ns));
                }
                if let Some(etag) = &meta.etag {
                    println!("etag:     {etag}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TargetCommand::Ls { name, prefix } => {
            let objects = open(env, &name)?.list_all(&prefix).await?;
            if env.json {
                output::json(&objects)?;
            } else {
                for o in &objects {
                    println!("{:>12}  {}", o.size, o.key);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TargetCommand::Rm { name, key } => {
            open(env, &name)?.delete(&key).await?;
            if env.json {
                output::json(&json!({ "deleted": key }))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        TargetCommand::Gc { name, idle_minutes } => {
            let removed = open(env, &name)?.gc(std::time::Duration::from_secs(idle_minutes * 60)).await?;
            if env.json {
                output::json(&json!({ "removed": removed }))?;
            } else {
                println!("removed {removed} leftovers of interrupted puts from target `{name}`");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Open a configured target.
pub(crate) fn open(env: &Env, name: &str) -> anyhow::Result<Target> {
    let (plugin, settings) = configured(env, name)?;
    Ok(Target::open(&env.runtime, plugin, name, &settings)?)
}

/// A configured target's plugin and settings, secrets unsealed.
pub(crate) fn configured(env: &Env, name: &str) -> anyhow::Result<(warden::plugin::Plugin, BTreeMap<String, String>)> {
    let config = ConfigFile::load(&env.config_dir)?;
    let entry = config.target(name)?;
    let plugin = Catalog::load(&env.config_dir)?.resolve(&env.runtime, &entry.plugin)?;
    let mut settings = entry.settings.clone();
    if !entry.secrets.is_empty() {
        let key = MasterKey::load(&env.config_dir, false)?;
        for (k, sealed) in &entry.secrets {
            settings.insert(k.clone(), key.open(&secrets::slot(name, k), sealed)?);
        }
    }
    Ok((plugin, settings))
}

/// Read secret values: environment variables first, then prompts (or stdin lines).
fn read_secrets(
    target: &str,
    prompted: Vec<String>,
    from_env: Vec<(String, String)>,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (key, var) in from_env {
        let value =
            std::env::var(&var).with_context(|| format!("--secret-env {key}={var}: the variable {var} is not set"))?;
        out.push((key, value));
    }
    let stdin = std::io::stdin();
    for key in prompted {
        let value = if stdin.is_terminal() {
            rpassword::prompt_password(format!("{key} for target `{target}`: ")).context("reading the secret")?
        } else {
            let mut line = String::new();
            stdin.read_line(&mut line).context("reading the secret from stdin")?;
            line.trim_end_matches(['\n', '\r']).to_string()
        };
        if value.is_empty() {
            anyhow::bail!("the secret `{key}` is empty");
        }
        out.push((key, value));
    }
    Ok(out)
}

/// Add a target to the configuration, creating its read-write directories.
pub(crate) fn add_target(
    env: &Env,
    name: &str,
    plugin_name: &str,
    settings: Vec<(String, String)>,
    secret_values: Vec<(String, String)>,
) -> anyhow::Result<TargetEntry> {
    validate_target_name(name)?;
    let mut config = ConfigFile::load(&env.config_dir)?;
    if config.targets.contains_key(name) {
        return Err(warden::Error::TargetExists { name: name.to_string() }.into());
    }
    let catalog = Catalog::load(&env.config_dir)?;
    let plugin = catalog.resolve(&env.runtime, plugin_name)?;
    let schema = &plugin.manifest().config;
    let is_secret = |k: &str| schema.get(k).is_some_and(|c| c.secret);
    if let Some((k, _)) = settings.iter().find(|(k, _)| is_secret(k)) {
        anyhow::bail!(
            "`{k}` is a secret: pass it with --secret {k} (prompt or stdin) or --secret-env {k}=VAR, never on the command line"
        );
    }
    if let Some((k, _)) = secret_values.iter().find(|(k, _)| !is_secret(k)) {
        anyhow::bail!("`{k}` is not a secret setting of plugin `{}`; pass it with --set", plugin.name());
    }
    let mut settings: BTreeMap<String, String> = settings.into_iter().collect();
    // Directory settings are stored absolute, and read-write ones are created.
    for request in &plugin.manifest().capabilities.directories {
        if let Some(value) = settings.get_mut(&request.config) {
            let path = absolute(Path::new(value))?;
            if request.access == Access::ReadWrite && !path.exists() {
                std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
            }
            *value = path.display().to_string();
        }
    }
    // Fail now, not at first use, if the settings do not fit.
    let mut all = settings.clone();
    all.extend(secret_values.iter().cloned());
    Target::open(&env.runtime, plugin.clone(), name, &all)?;
    let mut sealed = BTreeMap::new();
    if !secret_values.is_empty() {
        let key = MasterKey::load(&env.config_dir, true)?;
        for (k, v) in &secret_values {
            sealed.insert(k.clone(), key.seal(&secrets::slot(name, k), v));
        }
    }
    // A plugin given as a file is recorded by absolute path; names stay names.
    let by_name = plugin::builtin::get(plugin_name).is_some() || catalog.installed().contains_key(plugin_name);
    let plugin_ref =
        if by_name { plugin_name.to_string() } else { absolute(Path::new(plugin_name))?.display().to_string() };
    let entry = TargetEntry { plugin: plugin_ref, settings, secrets: sealed };
    config.targets.insert(name.to_string(), entry.clone());
    config.save()?;
    Ok(entry)
}

fn add(
    env: &Env,
    name: &str,
    plugin_name: &str,
    settings: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
) -> anyhow::Result<ExitCode> {
    let entry = add_target(env, name, plugin_name, settings, secrets)?;
    if env.json {
        let secrets: BTreeMap<&String, &str> = entry.secrets.keys().map(|k| (k, "***")).collect();
        output::json(&json!({ "name": name, "plugin": entry.plugin, "settings": entry.settings, "secrets": secrets }))?;
    } else {
        println!("added target `{name}` (plugin {}); check it with `warden target test {name}`", entry.plugin);
    }
    Ok(ExitCode::SUCCESS)
}

fn list(env: &Env) -> anyhow::Result<ExitCode> {
    let config = ConfigFile::load(&env.config_dir)?;
    if env.json {
        let shown: BTreeMap<&String, serde_json::Value> = config
            .targets
            .iter()
            .map(|(name, t)| {
                let secrets: BTreeMap<&String, &str> = t.secrets.keys().map(|k| (k, "***")).collect();
                (name, json!({ "plugin": t.plugin, "settings": t.settings, "secrets": secrets }))
            })
            .collect();
        output::json(&shown)?;
    } else if config.targets.is_empty() {
        println!("no targets yet; add one with `warden target add NAME --plugin fs --set path=DIR`");
    } else {
        for (name, entry) in &config.targets {
            let settings: Vec<String> = entry.settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("{name}\t{}\t{}", entry.plugin, settings.join(" "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(env: &Env, name: &str) -> anyhow::Result<ExitCode> {
    let config = ConfigFile::load(&env.config_dir)?;
    let entry = config.target(name)?;
    let target = open(env, name)?;
    if env.json {
        output::json(&json!({
            "name": name,
            "plugin": entry.plugin,
            "plugin_version": target.plugin().manifest().version,
            "settings": entry.settings,
            "secrets": entry.secrets.keys().map(|k| (k.clone(), "***")).collect::<BTreeMap<_, _>>(),
            "granted": target.grants(),
        }))?;
    } else {
        println!("target:   {name}");
        println!("plugin:   {} {} ({})", target.plugin().name(), target.plugin().manifest().version, entry.plugin);
        for (k, v) in &entry.settings {
            println!("setting:  {k} = {v}");
        }
        for k in entry.secrets.keys() {
            println!("secret:   {k} = *** (sealed under the master key)");
        }
        for dir in &target.grants().directories {
            println!("grant:    directory {} ({:?}) as `{}`", dir.host_path.display(), dir.access, dir.config_key);
        }
        for h in &target.grants().http {
            let signed = if h.signed { " (signed by the host)" } else { "" };
            println!("grant:    HTTP to {}{signed} as `{}`", h.endpoint, h.config_key);
        }
        println!("grant:    nothing else (no other hosts, no environment, no other files)");
    }
    Ok(ExitCode::SUCCESS)
}

fn remove(env: &Env, name: &str) -> anyhow::Result<ExitCode> {
    let mut config = ConfigFile::load(&env.config_dir)?;
    config.target(name)?;
    config.targets.remove(name);
    config.save()?;
    if env.json {
        output::json(&json!({ "removed": name }))?;
    } else {
        println!("removed target `{name}`; its stored objects were not touched");
    }
    Ok(ExitCode::SUCCESS)
}

async fn test(env: &Env, name: &str) -> anyhow::Result<ExitCode> {
    let checks = open(env, name)?.test_connection().await?;
    let ok = checks.iter().all(|c| c.ok);
    if env.json {
        output::json(&json!({ "target": name, "ok": ok, "checks": checks }))?;
    } else {
        for c in &checks {
            println!("{} {}: {}", if c.ok { "ok  " } else { "FAIL" }, c.name, c.detail);
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn put(env: &Env, name: &str, key: &str, file: Option<PathBuf>, create_only: bool) -> anyhow::Result<ExitCode> {
    let target = open(env, name)?;
    let (body, total) = match file {
        Some(path) if path.as_os_str() != "-" => {
            let meta = std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
            if !meta.is_file() {
                anyhow::bail!("{} is not a regular file", path.display());
            }
            (Body::File(path), Some(meta.len()))
        }
        _ => (Body::Reader(Box::new(std::io::stdin())), None),
    };
    let counter = Arc::new(AtomicU64::new(0));
    let progress = Progress::start(!env.json, &format!("put {key}"), total, counter.clone());
    let options = PutOptions { create_only, ..Default::default() };
    let result = target.put_progress(key, body, options, Some(counter)).await;
    progress.finish();
    let meta = result?;
    if env.json {
        output::json(&meta)?;
    } else {
        eprintln!("stored `{}` ({}) in target `{name}`", meta.key, output::bytes(meta.size));
    }
    Ok(ExitCode::SUCCESS)
}

async fn get(
    env: &Env,
    name: &str,
    key: &str,
    file: Option<PathBuf>,
    range: Option<ByteRange>,
) -> anyhow::Result<ExitCode> {
    let target = open(env, name)?;
    let total = match range {
        Some(_) => None,
        None => Some(target.head(key).await?.size),
    };
    let counter = Arc::new(AtomicU64::new(0));
    match file {
        Some(path) if path.as_os_str() != "-" => {
            // Write beside the destination and rename at the end: a failed get leaves no
            // partial file, and an existing file is replaced only by a complete copy.
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let temp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("creating a file in {}", dir.display()))?;
            let sink = CountingSink { inner: BufWriter::with_capacity(1 << 20, temp), counter: counter.clone() };
            let progress = Progress::start(!env.json, &format!("get {key}"), total, counter);
            let result = target.get(key, range, sink).await;
            progress.finish();
            let (info, sink) = result?;
            let temp = sink.inner.into_inner().map_err(|e| e.into_error()).context("writing the file")?;
            temp.as_file().sync_all().context("syncing the file")?;
            temp.persist(&path).with_context(|| format!("moving the file into place at {}", path.display()))?;
            if env.json {
                output::json(&info)?;
            } else {
                eprintln!("wrote {} to {}", output::bytes(info.length), path.display());
            }
        }
        _ => {
            let sink =
                CountingSink { inner: BufWriter::with_capacity(1 << 20, std::io::stdout()), counter: counter.clone() };
            let progress = Progress::start(!env.json, &format!("get {key}"), total, counter);
            let result = target.get(key, range, sink).await;
            progress.finish();
            let (_, mut sink) = result?;
            sink.flush().context("writing to stdout")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A writer that counts bytes for the progress bar.
struct CountingSink<W> {
    inner: W,
    counter: Arc<AtomicU64>,
}

impl<W: Write> Write for CountingSink<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.counter.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn parse_range(s: &str) -> Result<ByteRange, String> {
    let number = |t: &str| t.trim().parse::<u64>().map_err(|_| format!("{t:?} is not a byte count"));
    if let Some((a, b)) = s.split_once('-') {
        let (start, end) = (number(a)?, number(b)?);
        if end < start {
            return Err(format!("the range {s} ends before it starts"));
        }
        Ok(ByteRange { offset: start, length: Some(end - start + 1) })
    } else if let Some((a, b)) = s.split_once('+') {
        Ok(ByteRange { offset: number(a)?, length: Some(number(b)?) })
    } else {
        Ok(ByteRange { offset: number(s)?, length: None })
    }
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}

fn format_time(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        assert_eq!(parse_range("10").unwrap(), ByteRange { offset: 10, length: None });
        assert_eq!(parse_range("10-19").unwrap(), ByteRange { offset: 10, length: Some(10) });
        assert_eq!(parse_range("10+5").unwrap(), ByteRange { offset: 10, length: Some(5) });
        assert!(parse_range("9-1").is_err());
        assert!(parse_range("x").is_err());
    }

    #[test]
    fn times_format() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_764_115_200 * 1_000_000_000), "2025-11-26 00:00:00 UTC");
    }
}
