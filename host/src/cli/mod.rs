//! The `warden` command line: the only place that prints or uses `anyhow`.

mod output;
mod plugin_cmd;
mod quickstart;
mod repo_cmd;
mod scaffold;
mod target_cmd;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use warden::runtime::{Limits, Runtime};
use warden::{Error, ErrorClass};

/// Warden: backups through sandboxed WebAssembly plugins.
///
/// Every plugin — where backups are stored, what is backed up, where restores go — is a
/// WebAssembly component run in a sandbox: it can reach only the directory or the HTTP
/// endpoint it is granted, nothing else on this machine, and it never holds your credentials
/// (the host signs its requests). Repositories are restic's format: restic reads them too.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about, long_about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Directory of the configuration file (targets).
    #[arg(long, global = true, env = "WARDEN_CONFIG_DIR", value_name = "DIR")]
    config_dir: Option<PathBuf>,

    /// Directory for caches: compiled plugins (every start after the first is fast),
    /// repositories' snapshot and index files (encrypted), the spool of `backup --stdin`.
    #[arg(long, global = true, env = "WARDEN_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// The repository for the backup commands: a target name (`NAME`, or `NAME:PREFIX` for
    /// one under a key prefix), a directory (`/srv/backup`, `./repo`), or a URL whose scheme
    /// a plugin serves (`fs:///srv/backup`, `s3://BUCKET/PREFIX?endpoint=URL`, secrets from
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). Default: `warden/repository` in the
    /// user's data directory, on the built-in fs plugin.
    #[arg(long, short = 'r', global = true, env = "WARDEN_REPO", value_name = "REPO")]
    repo: Option<String>,

    /// Read the repository password from the first line of this file (else WARDEN_PASSWORD,
    /// else the default repository's own password file, else a prompt).
    #[arg(long, global = true, env = "WARDEN_PASSWORD_FILE", value_name = "FILE")]
    password_file: Option<PathBuf>,

    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,

    /// More log output (-v: info, -vv: debug, -vvv: trace). `WARDEN_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Seconds a plugin call may go without moving data before it is stopped.
    #[arg(long, global = true, env = "WARDEN_CALL_TIMEOUT", value_name = "SECS", default_value_t = 60)]
    call_timeout: u64,

    /// Memory limit per plugin instance, in MiB.
    #[arg(long, global = true, env = "WARDEN_MEMORY_LIMIT_MIB", value_name = "MIB", default_value_t = 256)]
    memory_limit_mib: usize,

    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 success, 1 failure, 2 usage error, 3 not found, 4 invalid input \
(bad key, plugin or setting), 5 already exists, 6 permission denied (or a wrong password), 7 a backup \
saved without some files (they are listed).";

#[derive(Debug, Subcommand)]
enum Command {
    /// The repository commands (init, backup, snapshots, ls, restore, check), at the top
    /// level as in restic.
    #[command(flatten)]
    Repo(repo_cmd::RepoCommand),
    /// Configure targets (storage locations) and move objects in and out of them.
    #[command(subcommand)]
    Target(target_cmd::TargetCommand),
    /// Plugins: install, inspect, test against the contract, create, pack.
    #[command(subcommand)]
    Plugin(plugin_cmd::PluginCommand),
    /// Back up a sample directory (or --source DIR) into the default repository, restore it
    /// elsewhere and compare; shows where everything lives.
    Quickstart(quickstart::QuickstartArgs),
}

/// Everything a command needs.
pub(crate) struct Env {
    pub json: bool,
    pub repo: repo_cmd::RepoArgs,
    pub cache_dir: Option<PathBuf>,
    pub config_dir: PathBuf,
    pub runtime: Runtime,
}

/// Run the CLI and turn the outcome into an exit code.
pub fn main() -> ExitCode {
    // Die quietly on a closed pipe (`warden target ls t | head`), as command-line tools do,
    // instead of panicking in println!.
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let json = cli.json;
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(run(cli)));
    match result {
        Ok(code) => code,
        Err(e) => {
            let code = exit_code(&e);
            if json {
                let class = e.downcast_ref::<Error>().map(|e| e.class().as_str()).unwrap_or("other");
                println!("{}", serde_json::json!({ "error": format!("{e:#}"), "class": class }));
            }
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config_dir = warden::config::ConfigFile::default_dir(cli.config_dir)?;
    let cache_dir = cli.cache_dir.or_else(|| dirs::cache_dir().map(|d| d.join("warden")));
    let limits = Limits {
        call_timeout: Duration::from_secs(cli.call_timeout.max(1)),
        memory_bytes: cli.memory_limit_mib.max(1) << 20,
        ..Limits::default()
    };
    let mut builder = Runtime::builder().limits(limits);
    if let Some(dir) = &cache_dir {
        builder = builder.cache_dir(dir.clone());
    }
    let repo = repo_cmd::RepoArgs { repo: cli.repo, password_file: cli.password_file };
    let env = Env { json: cli.json, repo, config_dir, cache_dir, runtime: builder.build()? };
    match cli.command {
        Command::Repo(cmd) => repo_cmd::run(&env, cmd).await,
        Command::Target(cmd) => target_cmd::run(&env, cmd).await,
        Command::Plugin(cmd) => plugin_cmd::run(&env, cmd).await,
        Command::Quickstart(args) => quickstart::run(&env, args).await,
    }
}

fn exit_code(e: &anyhow::Error) -> u8 {
    let Some(e) = e.downcast_ref::<Error>() else {
        return 1;
    };
    match e.class() {
        ErrorClass::NotFound => 3,
        ErrorClass::InvalidInput => 4,
        ErrorClass::AlreadyExists => 5,
        ErrorClass::PermissionDenied | ErrorClass::Unauthenticated => 6,
        _ => 1,
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Parse `k=v`.
pub(crate) fn parse_setting(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}
