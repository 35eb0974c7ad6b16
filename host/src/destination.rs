//! Atomic output files: the destination changes only when a run succeeded.
//!
//! The bytes go to a temporary file in the destination's own directory, which
//! is synced and then renamed over the destination, so a reader sees the old
//! file or the whole new one, never a part. Until [`Destination::commit`], the
//! destination is untouched; dropping a `Destination` removes the temporary
//! file.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A pending output file.
pub struct Destination {
    path: PathBuf,
    temp: NamedTempFile,
}

impl Destination {
    /// Prepares to replace `path`, creating the temporary file now so that an
    /// unwritable destination is reported before any work is done.
    pub fn create(path: &Path) -> io::Result<Self> {
        // Write through a symlink to its target rather than replace the link.
        let path = match fs::canonicalize(path) {
            Ok(real) => real,
            Err(e) if e.kind() == io::ErrorKind::NotFound => path.to_path_buf(),
            Err(e) => return Err(e),
        };
        let existing = match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    "is a directory",
                ));
            }
            Ok(meta) => Some(meta.permissions()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".bufbridge-tmp");
        #[cfg(unix)]
        {
            // A new file gets the usual 0666-less-umask, not tempfile's 0600.
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        let temp = builder.tempfile_in(dir)?;
        if let Some(permissions) = existing {
            temp.as_file().set_permissions(permissions)?;
        }
        Ok(Destination { path, temp })
    }

    /// The file the output will replace.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary file, for writing the output into in place.
    pub fn file(&self) -> io::Result<File> {
        self.temp.as_file().try_clone()
    }

    /// Syncs what was written to disk and renames it over the destination.
    pub fn commit(self) -> io::Result<()> {
        self.temp.as_file().sync_all()?;
        self.temp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}
