//! Pipeline as code: the YAML file a factory run executes.
//!
//! ```yaml
//! name: hello
//! source:
//!   path: .            # or: git: https://…/repo.git  revision: <commit>
//! steps:
//!   - name: build
//!     image: ignored   # accepted for Tekton familiarity; steps use the host's /usr read-only
//!     command: [gcc, -o, /out/hello, source/hello.c]   # or: script: "…" (run by /bin/sh -eu)
//!     inputs: [source/*.c]                                # relative to the workspace
//!     outputs: [hello]                                    # relative to the step's /out
//!     network: false                                      # true only to fetch pinned deps
//!     pins: [{uri: https://…/dep.tar.gz, sha256: <hex>}]
//! ```
//!
//! Parsing is strict: unknown fields are rejected (the error names the field and its
//! line), and [`Pipeline::validate`] checks names, paths, data flow and pins.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use serde::Deserialize;

use crate::Error;

/// The reserved workspace folder that holds the source tree.
pub const SOURCE_DIR: &str = "source";
/// Default per-step timeout in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 600;

/// A parsed, validated pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Pipeline name; part of the builder identity `spiffe://<td>/factory/<name>`.
    pub name: String,
    /// Where the source comes from.
    pub source: Source,
    /// The steps, run in order.
    pub steps: Vec<Step>,
    /// The policy checked before anything is published.
    #[serde(default)]
    pub gate: Option<Gate>,
}

/// The gate before publish: what the run's own attestations must prove.
///
/// ```yaml
/// gate:
///   slsa-level: 3
///   identities: [spiffe://chainseal.local/factory/hello]
/// ```
///
/// The in-toto layout the links are checked against is generated from the pipeline
/// itself (see [`crate::layout`]): every step by the factory's certified key, each
/// step's materials matching the products of the steps it names as inputs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Gate {
    /// The SLSA Build level the verified builder must attain (1-3).
    pub slsa_level: u8,
    /// Certificate identities (SPIFFE IDs) allowed to have signed the attestations.
    pub identities: Vec<String>,
}

/// The source: a local path (relative to the pipeline file) or a git repository at a
/// revision.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Local directory, relative to the pipeline file's directory.
    #[serde(default)]
    pub path: Option<String>,
    /// Git repository URL (or local path) to clone.
    #[serde(default)]
    pub git: Option<String>,
    /// Git revision (commit, tag or branch) to check out; required with `git`.
    #[serde(default)]
    pub revision: Option<String>,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Unique step name; also the workspace folder its outputs are published to.
    pub name: String,
    /// Accepted and ignored (Tekton vocabulary); steps run on the host's read-only /usr.
    #[serde(default)]
    pub image: Option<String>,
    /// The argv to run.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// A shell script run by `/bin/sh -eu -c`.
    #[serde(default)]
    pub script: Option<String>,
    /// Workspace paths or globs (`source/**`, `build/hello`) mounted read-only.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Files the step must leave in its output folder (`/out`), relative to it.
    #[serde(default)]
    pub outputs: Vec<String>,
    /// Whether the step fetches dependencies: the observer then fetches its pins into its
    /// `/out` before it starts (the step itself never gets a network).
    #[serde(default)]
    pub network: bool,
    /// What the step is allowed to fetch, by digest.
    #[serde(default)]
    pub pins: Vec<Pin>,
    /// Timeout in seconds (default 600).
    #[serde(default)]
    pub timeout: Option<u64>,
    /// Resource limits (defaults in the crate README).
    #[serde(default)]
    pub limits: StepLimits,
}

/// Per-step resource limits; each unset one takes the sandbox's default.
///
/// ```yaml
/// limits: {memory: 2GiB, processes: 256, cpu: 300, out: 1GiB, tmp: 512MiB}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepLimits {
    /// Address space per process (`512MiB`, `4GiB`, or bytes).
    #[serde(default)]
    pub memory: Option<Size>,
    /// Processes (and threads) the step may run at once.
    #[serde(default)]
    pub processes: Option<u64>,
    /// CPU seconds per process.
    #[serde(default)]
    pub cpu: Option<u64>,
    /// Total size of the step's `/out`.
    #[serde(default)]
    pub out: Option<Size>,
    /// Size of the step's private `/tmp`.
    #[serde(default)]
    pub tmp: Option<Size>,
}

