//! The host library's one error type.
//!
//! Every message names what was being done (plugin, operation, key) and, where there is one,
//! the next step for the operator. No variant ever carries a secret.

use std::path::PathBuf;
use std::time::Duration;

/// The class of a failure a plugin reported, mirroring the WIT `error` variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    /// The key does not exist.
    NotFound,
    /// A create-only put found the key present.
    AlreadyExists,
    /// The request is wrong and will fail the same way again.
    InvalidInput,
    /// The backend does not know who is asking.
    Unauthenticated,
    /// The backend refuses the caller.
    PermissionDenied,
    /// The backend asked to slow down (retryable).
    RateLimited,
    /// A transient failure (retryable).
    Unavailable,
    /// Stored data failed a check.
    Corrupt,
    /// The plugin does not support the operation.
    Unsupported,
    /// Anything else.
    Other,
}

impl ErrorClass {
    /// Whether the host may retry an operation that failed with this class.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::RateLimited | ErrorClass::Unavailable)
    }

    /// The class's name as the WIT spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::NotFound => "not-found",
            ErrorClass::AlreadyExists => "already-exists",
            ErrorClass::InvalidInput => "invalid-input",
            ErrorClass::Unauthenticated => "unauthenticated",
            ErrorClass::PermissionDenied => "permission-denied",
            ErrorClass::RateLimited => "rate-limited",
            ErrorClass::Unavailable => "unavailable",
            ErrorClass::Corrupt => "corrupt",
            ErrorClass::Unsupported => "unsupported",
            ErrorClass::Other => "other",
        }
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a plugin instance was stopped by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrapReason {
    /// It ran past its deadline without making progress.
    Deadline(Duration),
    /// It tried to grow its memory past the limit.
    OutOfMemory {
        /// The limit in bytes.
        limit: usize,
    },
    /// It crashed (a panic, an unreachable, a stack overflow, a bad memory access).
    Crash(String),
}

impl std::fmt::Display for TrapReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrapReason::Deadline(d) => write!(
                f,
                "it made no progress for {}s and was stopped (raise the limit with --call-timeout if the backend is slow)",
                d.as_secs()
            ),
            TrapReason::OutOfMemory { limit } => write!(
                f,
                "it tried to use more than its {} MiB memory limit and was stopped (raise it with --memory-limit-mib)",
                limit >> 20
            ),
            TrapReason::Crash(why) => write!(f, "it crashed: {why}"),
        }
    }
}

