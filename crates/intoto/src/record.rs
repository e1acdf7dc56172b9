//! Recording artifacts as in-toto 3.1.0's `record_artifacts_as_dict` / `FileResolver`
//! does: paths normalised (`./` stripped), directories walked, gitignore-style exclude
//! patterns (default `*.link*`, `.git`, `*.pyc`, `*~`), symlinked files recorded under the
//! link's name, broken symlinks skipped, symlinked directories followed when asked (with
//! cycle protection the reference lacks), optional line-ending normalisation and
//! left-stripping of path prefixes.

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use regex::Regex;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::models::{Artifacts, Digests};

/// The reference's `ARTIFACT_EXCLUDE_PATTERNS`.
pub const DEFAULT_EXCLUDES: [&str; 4] = ["*.link*", ".git", "*.pyc", "*~"];

/// How to record artifacts.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// Gitignore-style exclude patterns; `None` means [`DEFAULT_EXCLUDES`]. Passing
    /// patterns replaces the defaults, as in the reference.
    pub exclude: Option<Vec<String>>,
    /// Directory the artifact paths are relative to (default: current directory).
    pub base_path: Option<PathBuf>,
    /// Walk into symlinked directories (the reference's `run`/`record` do).
    pub follow_symlink_dirs: bool,
    /// Hash with CRLF and CR replaced by LF.
    pub normalize_line_endings: bool,
    /// Prefixes left-stripped from recorded names (first match wins).
    pub lstrip_paths: Vec<String>,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            exclude: None,
            base_path: None,
            follow_symlink_dirs: true,
            normalize_line_endings: false,
            lstrip_paths: Vec::new(),
        }
    }
}

/// Gitignore-style ("gitwildmatch") exclude patterns; the last matching pattern decides.
#[derive(Debug, Clone)]
pub struct ExcludeSpec {
    patterns: Vec<(bool, Regex)>,
}

impl ExcludeSpec {
    /// Compile patterns. Empty lines and `#` comments are ignored; `!` negates.
    pub fn new(patterns: &[String]) -> Result<Self, Error> {
        let mut out = Vec::new();
        for p in patterns {
            if let Some(r) = gitwildmatch_regex(p)? {
                out.push(r);
            }
        }
        Ok(ExcludeSpec { patterns: out })
    }

    /// True if `path` (normalised, `/`-separated, relative) is excluded.
    pub fn matches(&self, path: &str) -> bool {
        let mut excluded = false;
        for (include, re) in &self.patterns {
            if re.is_match(path) {
                excluded = *include;
            }
        }
        excluded
    }
}

/// Translate one gitwildmatch pattern to `(is_exclude, regex)` as pathspec does.
fn gitwildmatch_regex(pattern: &str) -> Result<Option<(bool, Regex)>, Error> {
    if pattern.starts_with('#') {
        return Ok(None);
    }
    let mut pat = if pattern.ends_with("\\ ") {
        pattern.to_string()
    } else {
        pattern.trim_end().to_string()
    };
    if pat.is_empty() {
        return Ok(None);
    }
    let mut include = true;
    if let Some(rest) = pat.strip_prefix('!') {
        include = false;
        pat = rest.to_string();
    }
    if let Some(rest) = pat.strip_prefix('\\') {
        pat = rest.to_string();
    }
    let mut segs: Vec<&str> = pat.split('/').collect();
    if segs.first() == Some(&"") {
        segs.remove(0);
    } else if (segs.len() == 1 || (segs.len() == 2 && segs[1].is_empty())) && segs[0] != "**" {
        segs.insert(0, "**");
    }
    if segs.is_empty() {
        return Err(Error::Record {
            reason: format!("invalid exclude pattern '{pattern}'"),
        });
    }
    if segs.len() > 1 && segs.last() == Some(&"") {
        let n = segs.len();
        segs[n - 1] = "**";
    }
    let end = segs.len() - 1;
    let mut re = String::from("^");
    let mut need_slash = false;
    for (i, seg) in segs.iter().enumerate() {
        if *seg == "**" {
            if i == 0 && i == end {
                re.push_str(".+");
            } else if i == 0 {
                re.push_str("(?:.+/)?");
                need_slash = false;
            } else if i == end {
                re.push_str("/.*");
            } else {
                re.push_str("(?:/.+)?");
                need_slash = true;
            }
        } else {
            if need_slash {
                re.push('/');
            }
            re.push_str(&segment_regex(seg));
            if i == end {
                re.push_str("(?:/.*)?");
            }
            need_slash = true;
        }
    }
    re.push('$');
    let regex = Regex::new(&re).map_err(|e| Error::Record {
        reason: format!("invalid exclude pattern '{pattern}': {e}"),
    })?;
    Ok(Some((include, regex)))
}

