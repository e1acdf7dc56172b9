//! Publishing: copy a run's artifacts and their attestations into a private staged folder
//! beside the destination (every file and folder fsynced), let the gate verify that copy,
//! then rename exactly it into place — all or nothing, and nothing the gate did not see.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::Error;

/// What is published from a run's output folder.
const PUBLISHED: [&str; 4] = [
    "artifacts",
    "links",
    "provenance.intoto.jsonl",
    crate::gate::PROVENANCE_BUNDLE,
];

fn err(dir: &Path, reason: impl ToString) -> Error {
    Error::Publish {
        dir: dir.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The destination must not exist yet, or be an empty folder.
pub fn check_destination(dest: &Path) -> Result<(), Error> {
    match std::fs::read_dir(dest) {
        Ok(mut d) => match d.next() {
            None => Ok(()),
            Some(_) => Err(err(dest, "the folder is not empty; nothing is overwritten")),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(err(dest, e)),
    }
}

fn sync(path: &Path, dest: &Path) -> Result<(), Error> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| err(dest, format!("{}: {e}", path.display())))
}

fn copy_file(from: &Path, to: &Path, dest: &Path) -> Result<(), Error> {
    std::fs::copy(from, to).map_err(|e| err(dest, format!("{}: {e}", from.display())))?;
    sync(to, dest)
}

fn copy_dir(from: &Path, to: &Path, dest: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(to).map_err(|e| err(dest, e))?;
    let mut dirs = vec![to.to_path_buf()];
    for e in walkdir::WalkDir::new(from)
        .follow_links(false)
        .sort_by_file_name()
    {
        let e = e.map_err(|e| err(dest, e))?;
        let rel = e.path().strip_prefix(from).unwrap_or(e.path());
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| err(dest, e))?;
            dirs.push(target);
        } else if e.file_type().is_file() {
            copy_file(e.path(), &target, dest)?;
        } else {
            return Err(err(
                dest,
                format!("{} is not a regular file", e.path().display()),
            ));
        }
    }
    // Every new directory entry must survive a crash too: sync the folders, deepest first.
    for d in dirs.iter().rev() {
        sync(d, dest)?;
    }
    Ok(())
}

/// A private, durable copy of a run's publishable files next to the destination: the gate
/// verifies this copy, and [`Staged::commit`] renames exactly it into place, so nothing
/// written to the output folder after the copy can reach the destination.
#[derive(Debug)]
pub struct Staged {
    dir: tempfile::TempDir,
    dest: PathBuf,
    parent: PathBuf,
}

impl Staged {
    /// The staged copy (laid out like a run's output folder).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Rename the staged copy to the destination and sync its parent folder.
    pub fn commit(self) -> Result<(), Error> {
        check_destination(&self.dest)?;
        // An empty destination folder (allowed) is replaced by the rename.
        if self.dest.is_dir() {
            std::fs::remove_dir(&self.dest).map_err(|e| err(&self.dest, e))?;
        }
        let staged = self.dir.keep();
        if let Err(e) = std::fs::rename(&staged, &self.dest) {
            let _ = std::fs::remove_dir_all(&staged);
            return Err(err(&self.dest, e));
        }
        sync(&self.parent, &self.dest)
    }
}

/// Copy the run's artifacts, links and provenance from `out` into a private folder beside
/// `dest` (mode 0700, a random name), every file and folder synced.
pub fn stage(out: &Path, dest: &Path) -> Result<Staged, Error> {
    check_destination(dest)?;
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    std::fs::create_dir_all(&parent).map_err(|e| err(dest, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".chainseal-publish-")
        .tempdir_in(&parent)
        .map_err(|e| err(dest, e))?;
    for item in PUBLISHED {
        let src = out.join(item);
        let meta = std::fs::symlink_metadata(&src);
        match meta {
            Ok(m) if m.is_dir() => copy_dir(&src, &tmp.path().join(item), dest)?,
            Ok(m) if m.is_file() => copy_file(&src, &tmp.path().join(item), dest)?,
            Ok(_) => {
                return Err(err(
                    dest,
                    format!("{} is not a regular file or folder", src.display()),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(dest, e)),
        }
    }
    sync(tmp.path(), dest)?;
    Ok(Staged {
        dir: tmp,
        dest: dest.to_path_buf(),
        parent,
    })
}

/// Copy the run's artifacts, links and provenance from `out` to `dest` atomically.
pub fn publish(out: &Path, dest: &Path) -> Result<(), Error> {
    stage(out, dest)?.commit()
}
