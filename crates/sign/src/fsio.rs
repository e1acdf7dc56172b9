//! Durable, atomic file output: tmp file in the same directory → fsync → rename → fsync
//! the directory. Secret files are created with mode 0600 from the start.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Error;

/// How [`write_atomic`] treats an existing destination and which mode a new file gets.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    /// Replace an existing file (otherwise [`Error::Exists`]).
    pub overwrite: bool,
    /// The file holds a secret: created 0600 (Unix).
    pub secret: bool,
}

fn tmp_path(dest: &Path) -> PathBuf {
    let mut rnd = [0u8; 8];
    // A failing RNG only makes the name predictable; create_new still refuses collisions.
    let _ = aws_lc_rs::rand::fill(&mut rnd);
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.tmp-{}", hex::encode(rnd)))
}

/// Writes `bytes` to `dest` atomically (readers see the old file or the complete new one).
pub fn write_atomic(dest: &Path, bytes: &[u8], opts: WriteOptions) -> Result<(), Error> {
    if !opts.overwrite && dest.exists() {
        return Err(Error::Exists(dest.to_path_buf()));
    }
    let tmp = tmp_path(dest);
    let mut oo = OpenOptions::new();
    oo.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        oo.mode(if opts.secret { 0o600 } else { 0o644 });
    }
    let result = (|| {
        let mut f = oo.open(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| Error::io("writing", &tmp, e))?;
        f.sync_all().map_err(|e| Error::io("syncing", &tmp, e))?;
        drop(f);
        if !opts.overwrite && dest.exists() {
            return Err(Error::Exists(dest.to_path_buf()));
        }
        std::fs::rename(&tmp, dest).map_err(|e| Error::io("renaming into", dest, e))?;
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if let Ok(d) = File::open(&dir) {
            d.sync_all()
                .map_err(|e| Error::io("syncing directory", &dir, e))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