/// One path segment of a gitwildmatch pattern: `*` → `[^/]*`, `?` → `[^/]`, classes kept.
fn segment_regex(seg: &str) -> String {
    let c: Vec<char> = seg.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '\\' if i + 1 < c.len() => {
                i += 1;
                out.push_str(&regex::escape(&c[i].to_string()));
            }
            '[' => {
                let mut j = i + 1;
                if j < c.len() && (c[j] == '!' || c[j] == '^') {
                    j += 1;
                }
                if j < c.len() && c[j] == ']' {
                    j += 1;
                }
                while j < c.len() && c[j] != ']' {
                    j += 1;
                }
                if j < c.len() {
                    let mut body = String::from("[");
                    let mut k = i + 1;
                    if c[k] == '!' || c[k] == '^' {
                        body.push('^');
                        k += 1;
                    }
                    for ch in &c[k..j] {
                        if matches!(ch, '\\' | '[' | ']' | '^' | '&' | '~') {
                            body.push('\\');
                        }
                        body.push(*ch);
                    }
                    body.push(']');
                    out.push_str(&body);
                    i = j;
                } else {
                    out.push_str("\\[");
                }
            }
            ch => out.push_str(&regex::escape(&ch.to_string())),
        }
        i += 1;
    }
    out
}

/// Python `posixpath.normpath`.
pub fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() || name.starts_with('/') {
        name.to_string()
    } else if base.ends_with('/') {
        format!("{base}{name}")
    } else {
        format!("{base}/{name}")
    }
}

struct Recorder<'a> {
    opts: &'a RecordOptions,
    exclude: ExcludeSpec,
    base: PathBuf,
    out: Artifacts,
}

impl Recorder<'_> {
    fn fs_path(&self, rel: &str) -> PathBuf {
        self.base.join(rel)
    }

    fn add(&mut self, rel: &str) -> Result<(), Error> {
        let mut name = rel.replace('\\', "/");
        for prefix in &self.opts.lstrip_paths {
            if let Some(stripped) = name.strip_prefix(prefix.as_str()) {
                name = stripped.to_string();
                break;
            }
        }
        if !self.opts.lstrip_paths.is_empty() && self.out.contains_key(&name) {
            return Err(Error::Record {
                reason: format!(
                    "prefix selection has resulted in non unique dictionary key '{name}'"
                ),
            });
        }
        let digest = hash_file(&self.fs_path(rel), self.opts.normalize_line_endings)?;
        self.out
            .insert(name, Digests::from([("sha256".to_string(), digest)]));
        Ok(())
    }

    fn walk(&mut self, rel_dir: &str, stack: &mut HashSet<PathBuf>) -> Result<(), Error> {
        let dir = self.fs_path(rel_dir);
        let canonical = fs::canonicalize(&dir).map_err(|e| Error::io(&dir, e))?;
        if !stack.insert(canonical.clone()) {
            return Ok(()); // symlink cycle
        }
        let mut entries: Vec<_> = fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| Error::io(&dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for entry in entries {
            let fname = entry.file_name();
            let fname = fname.to_str().ok_or_else(|| Error::Record {
                reason: format!(
                    "file name {:?} in {} is not UTF-8",
                    entry.file_name(),
                    dir.display()
                ),
            })?;
            let rel = normpath(&join(rel_dir, fname));
            let full = entry.path();
            let is_symlink = entry.file_type().map(|t| t.is_symlink()).unwrap_or(false);
            // `os.walk` lists a symlink to a directory among the directories.
            let is_dir = fs::metadata(&full).map(|m| m.is_dir()).unwrap_or(false);
            if is_dir {
                if self.exclude.matches(&rel) {
                    continue;
                }
                if !is_symlink || self.opts.follow_symlink_dirs {
                    subdirs.push(rel);
                }
                continue;
            }
            if self.exclude.matches(&rel) {
                continue;
            }
            // `isfile` follows symlinks: broken links and special files are skipped.
            if fs::metadata(&full).map(|m| m.is_file()).unwrap_or(false) {
                self.add(&rel)?;
            }
        }
        for sub in subdirs {
            self.walk(&sub, stack)?;
        }
        stack.remove(&canonical);
        Ok(())
    }
}

