//! The one error type of this crate. Every variant names what failed and where.

use std::fmt;
use std::path::PathBuf;

/// Which artifact set of a step or inspection a rule was applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    /// `expected_materials`, applied to the link's materials.
    Materials,
    /// `expected_products`, applied to the link's products.
    Products,
}

impl fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArtifactKind::Materials => "materials",
            ArtifactKind::Products => "products",
        })
    }
}

/// Everything that can go wrong while reading, recording, signing or verifying in-toto
/// metadata.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Input is not well-formed JSON, or not the expected shape.
    Format {
        /// What was being parsed (file name, field path).
        what: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A key could not be parsed or used.
    Key {
        /// Which key (file name or key ID).
        what: String,
        /// Why.
        reason: String,
    },
    /// A signature could not be created.
    Signing {
        /// Why.
        reason: String,
    },
    /// No signature on the metadata verified with a required key.
    SignatureVerification {
        /// Which metadata (e.g. `layout root.layout`).
        what: String,
        /// Details, naming the key.
        reason: String,
    },
    /// The layout's `expires` is not in the future.
    LayoutExpired {
        /// The layout's `expires` value.
        expires: String,
    },
    /// Fewer link files than the step's threshold were found.
    LinkNotFound {
        /// The step.
        step: String,
        /// Links required.
        threshold: u64,
        /// Link files found.
        found: usize,
        /// Where links were looked for.
        link_dir: PathBuf,
    },
    /// Fewer links than the threshold were validly signed by distinct authorised
    /// functionaries.
    Threshold {
        /// The step.
        step: String,
        /// Links required.
        threshold: u64,
        /// Valid links from distinct authorised functionaries.
        found: usize,
        /// Why each rejected link file was rejected.
        rejected: Vec<String>,
    },
    /// Links for a step with threshold > 1 disagree on materials or products.
    ThresholdDisagreement {
        /// The step.
        step: String,
        /// The two link files that disagree.
        first: String,
        /// The other one.
        second: String,
    },
    /// An artifact rule failed.
    Rule {
        /// The step or inspection.
        item: String,
        /// Which rule list.
        kind: ArtifactKind,
        /// The rule, as written in the layout.
        rule: String,
        /// The artifacts that made it fail (DISALLOW) or the missing name (REQUIRE).
        artifacts: Vec<String>,
    },
    /// A rule in the layout is malformed.
    BadRule {
        /// The step or inspection.
        item: String,
        /// The rule as written.
        rule: String,
        /// Why.
        reason: String,
    },
    /// An inspection command could not run or exited non-zero.
    Inspection {
        /// The inspection.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// Parameter substitution failed.
    Parameter {
        /// Why.
        reason: String,
    },
    /// Recording artifacts failed (e.g. left-stripping made two names equal).
    Record {
        /// Why.
        reason: String,
    },
    /// Running a step's command failed.
    Command {
        /// The command.
        command: Vec<String>,
        /// Why.
        reason: String,
    },
    /// A sublayout failed verification.
    Sublayout {
        /// The step of the superlayout whose link is the sublayout.
        step: String,
        /// The sublayout's failure.
        source: Box<Error>,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn format(what: impl Into<String>, reason: impl fmt::Display) -> Self {
        Error::Format {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn key(what: impl Into<String>, reason: impl fmt::Display) -> Self {
        Error::Key {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Format { what, reason } => write!(f, "malformed {what}: {reason}"),
            Error::Key { what, reason } => write!(f, "key {what}: {reason}"),
            Error::Signing { reason } => write!(f, "signing failed: {reason}"),
            Error::SignatureVerification { what, reason } => {
                write!(f, "signature verification of {what} failed: {reason}")
            }
            Error::LayoutExpired { expires } => write!(f, "layout expired at {expires}"),
            Error::LinkNotFound {
                step,
                threshold,
                found,
                link_dir,
            } => write!(
                f,
                "step '{step}' requires {threshold} link metadata file(s), found {found} in {}",
                link_dir.display()
            ),
            Error::Threshold {
                step,
                threshold,
                found,
                rejected,
            } => {
                write!(
                    f,
                    "step '{step}' requires at least {threshold} link(s) validly signed by \
                     different authorized functionaries, found {found}"
                )?;
                if !rejected.is_empty() {
                    write!(f, " (rejected: {})", rejected.join("; "))?;
                }
                Ok(())
            }
            Error::ThresholdDisagreement {
                step,
                first,
                second,
            } => write!(
                f,
                "step '{step}': links '{first}' and '{second}' report different artifacts"
            ),
            Error::Rule {
                item,
                kind,
                rule,
                artifacts,
            } => {
                if rule.to_ascii_uppercase().starts_with("REQUIRE") {
                    write!(
                        f,
                        "'{item}' expected_{kind}: rule '{rule}' did not find {} among the {kind}",
                        list(artifacts)
                    )
                } else {
                    write!(
                        f,
                        "'{item}' expected_{kind}: rule '{rule}' matched disallowed artifacts {}",
                        list(artifacts)
                    )
                }
            }
            Error::BadRule { item, rule, reason } => {
                write!(f, "'{item}': malformed rule '{rule}': {reason}")
            }
            Error::Inspection { name, reason } => write!(f, "inspection '{name}' failed: {reason}"),
            Error::Parameter { reason } => write!(f, "parameter substitution failed: {reason}"),
            Error::Record { reason } => write!(f, "recording artifacts failed: {reason}"),
            Error::Command { command, reason } => {
                write!(f, "command {command:?} failed: {reason}")
            }
            Error::Sublayout { step, source } => write!(f, "sublayout of step '{step}': {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Sublayout { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}