/// A size in bytes, written as a number or with a binary unit (`KiB`, `MiB`, `GiB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Size(n)),
            Raw::S(s) => parse_size(&s).map(Size).map_err(serde::de::Error::custom),
        }
    }
}

/// `"512MiB"` → bytes. Units: none, `KiB`, `MiB`, `GiB`, `TiB` (binary).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("size {s:?}: expected a number with an optional unit (KiB, MiB, GiB)")
    })?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        u => {
            return Err(format!(
                "size {s:?}: unknown unit {u:?} (KiB, MiB, GiB, TiB)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// A pinned dependency: the only things a fetching step may produce.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// Where it is fetched from; its last path segment is the file name in `/out`.
    pub uri: String,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
}

impl Pin {
    /// The file name the fetched dependency must have in the step's output folder.
    pub fn file_name(&self) -> &str {
        let u = self.uri.split(['?', '#']).next().unwrap_or("");
        u.trim_end_matches('/').rsplit('/').next().unwrap_or("")
    }
}

impl Step {
    /// The argv the sandbox executes.
    pub fn argv(&self) -> Vec<String> {
        match (&self.command, &self.script) {
            (Some(c), _) => c.clone(),
            (None, Some(s)) => vec!["/bin/sh".into(), "-eu".into(), "-c".into(), s.clone()],
            (None, None) => Vec::new(),
        }
    }

    /// The timeout in seconds.
    pub fn timeout_secs(&self) -> u64 {
        self.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS)
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !s.starts_with('.')
}

/// A relative path with no `..`, no root, no empty component.
fn check_rel(file: &str, field: &str, p: &str) -> Result<(), Error> {
    if p.is_empty() {
        return Err(Error::pipeline(file, format!("{field}: empty path")));
    }
    if p.contains('\0') {
        return Err(Error::pipeline(file, format!("{field}: NUL in path")));
    }
    for c in Path::new(p).components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            _ => {
                return Err(Error::pipeline(
                    file,
                    format!("{field}: '{p}' must be relative and must not contain '..'"),
                ));
            }
        }
    }
    Ok(())
}

impl Pipeline {
    /// Parse and validate pipeline YAML; `file` names the source in errors.
    pub fn from_yaml(text: &str, file: &str) -> Result<Self, Error> {
        let p: Pipeline = serde_norway::from_str(text).map_err(|e| Error::pipeline(file, e))?;
        p.validate(file)?;
        Ok(p)
    }

