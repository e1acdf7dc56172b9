//! The one error type of this crate. Every variant names what failed and where.

use std::path::PathBuf;

/// Everything that can go wrong while loading a pipeline, running its steps in the
/// sandbox, observing them, or signing their attestations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The pipeline file is not valid YAML, has an unknown field, or fails validation.
    #[error("pipeline {file}: {reason}")]
    Pipeline {
        /// The pipeline file.
        file: String,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The source could not be materialised (path missing, git failed).
    #[error("source: {reason}")]
    Source {
        /// Why.
        reason: String,
    },
    /// The sandbox could not be set up or the step could not be started in it.
    #[error("step '{step}': sandbox: {reason}")]
    Sandbox {
        /// The step.
        step: String,
        /// Why.
        reason: String,
    },
    /// The step's command exited unsuccessfully (or was killed).
    #[error("step '{step}': command failed with {status}; stderr (last lines):\n{stderr_tail}")]
    StepFailed {
        /// The step.
        step: String,
        /// Exit status description (`exit code 1`, `signal 9`, `timed out`).
        status: String,
        /// The end of the step's stderr.
        stderr_tail: String,
    },
    /// A declared input or output is missing, or an output escapes its folder.
    #[error("step '{step}': {reason}")]
    Artifact {
        /// The step.
        step: String,
        /// Which artifact and why.
        reason: String,
    },
    /// A step fetched something it did not pin, or a pinned digest does not match.
    #[error("step '{step}': pin check failed: {reason}")]
    Pin {
        /// The step.
        step: String,
        /// Which file or pin, with the digests.
        reason: String,
    },
    /// A secret (the factory key) would be visible to a step.
    #[error("refusing to run: {reason}")]
    SecretExposed {
        /// Which path and how it would be exposed.
        reason: String,
    },
    /// Signing an attestation failed.
    #[error("signing {what}: {reason}")]
    Signing {
        /// What was being signed.
        what: String,
        /// Why.
        reason: String,
    },
    /// The gate before publish refused the run: `check` names the check that failed.
    #[error("gate: {check}: {reason}")]
    Gate {
        /// The failing check (`provenance`, `slsa-level`, `link bundle`, `in-toto layout`, …).
        check: String,
        /// Why, naming the file or step.
        reason: String,
    },
    /// Publishing the verified artifacts failed.
    #[error("publish to {}: {reason}", dir.display())]
    Publish {
        /// The publish folder.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// An in-toto operation (link model, key) failed.
    #[error(transparent)]
    Intoto(#[from] chainseal_intoto::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn gate(check: &str, reason: impl ToString) -> Self {
        Error::Gate {
            check: check.to_string(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn pipeline(file: impl Into<String>, reason: impl ToString) -> Self {
        Error::Pipeline {
            file: file.into(),
            reason: reason.to_string(),
        }
    }
}
