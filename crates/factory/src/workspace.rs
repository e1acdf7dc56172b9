//! The run's workspace: materialising the source, resolving a step's inputs, and checking
//! a fetching step's products against its pins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chainseal_intoto::models::Artifacts;

use crate::Error;
use crate::pipeline::{Pipeline, Step, is_git_url};

/// What the observer retrieved: the source's identity as recorded in the provenance and
/// bound into the run's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// The source without its revision: `git+<url>` or `file://<abs dir>`.
    pub repo_uri: String,
    /// The full ref the revision resolved to (`refs/heads/main`, `refs/tags/v1.2.3`);
    /// `None` for a bare commit or a folder.
    pub git_ref: Option<String>,
    /// The commit checked out, for git sources.
    pub commit: Option<String>,
}

impl SourceInfo {
    /// The source URI with its revision: `git+<url>@<ref or commit>`, or the folder's
    /// `file://` URI.
    pub fn uri(&self) -> String {
        match (&self.git_ref, &self.commit) {
            (Some(r), _) => format!("{}@{r}", self.repo_uri),
            (None, Some(c)) => format!("{}@{c}", self.repo_uri),
            (None, None) => self.repo_uri.clone(),
        }
    }
}

/// Whether the bytes hold PEM private-key material (PKCS#8, SEC1, RSA, OpenSSH, cosign's
/// and Sigstore's encrypted keys all end their BEGIN line with `PRIVATE KEY-----`).
fn holds_private_key(bytes: &[u8]) -> bool {
    const MARK: &[u8] = b"PRIVATE KEY-----";
    bytes.windows(MARK.len()).any(|w| w == MARK)
}

/// Copy a source tree (regular files and folders only; `.git` skipped). With
/// `refuse_keys`, a file holding a private key stops the copy, naming it.
fn copy_tree(from: &Path, to: &Path, refuse_keys: bool) -> Result<(), Error> {
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
        crate::observer::checked_name(rel, "source").map_err(|err| Error::Source {
            reason: err.to_string(),
        })?;
        let dst = to.join(rel);
        let ft = e.file_type();
        if ft.is_dir() {
            std::fs::create_dir_all(&dst).map_err(|err| Error::io(&dst, err))?;
        } else if ft.is_file() {
            let bytes = std::fs::read(e.path()).map_err(|err| Error::io(e.path(), err))?;
            if refuse_keys && holds_private_key(&bytes) {
                return Err(Error::Source {
                    reason: format!(
                        "{} holds a private key; the factory never copies key material into a build. Move it out of the source folder, or build from a git revision (only committed files are used)",
                        e.path().display()
                    ),
                });
            }
            std::fs::write(&dst, &bytes).map_err(|err| Error::io(&dst, err))?;
        } else {
            return Err(Error::Source {
                reason: format!("{} is a symlink or special file", e.path().display()),
            });
        }
    }
    Ok(())
}

/// Refuse a local source folder that is, contains, or lies inside any of `protected`
/// (the stack and authority folders, key files, the output and publish folders).
fn check_overlap(src: &Path, protected: &[PathBuf]) -> Result<(), Error> {
    for p in protected {
        let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        if p.starts_with(src) || src.starts_with(&p) {
            return Err(Error::Source {
                reason: format!(
                    "source folder {} overlaps {}, which belongs to the factory (its stack, keys or output); keep the factory's state outside the project, or build from a git revision",
                    src.display(),
                    p.display()
                ),
            });
        }
    }
    Ok(())
}

fn git(args: &[&str], cwd: &Path) -> Result<String, Error> {
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
}

