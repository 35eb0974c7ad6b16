//! Atomic output files: the destination changes only when a run succeeded.
//!
//! The bytes go to a temporary file in the destination's own directory, which
//! is synced and then renamed over the destination, so a reader sees the old
//! file or the whole new one, never a part. Until [`Destination::commit`], the
//! destination is untouched; dropping a `Destination` removes the temporary
//! file.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A pending output file.
pub struct Destination {
    path: PathBuf,
    temp: NamedTempFile,
}

/// The most symbolic links followed from the destination, as the kernel's
/// own limit (ELOOP) for a path.
const MAX_LINKS: usize = 40;

/// The most bytes of the destination's name kept in the temporary file's
/// name (`.NAME.XXXXXX.bufbridge-tmp`): with them, the temporary name stays
/// far below every file system's limit on a name (255 bytes, 143 on
/// eCryptfs) whatever the destination's name.
const MAX_NAME_IN_TEMP: usize = 100;

impl Destination {
    /// Prepares to replace `path`, creating the temporary file now so that an
    /// unwritable destination is reported before any work is done.
    pub fn create(path: &Path) -> io::Result<Self> {
        let path = follow_links(path)?;
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
        let name = path.file_name().unwrap_or_default();
        let mut prefix = OsString::from(".");
        prefix.push(shortened(name));
        prefix.push(".");
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

    /// The temporary file's path, for removing it where `Drop` does not
    /// run (a signal).
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// The temporary file, for writing the output into in place.
    pub fn file(&self) -> io::Result<File> {
        self.temp.as_file().try_clone()
    }

    /// Syncs what was written to disk (also part of [`Destination::commit`];
    /// done first, the rename itself is quick).
    pub fn sync(&self) -> io::Result<()> {
        self.temp.as_file().sync_all()
    }

    /// Syncs what was written to disk and renames it over the destination.
    pub fn commit(self) -> io::Result<()> {
        self.temp.as_file().sync_all()?;
        self.temp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// The file `path` names once its symbolic links are followed, existing or
/// not: a link, dangling or not, is written through to its target, as `cp`
/// and a shell's `>` do, never replaced by a file.
fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut path = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&path)?;
                // A relative target is relative to the link's directory; an
                // absolute one replaces the whole path.
                path = match path.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            // The real path: a rename must land beside the real file.
            Ok(_) => return fs::canonicalize(&path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(path),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// At most [`MAX_NAME_IN_TEMP`] bytes of `name`, cut at a character
/// boundary when it is text.
fn shortened(name: &std::ffi::OsStr) -> OsString {
    let bytes = name.as_encoded_bytes();
    if bytes.len() <= MAX_NAME_IN_TEMP {
        return name.to_owned();
    }
    let mut cut = MAX_NAME_IN_TEMP;
    match name.to_str() {
        Some(text) => {
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            OsString::from(&text[..cut])
        }
        // Not text: only on Unix, where any byte string is a name.
        None => prefix_of(bytes, cut),
    }
}

#[cfg(unix)]
fn prefix_of(bytes: &[u8], cut: usize) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(&bytes[..cut]).to_owned()
}

#[cfg(not(unix))]
fn prefix_of(bytes: &[u8], cut: usize) -> OsString {
    OsString::from(String::from_utf8_lossy(&bytes[..cut]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_name_is_shortened_at_a_character_boundary() {
        let long = "é".repeat(120); // 240 bytes
        let short = shortened(std::ffi::OsStr::new(&long));
        assert_eq!(short.len(), MAX_NAME_IN_TEMP);
        assert!(short.to_str().unwrap().chars().all(|c| c == 'é'));
        assert_eq!(shortened(std::ffi::OsStr::new("out.txt")), "out.txt");
    }
}
