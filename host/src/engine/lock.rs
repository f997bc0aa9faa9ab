//! restic-compatible repository locks, which rustic_core neither writes nor honours.
//!
//! A lock is a small encrypted JSON file under `locks/` (restic's format): shared for
//! backup, restore and check, exclusive for forget and prune. A lock is refreshed every five
//! minutes while held; one older than thirty minutes, or left by a process of this host that
//! is gone, is stale (restic's rules): taking a lock removes stale ones. So a restic prune
//! never runs under a Warden backup, and the other way round.

use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use rustic_core::jiff::Timestamp;
use rustic_core::repofile::MasterKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::backend::{FileKind, RepoFiles};
use super::crypto::{decrypt, encrypt, key_bytes};
use crate::error::{Error, ErrorClass, Result};

/// How often a held lock is written afresh.
const REFRESH: Duration = Duration::from_secs(5 * 60);
/// A lock not refreshed for this long is stale.
const STALE: Duration = Duration::from_secs(30 * 60);

/// A lock file's content, as restic writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockInfo {
    /// When the lock was written (refreshed).
    pub time: String,
    /// Whether it excludes every other lock.
    #[serde(default)]
    pub exclusive: bool,
    /// The host of the process holding it.
    #[serde(default)]
    pub hostname: String,
    /// The user of the process holding it.
    #[serde(default)]
    pub username: String,
    /// The process holding it.
    #[serde(default)]
    pub pid: i64,
    /// Its user id.
    #[serde(default)]
    pub uid: u32,
    /// Its group id.
    #[serde(default)]
    pub gid: u32,
}

impl LockInfo {
    fn ours(exclusive: bool) -> LockInfo {
        LockInfo {
            time: Timestamp::now().to_string(),
            exclusive,
            hostname: gethostname::gethostname().to_string_lossy().into_owned(),
            username: user_name(),
            pid: i64::from(std::process::id()),
            // SAFETY: getuid and getgid cannot fail and touch no memory.
            uid: unsafe { libc::getuid() },
            gid: unsafe { libc::getgid() },
        }
    }

    /// Whether the lock no longer counts: too old, or its process on this host is gone.
    pub fn is_stale(&self) -> bool {
        let Ok(time) = self.time.parse::<Timestamp>() else { return true };
        let age = Timestamp::now().duration_since(time);
        if age.as_secs() > STALE.as_secs() as i64 {
            return true;
        }
        let this_host = gethostname::gethostname().to_string_lossy() == self.hostname.as_str();
        this_host && !process_alive(self.pid)
    }

    fn describe(&self) -> String {
        format!(
            "{} lock by {}@{} (pid {}) since {}",
            if self.exclusive { "an exclusive" } else { "a" },
            self.username,
            self.hostname,
            self.pid,
            self.time
        )
    }
}

/// The name of the user running this process (from the password database, else `$USER`).
pub(crate) fn user_name() -> String {
    // SAFETY: getpwuid returns a pointer into static storage or null; the name is copied out
    // at once, and nothing else in Warden calls getpwuid.
    unsafe {
        let entry = libc::getpwuid(libc::getuid());
        if !entry.is_null() && !(*entry).pw_name.is_null() {
            return std::ffi::CStr::from_ptr((*entry).pw_name).to_string_lossy().into_owned();
        }
    }
    std::env::var("USER").unwrap_or_default()
}

