//! Publishing: copy a gated run's artifacts and their attestations to the destination,
//! all or nothing (a temporary sibling folder, fsynced, then renamed into place).

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

fn copy_dir(from: &Path, to: &Path, dest: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(to).map_err(|e| err(dest, e))?;
    for e in walkdir::WalkDir::new(from).sort_by_file_name() {
        let e = e.map_err(|e| err(dest, e))?;
        let rel = e.path().strip_prefix(from).unwrap_or(e.path());
        let target = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| err(dest, e))?;
        } else if e.file_type().is_file() {
            std::fs::copy(e.path(), &target).map_err(|e| err(dest, e))?;
            File::open(&target)
                .and_then(|f| f.sync_all())
                .map_err(|e| err(dest, e))?;
        } else {
            return Err(err(
                dest,
                format!("{} is not a regular file", e.path().display()),
            ));
        }
    }
    Ok(())
}

/// Copy the run's artifacts, links and provenance from `out` to `dest` atomically.
pub fn publish(out: &Path, dest: &Path) -> Result<(), Error> {
    check_destination(dest)?;
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| err(dest, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".chainseal-publish-")
        .tempdir_in(parent)
        .map_err(|e| err(dest, e))?;
    for item in PUBLISHED {
        let src = out.join(item);
        if src.is_dir() {
            copy_dir(&src, &tmp.path().join(item), dest)?;
        } else if src.is_file() {
            let target: PathBuf = tmp.path().join(item);
            std::fs::copy(&src, &target).map_err(|e| err(dest, e))?;
            File::open(&target)
                .and_then(|f| f.sync_all())
                .map_err(|e| err(dest, e))?;
        }
    }
    let staged = tmp.keep();
    if let Err(e) = std::fs::rename(&staged, dest) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(err(dest, e));
    }
    File::open(parent)
        .and_then(|f| f.sync_all())
        .map_err(|e| err(dest, e))?;
    Ok(())
}
