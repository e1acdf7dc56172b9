//! Running a layout's inspections: each command runs in a working folder, recording `.`
//! before and after (default excludes, symlinked directories followed) exactly as the
//! reference's `run_all_inspections` does. By default the folder is a temporary copy of the
//! verifier's working folder, so inspections (e.g. `tar xzf`) never change the user's files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Map;

use crate::Error;
use crate::models::{Inspection, Link};
use crate::record::{RecordOptions, record_artifacts};
use crate::run::{byproducts, execute_in};

/// Where inspections run.
#[derive(Debug, Clone)]
pub enum InspectionDir {
    /// Copy this folder to a fresh temporary folder and run all inspections there.
    CopyOf(PathBuf),
    /// Run in this folder, as the reference does (inspections may change its files).
    InPlace(PathBuf),
}

impl Default for InspectionDir {
    fn default() -> Self {
        InspectionDir::CopyOf(PathBuf::from("."))
    }
}

/// Copy `src` into `dst` recursively; symlinks are recreated (relative targets that stay
/// inside `src` as they are, others made absolute), special files are skipped.
fn copy_tree(src: &Path, dst: &Path, root: &Path) -> Result<(), Error> {
    for entry in fs::read_dir(src).map_err(|e| Error::io(src, e))? {
        let entry = entry.map_err(|e| Error::io(src, e))?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let ft = entry.file_type().map_err(|e| Error::io(&from, e))?;
        if ft.is_symlink() {
            let target = fs::read_link(&from).map_err(|e| Error::io(&from, e))?;
            let resolved = if target.is_absolute() {
                target.clone()
            } else {
                src.join(&target)
            };
            let inside = fs::canonicalize(&resolved)
                .map(|c| c.starts_with(root))
                .unwrap_or(false);
            let new_target = if target.is_relative() && inside {
                target
            } else {
                resolved
            };
            #[cfg(unix)]
            std::os::unix::fs::symlink(&new_target, &to).map_err(|e| Error::io(&to, e))?;
            #[cfg(not(unix))]
            {
                let _ = new_target;
            }
        } else if ft.is_dir() {
            fs::create_dir(&to).map_err(|e| Error::io(&to, e))?;
            copy_tree(&from, &to, root)?;
        } else if ft.is_file() {
            fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
        }
    }
    Ok(())
}

/// Run every inspection in order; returns their links by name.
pub fn run_inspections(
    inspections: &[Inspection],
    dir: &InspectionDir,
    timeout: Duration,
) -> Result<BTreeMap<String, Link>, Error> {
    let mut out = BTreeMap::new();
    if inspections.is_empty() {
        return Ok(out);
    }
    let _guard;
    let workdir: PathBuf = match dir {
        InspectionDir::InPlace(p) => p.clone(),
        InspectionDir::CopyOf(src) => {
            let tmp = tempfile::Builder::new()
                .prefix("chainseal-inspect-")
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            let root = fs::canonicalize(src).map_err(|e| Error::io(src, e))?;
            copy_tree(&root, tmp.path(), &root)?;
            let p = tmp.path().to_path_buf();
            _guard = tmp;
            p
        }
    };
    let record = RecordOptions {
        base_path: Some(workdir.clone()),
        ..RecordOptions::default()
    };
    let dot = vec![".".to_string()];
    for insp in inspections {
        let fail = |reason: String| Error::Inspection {
            name: insp.name.clone(),
            reason,
        };
        let materials = record_artifacts(&dot, &record).map_err(|e| fail(e.to_string()))?;
        let result = execute_in(&insp.run, false, Some(timeout), Some(&workdir), true)
            .map_err(|e| fail(e.to_string()))?;
        if result.return_value != 0 {
            return Err(fail(format!(
                "command {:?} returned non-zero value {}",
                insp.run, result.return_value
            )));
        }
        let products = record_artifacts(&dot, &record).map_err(|e| fail(e.to_string()))?;
        out.insert(
            insp.name.clone(),
            Link {
                name: insp.name.clone(),
                command: insp.run.clone(),
                materials,
                products,
                byproducts: byproducts(&result),
                environment: Map::new(),
            },
        );
    }
    Ok(out)
}
