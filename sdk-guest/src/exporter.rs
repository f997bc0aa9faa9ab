//! The `Exporter` trait (a restore destination) and its glue to the generated bindings.

use wasip2::io::streams::InputStream;

use crate::bindings::exports::warden::plugin::exporter as wit_exporter;
use crate::bindings::warden::plugin::types as wit;
use crate::config::Config;
use crate::io::Body;
use crate::types::Result;

/// Metadata to apply to a restored entry; skip what you cannot apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Permission bits.
    pub mode: Option<u32>,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: Option<u64>,
    /// Access time, nanoseconds since the Unix epoch.
    pub atime_ns: Option<u64>,
}

/// A restore destination: a directory, a remote file service. Export it with
/// [`export_plugin!`](crate::export_plugin).
///
/// Paths are relative to the destination's root, `/`-separated; the host creates a
/// directory before anything in it.
pub trait Exporter: Sized + 'static {
    /// Open the destination with the operator's settings.
    fn open(config: Config) -> Result<Self>;

    /// A line naming where files go, for the operator ("directory /srv/restore").
    fn origin(&self) -> String;

    /// Create a directory; an existing one is fine.
    fn create_directory(&self, path: &str) -> Result<()>;

    /// Write a file from `body`, which yields exactly `size` bytes. It must appear whole or
    /// not at all (write aside, then rename), replacing an existing file. Splice the body
    /// ([`Body::copy_to_file`]) so the bytes never pass through your memory.
    fn store_file(&self, path: &str, body: Body<'_>, size: u64) -> Result<()>;

    /// Create a symbolic link at `path` pointing to `target`, replacing an existing one.
    fn create_symlink(&self, path: &str, target: &str) -> Result<()>;

    /// Apply metadata to an entry already written.
    fn set_metadata(&self, path: &str, metadata: Metadata) -> Result<()>;

    /// Everything is written. The default does nothing.
    fn finish(&self) -> Result<()> {
        Ok(())
    }
}

/// Glue: an [`Exporter`] as the generated `destination` resource.
#[doc(hidden)]
pub struct DestinationAdapter<T: Exporter>(T);

impl<T: Exporter> wit_exporter::GuestDestination for DestinationAdapter<T> {
    fn open(config: Vec<(String, String)>) -> Result<wit_exporter::Destination, wit::Error> {
        let destination = T::open(Config::from_pairs(config))?;
        Ok(wit_exporter::Destination::new(DestinationAdapter(destination)))
    }

    fn origin(&self) -> String {
        self.0.origin()
    }

    fn create_directory(&self, path: String) -> Result<(), wit::Error> {
        Ok(self.0.create_directory(&path)?)
    }

    fn store_file(&self, path: String, body: &InputStream, size: u64) -> Result<(), wit::Error> {
        Ok(self.0.store_file(&path, Body::new(body), size)?)
    }

    fn create_symlink(&self, path: String, target: String) -> Result<(), wit::Error> {
        Ok(self.0.create_symlink(&path, &target)?)
    }

    fn set_metadata(&self, path: String, metadata: wit_exporter::Metadata) -> Result<(), wit::Error> {
        let metadata = Metadata { mode: metadata.mode, mtime_ns: metadata.mtime_ns, atime_ns: metadata.atime_ns };
        Ok(self.0.set_metadata(&path, metadata)?)
    }

    fn finish(&self) -> Result<(), wit::Error> {
        Ok(self.0.finish()?)
    }
}