    /// Read, parse and validate a pipeline file.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    /// Check names, paths, data flow (inputs only from `source/` or earlier steps) and
    /// pins.
    pub fn validate(&self, file: &str) -> Result<(), Error> {
        if !valid_name(&self.name) {
            return Err(Error::pipeline(
                file,
                format!(
                    "name: '{}' must be 1-63 characters of [A-Za-z0-9._-], not starting with '.'",
                    self.name
                ),
            ));
        }
        match (&self.source.path, &self.source.git, &self.source.revision) {
            // A local source stays inside the pipeline's folder: no absolute path, no
            // `..`, so a pipeline cannot point the factory at its own state elsewhere.
            (Some(p), None, None) => check_rel(file, "source.path", p)?,
            (None, Some(g), Some(r)) => {
                if g.is_empty() || r.is_empty() || r.starts_with('-') || g.starts_with('-') {
                    return Err(Error::pipeline(
                        file,
                        "source.git / source.revision: must be non-empty and not start with '-'",
                    ));
                }
                if !is_git_url(g) {
                    check_rel(file, "source.git", g)?;
                }
                if r.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Err(Error::pipeline(
                        file,
                        "source.revision: must not contain whitespace or control characters",
                    ));
                }
            }
            (None, Some(_), None) => {
                return Err(Error::pipeline(
                    file,
                    "source.revision: required with source.git",
                ));
            }
            _ => {
                return Err(Error::pipeline(
                    file,
                    "source: exactly one of 'path' or 'git' (with 'revision') is required",
                ));
            }
        }
        if let Some(g) = &self.gate {
            if !(1..=3).contains(&g.slsa_level) {
                return Err(Error::pipeline(
                    file,
                    format!(
                        "gate.slsa-level: {} is not a SLSA Build level (1-3)",
                        g.slsa_level
                    ),
                ));
            }
            if g.identities.is_empty() || g.identities.iter().any(|i| !i.contains("://")) {
                return Err(Error::pipeline(
                    file,
                    "gate.identities: list at least one certificate identity URI (spiffe://…)",
                ));
            }
        }
        if self.steps.is_empty() {
            return Err(Error::pipeline(
                file,
                "steps: at least one step is required",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, s) in self.steps.iter().enumerate() {
            let at = format!("steps[{i}]");
            if !valid_name(&s.name) || s.name == SOURCE_DIR {
                return Err(Error::pipeline(
                    file,
                    format!(
                        "{at}.name: '{}' must be [A-Za-z0-9._-] (1-63) and not '{SOURCE_DIR}'",
                        s.name
                    ),
                ));
            }
            match (&s.command, &s.script) {
                (Some(c), None) if !c.is_empty() && !c[0].is_empty() => {}
                (None, Some(sc)) if !sc.trim().is_empty() => {}
                (Some(_), Some(_)) => {
                    return Err(Error::pipeline(
                        file,
                        format!("{at}: give either 'command' or 'script', not both"),
                    ));
                }
                _ => {
                    return Err(Error::pipeline(
                        file,
                        format!("{at}.command: a non-empty 'command' or 'script' is required"),
                    ));
                }
            }
            for (j, inp) in s.inputs.iter().enumerate() {
                let field = format!("{at}.inputs[{j}]");
                check_rel(file, &field, inp)?;
                let first = inp.split('/').find(|c| !c.is_empty() && *c != ".");
                match first {
                    Some(f) if f == SOURCE_DIR || seen.contains(f) => {}
                    _ => {
                        return Err(Error::pipeline(
                            file,
                            format!(
                                "{field}: '{inp}' must start with '{SOURCE_DIR}/' or the name of an earlier step"
                            ),
                        ));
                    }
                }
            }
            for (j, out) in s.outputs.iter().enumerate() {
                let field = format!("{at}.outputs[{j}]");
                check_rel(file, &field, out)?;
                if out.contains(['*', '?', '[']) {
                    return Err(Error::pipeline(
                        file,
                        format!("{field}: outputs are exact paths, not globs"),
                    ));
                }
            }
            if s.network && s.pins.is_empty() {
                return Err(Error::pipeline(
                    file,
                    format!(
                        "{at}.pins: a step with 'network: true' must pin everything it fetches by sha256"
                    ),
                ));
            }
            let mut pin_names = BTreeSet::new();
            for (j, p) in s.pins.iter().enumerate() {
                let field = format!("{at}.pins[{j}]");
                if p.sha256.len() != 64
                    || !p
                        .sha256
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return Err(Error::pipeline(
                        file,
                        format!("{field}.sha256: must be 64 lowercase hex characters"),
                    ));
                }
                let name = p.file_name();
                if name.is_empty() || name == "." || name == ".." {
                    return Err(Error::pipeline(
                        file,
                        format!("{field}.uri: '{}' has no file name", p.uri),
                    ));
                }
                if !pin_names.insert(name.to_string()) {
                    return Err(Error::pipeline(
                        file,
                        format!("{field}.uri: file name '{name}' pinned twice"),
                    ));
                }
            }
            if s.timeout == Some(0) {
                return Err(Error::pipeline(file, format!("{at}.timeout: must be > 0")));
            }
            let l = &s.limits;
            let zero = [
                ("memory", l.memory.map(|v| v.0)),
                ("processes", l.processes),
                ("cpu", l.cpu),
                ("out", l.out.map(|v| v.0)),
                ("tmp", l.tmp.map(|v| v.0)),
            ];
            if let Some((name, _)) = zero.iter().find(|(_, v)| *v == Some(0)) {
                return Err(Error::pipeline(
                    file,
                    format!("{at}.limits.{name}: must be > 0"),
                ));
            }
            if !seen.insert(s.name.clone()) {
                return Err(Error::pipeline(
                    file,
                    format!("{at}.name: duplicate step name '{}'", s.name),
                ));
            }
        }
        Ok(())
    }
}