/// Hash `paths` (files or directories, relative to the base path) into `{name: {sha256}}`.
pub fn record_artifacts(paths: &[String], opts: &RecordOptions) -> Result<Artifacts, Error> {
    for (i, a) in opts.lstrip_paths.iter().enumerate() {
        for b in &opts.lstrip_paths[i + 1..] {
            if a.starts_with(b.as_str()) || b.starts_with(a.as_str()) {
                return Err(Error::Record {
                    reason: format!("'{a}' and '{b}' triggered a left substring error"),
                });
            }
        }
    }
    let excludes: Vec<String> = match &opts.exclude {
        Some(p) if !p.is_empty() => p.clone(),
        _ => DEFAULT_EXCLUDES.iter().map(|s| s.to_string()).collect(),
    };
    let mut rec = Recorder {
        opts,
        exclude: ExcludeSpec::new(&excludes)?,
        base: opts.base_path.clone().unwrap_or_else(|| PathBuf::from(".")),
        out: Artifacts::new(),
    };
    for p in paths {
        let path = normpath(p);
        if rec.exclude.matches(&path) {
            continue;
        }
        let full = rec.fs_path(&path);
        let Ok(meta) = fs::metadata(&full) else {
            continue; // does not exist (or broken symlink): skipped, as the reference does
        };
        if meta.is_file() {
            rec.add(&path)?;
        } else if meta.is_dir() {
            let mut stack = HashSet::new();
            rec.walk(&path, &mut stack)?;
        }
    }
    Ok(rec.out)
}

/// SHA-256 of a file, optionally with CRLF/CR normalised to LF.
pub fn hash_file(path: &Path, normalize_line_endings: bool) -> Result<String, Error> {
    let mut f = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending_cr = false;
    let mut out = Vec::with_capacity(buf.len());
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        if !normalize_line_endings {
            hasher.update(&buf[..n]);
            continue;
        }
        out.clear();
        for &b in &buf[..n] {
            if pending_cr {
                out.push(b'\n');
                pending_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            if b == b'\r' {
                pending_cr = true;
            } else {
                out.push(b);
            }
        }
        hasher.update(&out);
    }
    if pending_cr {
        hasher.update(b"\n");
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/intoto/intoto-golang-upstream"
    );

    #[test]
    fn normalised_line_endings_hash_equal_across_platform_files() {
        let linux = hash_file(Path::new(&format!("{GO}/line-ending-linux")), true).unwrap();
        for f in [
            "line-ending-windows",
            "line-ending-macos",
            "line-ending-mixed",
        ] {
            let h = hash_file(Path::new(&format!("{GO}/{f}")), true).unwrap();
            assert_eq!(h, linux, "{f}");
            let raw = hash_file(Path::new(&format!("{GO}/{f}")), false).unwrap();
            assert_ne!(raw, linux, "{f} without normalisation");
        }
    }

    #[test]
    fn normpath_matches_python() {
        assert_eq!(normpath("./a//b/./c/"), "a/b/c");
        assert_eq!(normpath("."), ".");
        assert_eq!(normpath("a/../../b"), "../b");
        assert_eq!(normpath("/x/../y"), "/y");
    }

    #[test]
    fn default_excludes_skip_links_git_and_backups_at_any_depth() {
        let spec = ExcludeSpec::new(&DEFAULT_EXCLUDES.map(String::from)).unwrap();
        assert!(spec.matches("a.link"));
        assert!(spec.matches("sub/b.12345678.link"));
        assert!(spec.matches(".x.link-unfinished"));
        assert!(spec.matches(".git"));
        assert!(spec.matches("proj/.git/HEAD"));
        assert!(spec.matches("x.pyc"));
        assert!(spec.matches("notes~"));
        assert!(!spec.matches("foo.py"));
        assert!(!spec.matches("linker.c"));
    }

    #[test]
    fn anchored_and_negated_exclude_patterns() {
        let spec = ExcludeSpec::new(&[
            "/build".into(),
            "*.o".into(),
            "!keep.o".into(),
            "docs/*.md".into(),
        ])
        .unwrap();
        assert!(spec.matches("build"));
        assert!(spec.matches("build/x"));
        assert!(!spec.matches("sub/build"));
        assert!(spec.matches("a/b.o"));
        assert!(!spec.matches("keep.o"));
        assert!(spec.matches("docs/a.md"));
        assert!(!spec.matches("x/docs/a.md"));
    }
}
