//! Repository commands: `init`, `backup`, `snapshots`, `ls`, `restore`, `check`.
//!
//! A repository is named by `--repo`: a configured target (`NAME`, or `NAME:PREFIX` for a
//! repository under a key prefix), a directory (`/srv/backup`, `./repo`, `fs:///srv/backup`),
//! or nothing for the default repository in the user's data directory.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use warden::engine::{
    self, BackupOptions, BackupReport, EngineOptions, KeepPolicy, Repo, RepoFiles, RestoreReport, StoreBackend,
    TargetBackend,
};
use warden::exporter::Exporter;
use warden::importer::Importer;
use warden::plugin::{Catalog, Kind};
use warden::store::Store;
use warden::target::Target;

use super::{Env, output};

/// Where the repository is and how to open it (the global `--repo` and `--password-file`).
#[derive(Debug, Clone, Default)]
pub struct RepoArgs {
    /// The repository as given, or `None` for the default.
    pub repo: Option<String>,
    /// The password file, if given.
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Create a repository (restic's format: restic and rustic can read it too).
    ///
    /// The password comes from --password-file, WARDEN_PASSWORD or a prompt. Without it
    /// nothing in the repository can be read: keep it safe.
    Init,
    /// Back up directories (or stdin) into a new snapshot.
    ///
    /// Examples:
    ///   warden backup ~/Documents ~/Pictures --exclude '*.tmp'
    ///   warden backup --repo offsite --tag nightly /srv/data
    ///   pg_dump db | warden backup --stdin --stdin-filename db.sql
    ///
    /// Each path is read by the importer plugin (the built-in fs plugin by default), which
    /// can only read that path. Files that did not change since the last snapshot of the same
    /// paths are not read again. Exits 7 if some files could not be read (the snapshot is
    /// saved without them, and they are listed).
    #[command(verbatim_doc_comment)]
    Backup {
        /// Directories to back up.
        #[arg(required_unless_present = "stdin")]
        paths: Vec<PathBuf>,
        /// Back up what arrives on stdin as one file (`pg_dump db | warden backup --stdin
        /// --stdin-filename db.sql`). The stream is first spooled to a private temp file in
        /// the cache directory (it needs that much free space), so the snapshot records its
        /// exact size.
        #[arg(long, conflicts_with = "paths")]
        stdin: bool,
        /// The file's name (or absolute path) in the snapshot, with --stdin.
        #[arg(long, default_value = "stdin", value_name = "NAME", requires = "stdin")]
        stdin_filename: String,
        /// A tag for the snapshot; repeat for several.
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// The host name to record (default: this machine's).
        #[arg(long)]
        host: Option<String>,
        /// Leave out what matches this glob (repeat for several): with a `/` it matches the
        /// absolute path (`/home/*/.cache`), without one a name at any depth (`*.tmp`,
        /// `node_modules`); an excluded directory goes with everything in it.
        #[arg(long = "exclude", short = 'e', value_name = "PATTERN")]
        excludes: Vec<String>,
        /// The importer plugin that reads the paths (a name or a .wasm file).
        #[arg(long, default_value = "fs", value_name = "PLUGIN")]
        source_plugin: String,
        /// A setting for the importer, KEY=VALUE (its `path` is each PATH); repeat for several.
        #[arg(long = "source-set", value_name = "KEY=VALUE", value_parser = super::parse_setting)]
        source_settings: Vec<(String, String)>,
    },
    /// List snapshots, oldest first.
    Snapshots,
    /// List the files of a snapshot: `ID`, a unique id prefix or `latest`, optionally
    /// followed by `:PATH` inside it.
    Ls {
        /// The snapshot (and path inside it).
        snapshot: String,
    },
    /// Restore a snapshot (or `SNAPSHOT:PATH`, a part of it) into a directory.
    ///
    /// Examples:
    ///   warden restore latest ~/restored
    ///   warden restore 4f2a9c1e:/home/me/Documents /tmp/docs
    ///
    /// Files are written by the exporter plugin (the built-in fs plugin by default), which
    /// can only write inside DEST; each file appears whole or not at all. Exits 1, listing
    /// them, if some entries could not be restored.
    #[command(verbatim_doc_comment)]
    Restore {
        /// The snapshot: `ID`, a unique id prefix or `latest`, optionally `:PATH` inside it.
        snapshot: String,
        /// The directory to restore into (created if missing).
        dest: PathBuf,
        /// The exporter plugin that writes the files (a name or a .wasm file).
        #[arg(long, default_value = "fs", value_name = "PLUGIN")]
        dest_plugin: String,
        /// A setting for the exporter, KEY=VALUE (its `path` is DEST); repeat for several.
        #[arg(long = "dest-set", value_name = "KEY=VALUE", value_parser = super::parse_setting)]
        dest_settings: Vec<(String, String)>,
        /// Read every restored file back from DEST and check it is what was written (costs a
        /// second read of everything; content is authenticated as it is restored anyway).
        #[arg(long)]
        verify: bool,
    },
    /// Remove snapshots by a retention policy (restic's rules, per host and paths).
    ///
    /// Examples:
    ///   warden forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --prune
    ///   warden forget --keep-last 3 --dry-run
    ///
    /// Only the snapshots go; their data stays until `prune` (or --prune here). Takes an
    /// exclusive lock: no backup runs meanwhile (restic's included).
    #[command(verbatim_doc_comment)]
    Forget {
        /// Keep the last N snapshots.
        #[arg(long, value_name = "N")]
        keep_last: Option<u32>,
        /// Keep the last snapshot of each of the latest N hours.
        #[arg(long, value_name = "N")]
        keep_hourly: Option<u32>,
        /// ... of each of the latest N days.
        #[arg(long, value_name = "N")]
        keep_daily: Option<u32>,
        /// ... of each of the latest N weeks.
        #[arg(long, value_name = "N")]
        keep_weekly: Option<u32>,
        /// ... of each of the latest N months.
        #[arg(long, value_name = "N")]
        keep_monthly: Option<u32>,
        /// ... of each of the latest N years.
        #[arg(long, value_name = "N")]
        keep_yearly: Option<u32>,
        /// Keep every snapshot with this tag; repeat for several.
        #[arg(long = "keep-tag", value_name = "TAG")]
        keep_tags: Vec<String>,
        /// Show what would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Then remove the data no snapshot uses any more (`warden prune`).
        #[arg(long)]
        prune: bool,
    },
    /// Remove data that no snapshot uses (after `forget`). Takes an exclusive lock.
    Prune {
        /// Show what would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove stale locks (of processes that are gone, or older than 30 minutes).
    Unlock {
        /// Remove every lock, also live ones: only when you know no other process uses the
        /// repository.
        #[arg(long)]
        remove_all: bool,
    },
    /// Check the repository's structure; with --read-data, read and verify every pack.
    Check {
        /// Also read all data and verify it.
        #[arg(long)]
        read_data: bool,
    },
}

pub async fn run(env: &Env, cmd: RepoCommand) -> anyhow::Result<ExitCode> {
    let repo = &env.repo;
    match cmd {
        RepoCommand::Init => init(env, repo).await,
        RepoCommand::Backup { paths, stdin, stdin_filename, tags, host, excludes, source_plugin, source_settings } => {
            let plugin = PluginChoice { name: source_plugin, settings: source_settings };
            let options = BackupOptions { tags, host, excludes, single_file: None };
            if stdin {
                return backup_stdin(env, repo, &stdin_filename, options).await;
            }
            backup(env, repo, paths, options, &plugin).await
        }
        RepoCommand::Snapshots => snapshots(env, repo).await,
        RepoCommand::Ls { snapshot } => ls(env, repo, snapshot).await,
        RepoCommand::Restore { snapshot, dest, dest_plugin, dest_settings, verify } => {
            let plugin = PluginChoice { name: dest_plugin, settings: dest_settings };
            restore(env, repo, snapshot, dest, &plugin, verify).await
        }
        RepoCommand::Check { read_data } => check(env, repo, read_data).await,
        RepoCommand::Forget {
            keep_last,
            keep_hourly,
            keep_daily,
            keep_weekly,
            keep_monthly,
            keep_yearly,
            keep_tags,
            dry_run,
            prune,
        } => {
            let policy = KeepPolicy {
                last: keep_last,
                hourly: keep_hourly,
                daily: keep_daily,
                weekly: keep_weekly,
                monthly: keep_monthly,
                yearly: keep_yearly,
                tags: keep_tags,
            };
            forget(env, repo, policy, dry_run, prune).await
        }
        RepoCommand::Prune { dry_run } => prune(env, repo, dry_run).await,
        RepoCommand::Unlock { remove_all } => unlock(env, repo, remove_all).await,
    }
}

/// The importer or exporter a command uses, with the operator's settings for it.
#[derive(Debug, Clone)]
pub(crate) struct PluginChoice {
    /// A plugin name or a .wasm file.
    pub name: String,
    /// Settings besides `path`.
    pub settings: Vec<(String, String)>,
}

impl PluginChoice {
    /// The built-in fs plugin.
    pub(crate) fn fs() -> PluginChoice {
        PluginChoice { name: "fs".into(), settings: Vec::new() }
    }

    fn settings_with_path(&self, path: &std::path::Path) -> BTreeMap<String, String> {
        let mut settings: BTreeMap<String, String> = self.settings.iter().cloned().collect();
        settings.insert("path".into(), path.display().to_string());
        settings
    }
}

/// Warden's directory in the user's data directory.
pub(crate) fn default_data_dir() -> anyhow::Result<PathBuf> {
    Ok(dirs::data_dir().context("no data directory is known for this user; pass --repo")?.join("warden"))
}

/// The default repository's directory.
fn default_repo_dir() -> anyhow::Result<PathBuf> {
    Ok(default_data_dir()?.join("repository"))
}

/// The password file of the default repository (written by `warden quickstart`).
fn default_password_file() -> anyhow::Result<PathBuf> {
    Ok(default_data_dir()?.join("repository.password"))
}

/// Make a password file with a random password (mode 0600) if `path` does not exist.
pub(crate) fn ensure_password_file(path: &std::path::Path) -> anyhow::Result<PathBuf> {
    if path.exists() {
        return Ok(path.to_path_buf());
    }
    use base64::Engine;
    let mut bytes = [0u8; 24];
    rand::fill(&mut bytes);
    let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let dir = path.parent().context("the password file has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).context("creating the password file")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    use std::io::Write;
    writeln!(tmp, "{password}")?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// Where a repository is: a configured target (with a prefix), a directory, or a URL whose
/// scheme a plugin serves.
enum Location {
    Target { name: String, prefix: String },
    Directory(PathBuf),
    Url(String),
}

fn location(repo: Option<&str>) -> anyhow::Result<Location> {
    let Some(repo) = repo else { return Ok(Location::Directory(default_repo_dir()?)) };
    if warden::plugin::location::is_url(repo) {
        return Ok(Location::Url(repo.to_string()));
    }
    if repo.contains('/') || repo.starts_with('.') || repo.starts_with('~') {
        return Ok(Location::Directory(PathBuf::from(repo)));
    }
    let (name, prefix) = repo.split_once(':').unwrap_or((repo, ""));
    Ok(Location::Target { name: name.to_string(), prefix: prefix.to_string() })
}

/// The files of the repository `args` names: through the plugin's own store when it has
/// one (and no prefix is asked for), else through the restic layout on its target. `create`
/// makes a missing directory.
fn backend(env: &Env, args: &RepoArgs, create: bool) -> anyhow::Result<Arc<dyn RepoFiles>> {
    let runtime = tokio::runtime::Handle::current();
    let (plugin, name, settings, prefix) = match location(args.repo.as_deref())? {
        Location::Target { name, prefix } => {
            let (plugin, settings) = super::target_cmd::configured(env, &name)?;
            (plugin, name, settings, prefix)
        }
        Location::Url(url) => {
            let catalog = Catalog::load(&env.config_dir)?;
            let found = warden::plugin::location::resolve(&catalog, &env.runtime, &url, |v| std::env::var(v).ok())?;
            // Read-write directories it names are made by `init`, as `target add` makes them.
            for request in &found.plugin.manifest().capabilities.directories {
                if let Some(dir) = found.settings.get(&request.config)
                    && create
                    && request.access == warden::plugin::Access::ReadWrite
                {
                    std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;
                }
            }
            (found.plugin, found.display, found.settings, String::new())
        }
        Location::Directory(dir) => {
            let dir = std::path::absolute(&dir).with_context(|| format!("resolving {}", dir.display()))?;
            if !dir.is_dir() {
                if !create {
                    return Err(warden::Error::Repository {
                        repo: dir.display().to_string(),
                        op: "open",
                        class: warden::ErrorClass::NotFound,
                        detail: "there is no repository there; create one with `warden init`".into(),
                    }
                    .into());
                }
                std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            let plugin = Catalog::load(&env.config_dir)?.resolve(&env.runtime, "fs")?;
            let settings = BTreeMap::from([("path".to_string(), dir.display().to_string())]);
            (plugin, dir.display().to_string(), settings, String::new())
        }
    };
    if prefix.is_empty() && plugin.implements(Kind::Store) {
        return Ok(Arc::new(StoreBackend::new(Store::open(&env.runtime, plugin, &name, &settings)?, runtime)));
    }
    let target = Target::open(&env.runtime, plugin, &name, &settings)?;
    Ok(Arc::new(TargetBackend::new(target, &prefix, runtime)))
}

fn engine_options(env: &Env) -> EngineOptions {
    EngineOptions {
        cache_dir: env.cache_dir.as_ref().map(|d| d.join("repositories")),
        progress: output::EngineBars::for_terminal(env.json),
    }
}

/// The repository password: --password-file, WARDEN_PASSWORD, or a prompt (twice for a new
/// repository).
fn password(args: &RepoArgs, confirm: bool) -> anyhow::Result<String> {
    if let Some(file) = &args.password_file {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading the password file {}", file.display()))?;
        let line = text.lines().next().unwrap_or_default().to_string();
        anyhow::ensure!(!line.is_empty(), "the password file {} is empty", file.display());
        return Ok(line);
    }
    if let Ok(p) = std::env::var("WARDEN_PASSWORD") {
        anyhow::ensure!(!p.is_empty(), "WARDEN_PASSWORD is set but empty");
        return Ok(p);
    }
    // The default repository's own password file, when `warden quickstart` made one.
    if args.repo.is_none()
        && let Ok(file) = default_password_file()
        && file.is_file()
    {
        return password(&RepoArgs { repo: None, password_file: Some(file) }, confirm);
    }
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "no repository password: pass --password-file FILE, set WARDEN_PASSWORD, or run in a terminal to be asked"
    );
    let first = rpassword::prompt_password("repository password: ").context("reading the password")?;
    anyhow::ensure!(!first.is_empty(), "the password is empty");
    if confirm {
        let again = rpassword::prompt_password("the same password again: ").context("reading the password")?;
        anyhow::ensure!(first == again, "the two passwords differ; nothing was created");
    }
    Ok(first)
}

/// Run blocking engine work on a thread of its own (rustic_core blocks, and calls plugins
/// back through the runtime).
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> anyhow::Result<T> + Send + 'static) -> anyhow::Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("warden-engine".into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .context("starting the engine thread")?;
    rx.await.context("the engine thread failed")?
}

async fn open_repo(env: &Env, args: &RepoArgs) -> anyhow::Result<Repo> {
    let backend = backend(env, args, false)?;
    let password = password(args, false)?;
    let options = engine_options(env);
    blocking(move || Ok(engine::open(&backend, &password, &options)?)).await
}

/// Create the repository unless one is there; says whether it was created.
pub(crate) async fn init_if_missing(env: &Env, args: &RepoArgs) -> anyhow::Result<bool> {
    let backend = backend(env, args, true)?;
    let password = password(args, true)?;
    let options = engine_options(env);
    blocking(move || match engine::init(&backend, &password, &options) {
        Ok(_) => Ok(true),
        Err(e) if e.class() == warden::ErrorClass::AlreadyExists => Ok(false),
        Err(e) => Err(e.into()),
    })
    .await
}

async fn init(env: &Env, args: &RepoArgs) -> anyhow::Result<ExitCode> {
    let backend = backend(env, args, true)?;
    let name = backend.location();
    let password = password(args, true)?;
    let options = engine_options(env);
    let repo = blocking(move || Ok(engine::init(&backend, &password, &options)?)).await?;
    let id = repo.id();
    if env.json {
        output::json(&json!({ "repository": name, "id": id }))?;
    } else {
        println!("created repository {id} at {name}");
        println!("keep the password safe: without it nothing in the repository can be read");
    }
    Ok(ExitCode::SUCCESS)
}

/// Back up `paths` through `source_plugin`; the report, for the caller to print.
pub(crate) async fn backup_report(
    env: &Env,
    args: &RepoArgs,
    paths: Vec<PathBuf>,
    options: BackupOptions,
    source_plugin: &PluginChoice,
) -> anyhow::Result<BackupReport> {
    let plugin = Catalog::load(&env.config_dir)?.resolve(&env.runtime, &source_plugin.name)?;
    let mut sources = Vec::new();
    for path in &paths {
        let absolute = std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
        let meta = std::fs::symlink_metadata(&absolute).map_err(|e| {
            warden::Error::io("the path to back up cannot be read; check that it exists", absolute.clone(), e)
        })?;
        anyhow::ensure!(
            meta.is_dir(),
            "{}: only directories can be backed up through an importer for now; back up its directory",
            absolute.display()
        );
        if let Some((other, _)) =
            sources.iter().find(|(p, _): &&(PathBuf, Importer)| p.starts_with(&absolute) || absolute.starts_with(p))
        {
            anyhow::bail!("{} and {} overlap; give each directory once", other.display(), absolute.display());
        }
        let settings = source_plugin.settings_with_path(&absolute);
        let importer = Importer::open(
            &env.runtime,
            plugin.clone(),
            &absolute.display().to_string(),
            &settings,
            tokio::runtime::Handle::current(),
        )?;
        sources.push((absolute, importer));
    }
    let repo = open_repo(env, args).await?;
    blocking(move || Ok(engine::backup(repo, sources, &options)?)).await
}

async fn backup(
    env: &Env,
    args: &RepoArgs,
    paths: Vec<PathBuf>,
    options: BackupOptions,
    source_plugin: &PluginChoice,
) -> anyhow::Result<ExitCode> {
    let name = backend(env, args, false)?.location();
    let started = std::time::Instant::now();
    let report = backup_report(env, args, paths.clone(), options, source_plugin).await?;
    let elapsed = started.elapsed();
    let snap = &report.snapshot;
    let id = snap.id.to_hex().to_string();
    let summary = snap.summary.clone().unwrap_or_default();
    if env.json {
        output::json(&json!({
            "snapshot": id, "repository": name, "paths": paths,
            "files_new": summary.files_new, "files_changed": summary.files_changed,
            "files_unmodified": summary.files_unmodified, "bytes_processed": summary.total_bytes_processed,
            "bytes_added": summary.data_added, "bytes_added_packed": summary.data_added_packed,
            "seconds": elapsed.as_secs_f64(), "failures": report.failures, "skipped": report.skipped,
        }))?;
    } else {
        println!("snapshot {} saved in {name}", &id[..8]);
        println!(
            "files: {} new, {} changed, {} unchanged; directories: {} new, {} changed, {} unchanged",
            summary.files_new,
            summary.files_changed,
            summary.files_unmodified,
            summary.dirs_new,
            summary.dirs_changed,
            summary.dirs_unmodified
        );
        println!(
            "data: {} in the snapshot, {} new added ({} stored after compression), {:.0}% already in the repository; {:.1?}",
            output::bytes(summary.total_bytes_processed),
            output::bytes(summary.data_added),
            output::bytes(summary.data_added_packed),
            already_stored(summary.total_bytes_processed, summary.data_added_files),
            elapsed
        );
        for path in &report.skipped {
            eprintln!("skipped (special file): {}", path.display());
        }
    }
    Ok(backup_exit(&report))
}

/// List what a backup could not read, and exit 7 when there is any.
fn backup_exit(report: &BackupReport) -> ExitCode {
    if report.failures.is_empty() {
        return ExitCode::SUCCESS;
    }
    for f in &report.failures {
        eprintln!("not backed up: {}: {}", f.path.display(), f.reason);
    }
    let id = report.snapshot.id.to_hex();
    eprintln!(
        "error: {} entries could not be read and are missing from snapshot {}",
        report.failures.len(),
        &id.as_str()[..8]
    );
    ExitCode::from(7)
}

async fn snapshots(env: &Env, args: &RepoArgs) -> anyhow::Result<ExitCode> {
    let repo = open_repo(env, args).await?;
    let all = blocking(move || Ok(engine::snapshots(&repo)?)).await?;
    if env.json {
        let list: Vec<_> = all
            .iter()
            .map(|s| {
                json!({
                    "id": s.id.to_hex().to_string(), "time": s.time.to_string(), "host": s.hostname,
                    "paths": s.paths.iter().collect::<Vec<_>>(), "tags": s.tags.iter().collect::<Vec<_>>(),
                    "bytes": s.summary.as_ref().map(|x| x.total_bytes_processed),
                })
            })
            .collect();
        output::json(&serde_json::Value::Array(list))?;
    } else if all.is_empty() {
        println!("no snapshots yet; make one with `warden backup PATH`");
    } else {
        println!("{:<8}  {:<19}  {:<16}  {:<16}  paths", "id", "time", "host", "tags");
        for s in &all {
            let id = s.id.to_hex();
            println!(
                "{:<8}  {:<19}  {:<16}  {:<16}  {}",
                &id.as_str()[..8],
                s.time.strftime("%Y-%m-%d %H:%M:%S"),
                s.hostname,
                s.tags.iter().cloned().collect::<Vec<_>>().join(","),
                s.paths.iter().cloned().collect::<Vec<_>>().join(" ")
            );
        }
        println!("{} snapshots", all.len());
    }
    Ok(ExitCode::SUCCESS)
}

async fn ls(env: &Env, args: &RepoArgs, snapshot: String) -> anyhow::Result<ExitCode> {
    let repo = open_repo(env, args).await?;
    let json = env.json;
    blocking(move || {
        let entries = engine::list_files(repo, &snapshot)?;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        use std::io::Write;
        for e in entries {
            if json {
                writeln!(out, "{}", serde_json::to_string(&e)?)?;
            } else {
                writeln!(out, "{}", e.path.display())?;
            }
        }
        out.flush()?;
        Ok(())
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// Restore `snapshot` into `dest` through `dest_plugin`; the report, for the caller to print.
pub(crate) async fn restore_report(
    env: &Env,
    args: &RepoArgs,
    snapshot: String,
    dest: PathBuf,
    dest_plugin: &PluginChoice,
    verify: bool,
) -> anyhow::Result<RestoreReport> {
    std::fs::create_dir_all(&dest)
        .map_err(|e| warden::Error::io("the restore destination cannot be created", dest.clone(), e))?;
    let plugin = Catalog::load(&env.config_dir)?.resolve(&env.runtime, &dest_plugin.name)?;
    let settings = dest_plugin.settings_with_path(&dest);
    let exporter = Exporter::open(&env.runtime, plugin, &dest.display().to_string(), &settings)?;
    let repo = open_repo(env, args).await?;
    let handle = tokio::runtime::Handle::current();
    let options = engine::RestoreOptions { verify_in: verify.then(|| dest.clone()) };
    blocking(move || Ok(engine::restore(repo, &snapshot, &exporter, &handle, &options)?)).await
}

async fn restore(
    env: &Env,
    args: &RepoArgs,
    snapshot: String,
    dest: PathBuf,
    dest_plugin: &PluginChoice,
    verify: bool,
) -> anyhow::Result<ExitCode> {
    let dest = std::path::absolute(&dest).with_context(|| format!("resolving {}", dest.display()))?;
    let started = std::time::Instant::now();
    let report = restore_report(env, args, snapshot, dest.clone(), dest_plugin, verify).await?;
    let elapsed = started.elapsed();
    if env.json {
        output::json(&json!({ "destination": dest, "report": report, "seconds": elapsed.as_secs_f64() }))?;
    } else {
        println!(
            "restored {} files ({}), {} directories, {} links into {} in {:.1?}",
            report.files,
            output::bytes(report.bytes),
            report.directories,
            report.symlinks,
            dest.display(),
            elapsed
        );
    }
    if !report.failures.is_empty() {
        for (path, reason) in &report.failures {
            eprintln!("not restored: {}: {reason}", path.display());
        }
        eprintln!("error: {} entries could not be restored", report.failures.len());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

async fn check(env: &Env, args: &RepoArgs, read_data: bool) -> anyhow::Result<ExitCode> {
    let repo = open_repo(env, args).await?;
    let name = repo.name().to_string();
    let report = blocking(move || Ok(engine::check(repo, read_data)?)).await?;
    if env.json {
        output::json(&json!({ "repository": name, "read_data": read_data, "report": report }))?;
    } else {
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        for e in &report.errors {
            eprintln!("error: {e}");
        }
        if report.errors.is_empty() {
            println!("no errors were found in {name}{}", if read_data { " (all data read and verified)" } else { "" });
        } else {
            eprintln!("error: {} problems found in {name}; `warden -v check` says more", report.errors.len());
        }
    }
    Ok(if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn forget(
    env: &Env,
    args: &RepoArgs,
    policy: KeepPolicy,
    dry_run: bool,
    then_prune: bool,
) -> anyhow::Result<ExitCode> {
    if policy.is_empty() {
        return Err(warden::Error::Repository {
            repo: args.repo.clone().unwrap_or_else(|| "default".into()),
            op: "forget",
            class: warden::ErrorClass::InvalidInput,
            detail:
                "no --keep-* option given, which would remove every snapshot; say what to keep (e.g. --keep-last 7)"
                    .into(),
        }
        .into());
    }
    let repo = open_repo(env, args).await?;
    let (decisions, pruned) = blocking(move || {
        let decisions = engine::forget(&repo, &policy, dry_run)?;
        let pruned = if then_prune { Some(engine::prune(&repo, dry_run)?) } else { None };
        Ok((decisions, pruned))
    })
    .await?;
    let removed = decisions.iter().filter(|d| !d.keep).count();
    if env.json {
        output::json(&json!({ "dry_run": dry_run, "snapshots": decisions, "prune": pruned }))?;
    } else {
        for d in &decisions {
            let verb = if d.keep {
                "keep  "
            } else if dry_run {
                "would remove"
            } else {
                "remove"
            };
            println!("{verb}  {}  {}  {}", &d.id[..8], d.time, d.reasons.join(", "));
        }
        println!("{} {removed} of {} snapshots", if dry_run { "would remove" } else { "removed" }, decisions.len());
        if let Some(p) = &pruned {
            print_prune(p, dry_run);
        } else if removed > 0 && !dry_run {
            println!("their data stays until `warden prune`");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_prune(report: &engine::PruneReport, dry_run: bool) {
    println!(
        "{} {} packs, rewrote {} packs, freeing {}",
        if dry_run { "would remove" } else { "removed" },
        report.packs_removed,
        report.packs_repacked,
        output::bytes(report.bytes_removed)
    );
    if report.leftovers_removed > 0 {
        println!("removed {} files that interrupted writes left behind", report.leftovers_removed);
    }
}

async fn prune(env: &Env, args: &RepoArgs, dry_run: bool) -> anyhow::Result<ExitCode> {
    let repo = open_repo(env, args).await?;
    let report = blocking(move || Ok(engine::prune(&repo, dry_run)?)).await?;
    if env.json {
        output::json(&json!({ "dry_run": dry_run, "report": report }))?;
    } else {
        print_prune(&report, dry_run);
    }
    Ok(ExitCode::SUCCESS)
}

async fn unlock(env: &Env, args: &RepoArgs, all: bool) -> anyhow::Result<ExitCode> {
    let repo = open_repo(env, args).await?;
    let removed = blocking(move || Ok(repo.unlock(all)?)).await?;
    if env.json {
        output::json(&json!({ "removed": removed }))?;
    } else {
        println!("removed {removed} locks");
    }
    Ok(ExitCode::SUCCESS)
}

/// `backup --stdin`: spool the stream into a private temp file, back that file up through
/// the fs importer, and record it at `name`.
async fn backup_stdin(env: &Env, args: &RepoArgs, name: &str, mut options: BackupOptions) -> anyhow::Result<ExitCode> {
    let recorded = if name.starts_with('/') { PathBuf::from(name) } else { PathBuf::from("/").join(name) };
    let file_name = recorded
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .with_context(|| format!("--stdin-filename {name:?} names no file"))?
        .to_string();
    let spool_root = env.cache_dir.clone().unwrap_or_else(std::env::temp_dir).join("spool");
    std::fs::create_dir_all(&spool_root).with_context(|| format!("creating {}", spool_root.display()))?;
    let spool =
        tempfile::Builder::new().prefix("stdin-").tempdir_in(&spool_root).context("creating the spool directory")?;
    let path = spool.path().join(&file_name);
    let copied = {
        let mut file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        let mut stdin = std::io::stdin().lock();
        std::io::copy(&mut stdin, &mut file).context("reading stdin")?
    };
    options.single_file = Some((file_name, recorded.clone()));
    let started = std::time::Instant::now();
    let report = backup_report(env, args, vec![spool.path().to_path_buf()], options, &PluginChoice::fs()).await?;
    let id = report.snapshot.id.to_hex().to_string();
    if env.json {
        output::json(
            &json!({ "snapshot": id, "path": recorded, "bytes": copied, "seconds": started.elapsed().as_secs_f64() }),
        )?;
    } else {
        println!("snapshot {} saved: stdin as {} ({})", &id[..8], recorded.display(), output::bytes(copied));
    }
    Ok(backup_exit(&report))
}

/// The share (in %) of a snapshot's file data that the repository held already.
fn already_stored(total: u64, added: u64) -> f64 {
    if total == 0 { 100.0 } else { 100.0 * total.saturating_sub(added) as f64 / total as f64 }
}