fn process_alive(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: kill with signal 0 only checks that the process exists.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// Every lock in the repository, with its id; unreadable lock files are skipped.
pub fn list(files: &Arc<dyn RepoFiles>, key: &MasterKey) -> Result<Vec<(String, LockInfo)>> {
    let mut out = Vec::new();
    for (id, _) in files.list(FileKind::Lock)? {
        let bytes = match files.read(FileKind::Lock, &id, None) {
            Ok(b) => b,
            Err(e) if e.class() == ErrorClass::NotFound => continue, // removed meanwhile
            Err(e) => return Err(e),
        };
        let Some(info) =
            decrypt(&key_bytes(key), &bytes).and_then(|plain| serde_json::from_slice::<LockInfo>(&plain).ok())
        else {
            tracing::warn!("lock file {id} cannot be read; ignoring it");
            continue;
        };
        out.push((id, info));
    }
    Ok(out)
}

/// A lock held on a repository; refreshed in the background, removed when dropped.
pub struct RepoLock {
    stop: Option<Sender<()>>,
    refresher: Option<JoinHandle<()>>,
}

impl RepoLock {
    /// Take a lock (`exclusive` for operations that delete). Fails, naming the holder, when
    /// a live lock conflicts.
    pub fn acquire(files: &Arc<dyn RepoFiles>, key: &MasterKey, repo: &str, exclusive: bool) -> Result<RepoLock> {
        check_conflicts(files, key, repo, exclusive, None)?;
        let id = write(files, key, exclusive)?;
        // Someone may have locked between our check and our write: look again.
        if let Err(e) = check_conflicts(files, key, repo, exclusive, Some(&id)) {
            remove(files, &id);
            return Err(e);
        }
        let (stop, stopped) = channel::<()>();
        let (files, key) = (files.clone(), key.clone());
        let refresher = std::thread::Builder::new()
            .name("warden-lock".into())
            .spawn(move || {
                let mut current = id;
                // Until told to stop (or the holder is gone): refresh every REFRESH.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(REFRESH) {
                    match write(&files, &key, exclusive) {
                        Ok(fresh) => {
                            remove(&files, &current);
                            current = fresh;
                        }
                        Err(e) => tracing::warn!("refreshing the repository lock failed: {e}"),
                    }
                }
                remove(&files, &current);
            })
            .map_err(|e| Error::io("starting the lock refresher", "-", e))?;
        Ok(RepoLock { stop: Some(stop), refresher: Some(refresher) })
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
    }
}

fn check_conflicts(
    files: &Arc<dyn RepoFiles>,
    key: &MasterKey,
    repo: &str,
    exclusive: bool,
    ours: Option<&str>,
) -> Result<()> {
    for (id, info) in list(files, key)? {
        if Some(id.as_str()) == ours {
            continue;
        }
        if info.is_stale() {
            // Left by a process that is gone (a crash, a kill): remove it, as `restic unlock`
            // would, so it does not block restic either.
            if ours.is_none() {
                tracing::info!("removing a stale lock: {}", info.describe());
                remove(files, &id);
            }
            continue;
        }
        if exclusive || info.exclusive {
            return Err(Error::Repository {
                repo: repo.to_string(),
                op: "lock",
                class: ErrorClass::Unavailable,
                detail: format!(
                    "the repository is in use: {} (lock {}); wait for it to finish, or if that process is gone, remove the lock with `warden unlock`",
                    info.describe(),
                    &id[..id.len().min(8)]
                ),
            });
        }
    }
    Ok(())
}

fn write(files: &Arc<dyn RepoFiles>, key: &MasterKey, exclusive: bool) -> Result<String> {
    let plain = serde_json::to_vec(&LockInfo::ours(exclusive)).expect("a lock serializes");
    let data = encrypt(&key_bytes(key), &plain);
    let id = hex::encode(Sha256::digest(&data));
    files.write(FileKind::Lock, &id, vec![data.into()])?;
    Ok(id)
}

fn remove(files: &Arc<dyn RepoFiles>, id: &str) {
    if let Err(e) = files.delete(FileKind::Lock, id) {
        tracing::warn!("removing the repository lock {id} failed: {e}; `warden unlock` removes it");
    }
}

/// Remove stale locks (every lock with `all`); returns how many were removed.
pub fn unlock(files: &Arc<dyn RepoFiles>, key: &MasterKey, all: bool) -> Result<usize> {
    let mut removed = 0;
    for (id, info) in list(files, key)? {
        if all || info.is_stale() {
            remove(files, &id);
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_locks_and_dead_processes_are_stale() {
        let mut info = LockInfo::ours(false);
        assert!(!info.is_stale());
        info.time = "2020-01-01T00:00:00Z".into();
        assert!(info.is_stale());
        let mut gone = LockInfo::ours(false);
        gone.pid = i64::from(i32::MAX);
        assert!(gone.is_stale());
        let mut elsewhere = gone.clone();
        elsewhere.hostname = "another-host".into();
        assert!(!elsewhere.is_stale());
    }
}