fn is_commit_id(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Resolve `rev` against the repository's advertised refs (`git ls-remote`): a full ref
/// as written, a short name that is exactly one branch or one tag, or a full commit id.
/// Returns `(full ref, commit)`; an annotated tag resolves to the commit it points at.
pub(crate) fn resolve_revision(
    ls_remote: &str,
    rev: &str,
) -> Result<(Option<String>, String), Error> {
    let mut refs: BTreeMap<&str, &str> = BTreeMap::new();
    let mut peeled: BTreeMap<&str, &str> = BTreeMap::new();
    for line in ls_remote.lines() {
        let Some((id, name)) = line.split_once('\t') else {
            continue;
        };
        match name.strip_suffix("^{}") {
            Some(base) => {
                peeled.insert(base, id);
            }
            None => {
                refs.insert(name, id);
            }
        }
    }
    let target = |name: &str| -> Option<String> {
        peeled
            .get(name)
            .or_else(|| refs.get(name))
            .map(|s| s.to_string())
    };
    if rev.starts_with("refs/") {
        return match target(rev) {
            Some(c) if rev.starts_with("refs/heads/") || rev.starts_with("refs/tags/") => {
                Ok((Some(rev.to_string()), c))
            }
            Some(_) => Err(Error::Source {
                reason: format!(
                    "source.revision '{rev}' is neither a branch (refs/heads/…) nor a tag (refs/tags/…)"
                ),
            }),
            None => Err(Error::Source {
                reason: format!("source.revision '{rev}': no such ref in the repository"),
            }),
        };
    }
    let branch = format!("refs/heads/{rev}");
    let tag = format!("refs/tags/{rev}");
    match (target(&branch), target(&tag)) {
        (Some(_), Some(_)) => Err(Error::Source {
            reason: format!(
                "source.revision '{rev}' is both a branch and a tag; write '{branch}' or '{tag}'"
            ),
        }),
        (Some(c), None) => Ok((Some(branch), c)),
        (None, Some(c)) => Ok((Some(tag), c)),
        (None, None) if is_commit_id(rev) => Ok((None, rev.to_ascii_lowercase())),
        (None, None) => Err(Error::Source {
            reason: format!(
                "source.revision '{rev}' is not a branch, a tag or a full commit id of the repository"
            ),
        }),
    }
}

/// Materialise the source into `dst`. A folder source must lie inside `base` (the
/// pipeline's folder) and must not overlap `protected`; it may hold no private key. A git
/// source is the committed tree at the resolved revision.
pub(crate) fn fetch_source(
    p: &Pipeline,
    base: &Path,
    dst: &Path,
    protected: &[PathBuf],
) -> Result<SourceInfo, Error> {
    let base = std::fs::canonicalize(base).map_err(|e| Error::io(base, e))?;
    if let Some(path) = &p.source.path {
        let src = base.join(path);
        let src = std::fs::canonicalize(&src).map_err(|e| Error::Source {
            reason: format!("source.path {}: {e}", src.display()),
        })?;
        if !src.starts_with(&base) {
            return Err(Error::Source {
                reason: format!(
                    "source.path {path} resolves to {}, outside the pipeline's folder {}",
                    src.display(),
                    base.display()
                ),
            });
        }
        check_overlap(&src, protected)?;
        copy_tree(&src, dst, true)?;
        return Ok(SourceInfo {
            repo_uri: format!("file://{}", src.display()),
            git_ref: None,
            commit: None,
        });
    }
    let (Some(repo), Some(rev)) = (&p.source.git, &p.source.revision) else {
        return Err(Error::Source {
            reason: "no source".into(),
        });
    };
    let tmp = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
    let clone = tmp.path().join("repo");
    // A URL is used as written; anything else is a local repository inside the pipeline's
    // folder, recorded by its absolute path.
    let (repo_arg, repo_uri) = if is_git_url(repo) {
        (repo.clone(), repo.clone())
    } else {
        let local = std::fs::canonicalize(base.join(repo)).map_err(|e| Error::Source {
            reason: format!("source.git {}: {e}", base.join(repo).display()),
        })?;
        if !local.starts_with(&base) {
            return Err(Error::Source {
                reason: format!(
                    "source.git {repo} resolves to {}, outside the pipeline's folder; name it by URL (file://…) to build another repository",
                    local.display()
                ),
            });
        }
        let s = local.to_str().ok_or_else(|| Error::Source {
            reason: format!("source.git {} is not a UTF-8 path", local.display()),
        })?;
        (s.to_string(), format!("file://{s}"))
    };
    let advertised = git(&["ls-remote", "--", &repo_arg], tmp.path())?;
    let (git_ref, commit) = resolve_revision(&advertised, rev)?;
    git(
        &["clone", "--quiet", "--no-checkout", "--", &repo_arg, "repo"],
        tmp.path(),
    )?;
    git(&["checkout", "--quiet", "--detach", &commit], &clone)?;
    let head = git(&["rev-parse", "HEAD"], &clone)?;
    if !head.eq_ignore_ascii_case(&commit) {
        return Err(Error::Source {
            reason: format!("checked out {head}, but {rev} resolved to {commit}"),
        });
    }
    copy_tree(&clone, dst, false)?;
    Ok(SourceInfo {
        repo_uri: format!("git+{repo_uri}"),
        git_ref,
        commit: Some(head),
    })
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
