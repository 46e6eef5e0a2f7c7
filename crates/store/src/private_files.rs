//! The data directory and the SQLite files in it are private to the user
//! running Clockwork: the database holds secrets (encrypted) and run logs
//! (which may not be), so the directory is created `0700` and the database
//! `0600` — SQLite gives its `-wal` and `-shm` files the database file's
//! mode. Files that already exist keep their mode; [`shared_paths`] lists
//! those others can read, for a warning at start.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The SQLite database's file name in a data directory.
pub const DATABASE_FILE: &str = "clockwork.db";

/// Creates `dir` (and missing parents) readable by its owner only.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates the database file empty and owner-only when it does not exist,
/// before SQLite would create it with the umask's (typically world-readable)
/// mode.
pub(crate) fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// The data directory, the database ([`DATABASE_FILE`]) and its `-wal`/`-shm` files when group
/// or others may access them, each with its mode (`0o755`…).
pub fn shared_paths(data_dir: &Path) -> Vec<(PathBuf, u32)> {
    let database = data_dir.join(DATABASE_FILE);
    let mut candidates = vec![data_dir.to_path_buf(), database.clone()];
    for suffix in ["-wal", "-shm"] {
        let mut name = database.clone().into_os_string();
        name.push(suffix);
        candidates.push(PathBuf::from(name));
    }
    candidates
        .into_iter()
        .filter_map(|path| {
            let mode = mode_of(&path)?;
            (mode & 0o077 != 0).then_some((path, mode))
        })
        .collect()
}

#[cfg(unix)]
fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path)
        .ok()
        .map(|metadata| metadata.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode_of(_path: &Path) -> Option<u32> {
    None
}