/// Whether a `source.git` value is a URL (used as written) rather than a local repository
/// path relative to the pipeline file.
pub fn is_git_url(repo: &str) -> bool {
    repo.contains("://") || (repo.contains('@') && repo.contains(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "
name: hello
source: {path: .}
steps:
  - name: build
    command: [cc, -o, /out/hello, source/hello.c]
    inputs: [source/hello.c]
    outputs: [hello]
  - name: fetch
    network: true
    script: echo hi
    inputs: [build/hello]
    pins: [{uri: 'http://127.0.0.1:1/a/dep.tar', sha256: '0000000000000000000000000000000000000000000000000000000000000000'}]
";

    fn err(y: &str) -> String {
        Pipeline::from_yaml(y, "p.yaml").unwrap_err().to_string()
    }

    #[test]
    fn valid_pipeline_parses_with_pin_file_name() {
        let p = Pipeline::from_yaml(OK, "p.yaml").unwrap();
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.steps[1].pins[0].file_name(), "dep.tar");
        assert_eq!(p.steps[1].argv()[0], "/bin/sh");
    }

    #[test]
    fn unknown_field_is_rejected_naming_it() {
        let e = err(&OK.replace("network: true", "netwrok: true"));
        assert!(e.contains("netwrok"), "{e}");
    }

    #[test]
    fn network_step_without_pins_is_rejected() {
        let y = OK.replace("    pins: [", "    xpins: [");
        assert!(err(&y).contains("xpins"));
        let y = "name: a\nsource: {path: .}\nsteps:\n  - {name: f, network: true, command: [x]}\n";
        assert!(err(y).contains("pins"), "{}", err(y));
    }

    #[test]
    fn inputs_must_come_from_source_or_earlier_steps() {
        let y = OK.replace("inputs: [build/hello]", "inputs: [later/x]");
        assert!(err(&y).contains("steps[1].inputs[0]"));
        let y = OK.replace("inputs: [source/hello.c]", "inputs: [../etc/passwd]");
        assert!(err(&y).contains(".."));
        let y = OK.replace("inputs: [source/hello.c]", "inputs: [/etc/passwd]");
        assert!(err(&y).contains("relative"));
    }

    #[test]
    fn limits_parse_with_units_and_reject_zero_or_unknown_units() {
        let y = |l: &str| {
            format!(
                "name: p\nsource: {{path: .}}\nsteps:\n  - {{name: b, command: [\"true\"], limits: {l}}}\n"
            )
        };
        let p = Pipeline::from_yaml(
            &y("{memory: 2GiB, processes: 64, cpu: 30, out: 512MiB, tmp: 1048576}"),
            "t",
        )
        .unwrap();
        let l = &p.steps[0].limits;
        assert_eq!(l.memory, Some(Size(2 << 30)));
        assert_eq!(l.processes, Some(64));
        assert_eq!(l.out, Some(Size(512 << 20)));
        assert_eq!(l.tmp, Some(Size(1 << 20)));
        for bad in [
            "{memory: 2GB}",
            "{out: 0}",
            "{processes: 0}",
            "{disk: 1GiB}",
            "{tmp: lots}",
        ] {
            assert!(Pipeline::from_yaml(&y(bad), "t").is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_names_commands_and_pins_are_rejected() {
        assert!(err(&OK.replace("name: hello", "name: 'a/b'")).contains("name"));
        assert!(err(&OK.replace("name: fetch", "name: build")).contains("duplicate"));
        assert!(err(&OK.replace("name: fetch", "name: source")).contains("source"));
        assert!(err(&OK.replace("sha256: '0000", "sha256: 'zz00")).contains("sha256"));
        assert!(err(&OK.replace("script: echo hi", "command: []")).contains("command"));
        assert!(err(&OK.replace("outputs: [hello]", "outputs: ['*.o']")).contains("glob"));
        assert!(err(&OK.replace("source: {path: .}", "source: {git: x}")).contains("revision"));
        assert!(
            err(&format!(
                "{OK}gate: {{slsa-level: 4, identities: [spiffe://a/b]}}\n"
            ))
            .contains("slsa-level")
        );
        assert!(
            err(&format!("{OK}gate: {{slsa-level: 3, identities: []}}\n")).contains("identities")
        );
        assert!(
            err(&format!(
                "{OK}gate: {{slsa-level: 3, identities: [x], layout: y}}\n"
            ))
            .contains("layout")
        );
        let ok = Pipeline::from_yaml(
            &format!("{OK}gate: {{slsa-level: 3, identities: ['spiffe://a/factory/hello']}}\n"),
            "p.yaml",
        )
        .unwrap();
        assert_eq!(ok.gate.unwrap().slsa_level, 3);
        assert!(err("").contains("p.yaml"));
        assert!(err("- a\n- b").contains("p.yaml"));
    }
}