/// Everything that can go wrong in the host library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The plugin reported a typed error.
    #[error("plugin `{plugin}` {op}{}: {class}: {message}", key_part(key))]
    Plugin {
        /// The plugin's name.
        plugin: String,
        /// The operation (put, get, ...).
        op: &'static str,
        /// The key involved, if any.
        key: Option<String>,
        /// The error's class.
        class: ErrorClass,
        /// The plugin's explanation.
        message: String,
        /// For `rate-limited`: how long the backend asked the host to wait.
        retry_after: Option<Duration>,
    },

    /// The host stopped the plugin instance; the next call gets a fresh one.
    #[error("plugin `{plugin}` {op}{}: {reason}", key_part(key))]
    Trap {
        /// The plugin's name.
        plugin: String,
        /// The operation.
        op: &'static str,
        /// The key involved, if any.
        key: Option<String>,
        /// Why it was stopped.
        reason: TrapReason,
    },

    /// A get's body did not match what the plugin promised.
    #[error(
        "plugin `{plugin}` get `{key}`: the body ended after {got} bytes but the plugin promised {expected}; the object may be damaged, or the plugin is faulty"
    )]
    ShortBody {
        /// The plugin's name.
        plugin: String,
        /// The key read.
        key: String,
        /// Bytes promised.
        expected: u64,
        /// Bytes delivered.
        got: u64,
    },

    /// A get's body failed part way; never retried, since bytes already reached the sink.
    #[error(
        "plugin `{plugin}` get `{key}`: the body failed after {after} bytes: {detail}; nothing complete was written, try again"
    )]
    BodyFailed {
        /// The plugin's name.
        plugin: String,
        /// The key read.
        key: String,
        /// Bytes delivered before the failure.
        after: u64,
        /// What failed.
        detail: String,
    },

    /// The plugin broke the contract in a way the host detected (a bad value it returned).
    #[error("plugin `{plugin}` {op}: it broke the contract: {detail}")]
    Contract {
        /// The plugin's name.
        plugin: String,
        /// The operation.
        op: &'static str,
        /// What it did wrong.
        detail: String,
    },

    /// The key was refused by the host before any plugin saw it.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The key, as given (escaped by `Debug`).
        key: String,
        /// Why it was refused.
        reason: String,
    },

    /// The file is not a WebAssembly component Warden can load.
    #[error("{source_name} is not a Warden plugin: {reason}")]
    NotAComponent {
        /// Where the bytes came from (a path or a plugin name).
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The component does not export a world Warden knows.
    #[error(
        "plugin `{plugin}` exports {found}, but its manifest says it is a {kind} plugin, which must export `{expected}`; build it against Warden's WIT (package warden:plugin)"
    )]
    WrongWorld {
        /// The plugin's name.
        plugin: String,
        /// The kind it claims.
        kind: crate::plugin::Kind,
        /// What it exports.
        found: String,
        /// What was expected.
        expected: String,
    },

    /// The plugin does not implement the kind a command needs.
    #[error(
        "plugin `{plugin}` is not a {kind} plugin (it implements: {implements}); pick a plugin whose manifest lists `{kind}` (`warden plugin list`)"
    )]
    WrongKind {
        /// The plugin's name.
        plugin: String,
        /// The kind needed.
        kind: crate::plugin::Kind,
        /// The kinds it implements.
        implements: String,
    },

    /// The component imports something the host does not provide or did not grant.
    #[error("plugin `{plugin}` cannot be loaded: {detail}")]
    MissingImport {
        /// The plugin's name.
        plugin: String,
        /// Which import, and why it is missing.
        detail: String,
    },

    /// The plugin's embedded manifest is missing or invalid.
    #[error("plugin `{plugin}`: bad manifest: {reason}")]
    Manifest {
        /// The plugin's name (or file).
        plugin: String,
        /// What is wrong.
        reason: String,
    },

    /// The plugin was built for an API version this host does not support.
    #[error(
        "plugin `{plugin}` was built for Warden plugin API {found}, but this host supports {supported}; rebuild the plugin against a supported version"
    )]
    UnsupportedApi {
        /// The plugin's name.
        plugin: String,
        /// The version it declares.
        found: String,
        /// What the host supports.
        supported: String,
    },

    /// A target's configuration does not fit its plugin.
    #[error("target `{target}` (plugin `{plugin}`): {reason}")]
    Config {
        /// The target's name.
        target: String,
        /// The plugin's name.
        plugin: String,
        /// What is wrong, and which keys are valid.
        reason: String,
    },

    /// No target has this name.
    #[error("no target named `{name}`; `warden target list` shows the configured ones, `warden target add` adds one")]
    UnknownTarget {
        /// The name asked for.
        name: String,
    },

    /// A target of this name already exists.
    #[error("a target named `{name}` already exists; remove it first with `warden target remove {name}`")]
    TargetExists {
        /// The name.
        name: String,
    },

    /// No plugin has this name and no file has this path.
    #[error("no plugin named `{name}` (built in: {known}); give a path to a .wasm file to use another")]
    UnknownPlugin {
        /// The name asked for.
        name: String,
        /// The plugins that are known.
        known: String,
    },

    /// No plugin serves the scheme of a location URL.
    #[error(
        "no plugin serves `{scheme}://` locations (known: {known}); install one whose manifest lists it under `protocols`, or use a configured target"
    )]
    UnknownProtocol {
        /// The scheme asked for.
        scheme: String,
        /// The schemes plugins serve.
        known: String,
    },

    /// A plugin of this name is already installed or built in.
    #[error("a plugin named `{name}` already exists; {hint}")]
    PluginExists {
        /// The name.
        name: String,
        /// What to do.
        hint: String,
    },

    /// A local file or directory could not be used.
    #[error("{context} ({}): {source}", path.display())]
    Io {
        /// What was being done.
        context: String,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The local configuration file is unreadable.
    #[error("the configuration file {} is invalid: {reason}; fix or remove it", path.display())]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A repository operation failed (the engine's own message, or a plugin's failure
    /// underneath it).
    #[error("repository `{repo}`: {op}: {detail}")]
    Repository {
        /// The repository (a target name, or a path).
        repo: String,
        /// What was being done (init, open, backup, restore, ...).
        op: &'static str,
        /// The class of the failure underneath.
        class: ErrorClass,
        /// What went wrong, and what to do.
        detail: String,
    },

    /// An internal failure of the WebAssembly runtime.
    #[error("plugin `{plugin}` {op}: the runtime failed: {detail}")]
    Runtime {
        /// The plugin's name.
        plugin: String,
        /// The operation.
        op: &'static str,
        /// What failed.
        detail: String,
    },
}

fn key_part(key: &Option<String>) -> String {
    match key {
        Some(k) => format!(" `{k}`"),
        None => String::new(),
    }
}

impl Error {
    /// The contract class this error falls in, for exit codes and retries.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Plugin { class, .. } | Error::Repository { class, .. } => *class,
            Error::Trap { reason: TrapReason::Deadline(_), .. } => ErrorClass::Unavailable,
            Error::Trap { .. } | Error::Runtime { .. } | Error::Io { .. } => ErrorClass::Other,
            Error::ShortBody { .. } => ErrorClass::Corrupt,
            Error::BodyFailed { .. } => ErrorClass::Unavailable,
            Error::Contract { .. } => ErrorClass::Other,
            Error::UnknownTarget { .. } | Error::UnknownPlugin { .. } | Error::UnknownProtocol { .. } => {
                ErrorClass::NotFound
            }
            Error::TargetExists { .. } | Error::PluginExists { .. } => ErrorClass::AlreadyExists,
            Error::InvalidKey { .. }
            | Error::NotAComponent { .. }
            | Error::WrongWorld { .. }
            | Error::WrongKind { .. }
            | Error::MissingImport { .. }
            | Error::Manifest { .. }
            | Error::UnsupportedApi { .. }
            | Error::Config { .. }
            | Error::ConfigFile { .. } => ErrorClass::InvalidInput,
        }
    }

    /// Whether retrying the same operation may succeed. Traps are not retried: a plugin that
    /// crashed once on an input will most likely crash again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Plugin { class, .. } if class.is_retryable())
    }

    /// Shorthand for an I/O error with context.
    pub fn io(context: impl Into<String>, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), path: path.into(), source }
    }
}

/// The host library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
