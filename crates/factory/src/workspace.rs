//! The run's workspace: materialising the source, resolving a step's inputs, and checking
//! a fetching step's products against its pins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chainseal_intoto::models::Artifacts;

use crate::Error;
use crate::pipeline::{Pipeline, Step};

/// Copy a source tree (regular files and folders only; `.git` skipped).
fn copy_tree(from: &Path, to: &Path) -> Result<(), Error> {
    for e in walkdir::WalkDir::new(from)
        .follow_links(false)
        .sort_by_file_name()
    {
        let e = e.map_err(|e| Error::Source {
            reason: format!("reading {}: {e}", from.display()),
        })?;
        let rel = e.path().strip_prefix(from).unwrap_or(e.path());
        if rel
            .components()
            .next()
            .is_some_and(|c| c.as_os_str() == ".git")
        {
            continue;
        }
        let dst = to.join(rel);
        let ft = e.file_type();
        if ft.is_dir() {
            std::fs::create_dir_all(&dst).map_err(|err| Error::io(&dst, err))?;
        } else if ft.is_file() {
            std::fs::copy(e.path(), &dst).map_err(|err| Error::io(&dst, err))?;
        } else {
            return Err(Error::Source {
                reason: format!("{} is a symlink or special file", e.path().display()),
            });
        }
    }
    Ok(())
}

/// Materialise the source into `dst`; returns `(uri, extra digests)`.
pub(crate) fn fetch_source(
    p: &Pipeline,
    base: &Path,
    dst: &Path,
) -> Result<(String, BTreeMap<String, String>), Error> {
    if let Some(path) = &p.source.path {
        let src = base.join(path);
        let src = std::fs::canonicalize(&src).map_err(|e| Error::Source {
            reason: format!("source.path {}: {e}", src.display()),
        })?;
        copy_tree(&src, dst)?;
        return Ok((format!("file://{}", src.display()), BTreeMap::new()));
    }
    let (Some(repo), Some(rev)) = (&p.source.git, &p.source.revision) else {
        return Err(Error::Source {
            reason: "no source".into(),
        });
    };
    let git = |args: &[&str], cwd: &Path| -> Result<String, Error> {
        let o = std::process::Command::new("git")
            .args(args)
            .current_dir(cwd)
            .env("GIT_TERMINAL_PROMPT", "0")
            // No `ext::` or other command-running transports, whatever the config says.
            .env("GIT_ALLOW_PROTOCOL", "file:git:http:https:ssh")
            .output()
            .map_err(|e| Error::Source {
                reason: format!("running git: {e}"),
            })?;
        if !o.status.success() {
            return Err(Error::Source {
                reason: format!(
                    "git {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            });
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let tmp = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
    let clone = tmp.path().join("repo");
    // A URL is used as written; anything else is a local repository relative to the
    // pipeline file, recorded by its absolute path.
    let is_url = repo.contains("://") || (repo.contains('@') && repo.contains(':'));
    let (repo_arg, repo_uri) = if is_url {
        (repo.clone(), repo.clone())
    } else {
        let local = std::fs::canonicalize(base.join(repo)).map_err(|e| Error::Source {
            reason: format!("source.git {}: {e}", base.join(repo).display()),
        })?;
        let s = local.to_string_lossy().into_owned();
        (s.clone(), format!("file://{s}"))
    };
    git(
        &["clone", "--quiet", "--no-checkout", "--", &repo_arg, "repo"],
        tmp.path(),
    )?;
    git(&["checkout", "--quiet", "--detach", rev.as_str()], &clone)?;
    let commit = git(&["rev-parse", "HEAD"], &clone)?;
    copy_tree(&clone, dst)?;
    Ok((
        format!("git+{repo_uri}@{rev}"),
        BTreeMap::from([("gitCommit".to_string(), commit)]),
    ))
}

/// Resolve a step's input patterns inside the workspace to `(host path, rel)` mounts.
pub(crate) fn resolve_inputs(step: &Step, ws: &Path) -> Result<Vec<(PathBuf, String)>, Error> {
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    for pat in &step.inputs {
        let pat = pat.trim_start_matches("./").trim_end_matches('/');
        let full = format!("{}/{}", glob::Pattern::escape(&ws.to_string_lossy()), pat);
        let matches = glob::glob(&full).map_err(|e| Error::Artifact {
            step: step.name.clone(),
            reason: format!("input '{pat}': bad pattern: {e}"),
        })?;
        let mut n = 0;
        for m in matches {
            let m = m.map_err(|e| Error::Artifact {
                step: step.name.clone(),
                reason: format!("input '{pat}': {e}"),
            })?;
            let rel = m
                .strip_prefix(ws)
                .unwrap_or(&m)
                .to_string_lossy()
                .into_owned();
            n += 1;
            if out
                .iter()
                .any(|(_, r)| rel.starts_with(&format!("{r}/")) || *r == rel)
            {
                continue;
            }
            out.retain(|(_, r)| !r.starts_with(&format!("{rel}/")));
            out.push((m, rel));
        }
        if n == 0 {
            return Err(Error::Artifact {
                step: step.name.clone(),
                reason: format!("input '{pat}' matched nothing in the workspace"),
            });
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// Check a fetching step's products against its pins: every file must be pinned (by
/// file name and digest) and every pin must be present.
pub(crate) fn check_pins(step: &Step, products: &Artifacts) -> Result<(), Error> {
    if step.pins.is_empty() {
        return Ok(());
    }
    let prefix = format!("{}/", step.name);
    for (name, d) in products {
        let file = name.strip_prefix(&prefix).unwrap_or(name);
        let sha = d.get("sha256").map(String::as_str).unwrap_or("");
        match step.pins.iter().find(|p| p.file_name() == file) {
            None => {
                return Err(Error::Pin {
                    step: step.name.clone(),
                    reason: format!("fetched '{file}' (sha256 {sha}) which is not pinned"),
                });
            }
            Some(p) if p.sha256 != sha => {
                return Err(Error::Pin {
                    step: step.name.clone(),
                    reason: format!(
                        "'{file}' from {} has sha256 {sha}, pinned {}",
                        p.uri, p.sha256
                    ),
                });
            }
            Some(_) => {}
        }
    }
    for p in &step.pins {
        if !products.contains_key(&format!("{prefix}{}", p.file_name())) {
            return Err(Error::Pin {
                step: step.name.clone(),
                reason: format!("pinned '{}' ({}) was not fetched", p.file_name(), p.uri),
            });
        }
    }
    Ok(())
}
