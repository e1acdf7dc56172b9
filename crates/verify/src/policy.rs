//! What a verified bundle must prove about its signer.

use chainseal_crypto::keys::PublicKey;
use chainseal_crypto::x509::FulcioExtensions;
use regex::Regex;

use crate::error::{Check, Error};

/// Matches a string exactly or by regular expression.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// The value must equal this string.
    Exact(String),
    /// The value must match this expression. As in cosign, the expression is not
    /// implicitly anchored: write `^…$` to match the whole value.
    Regex(Regex),
}

impl Matcher {
    /// Compile a regular-expression matcher.
    pub fn regex(expr: &str) -> Result<Self, Error> {
        Regex::new(expr).map(Matcher::Regex).map_err(|e| {
            Error::new(
                Check::Identity,
                format!("invalid regular expression {expr:?}: {e}"),
            )
        })
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "{s:?}"),
            Matcher::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// The OID arc under which Fulcio's certificate extensions live: `…57264.1.N`.
pub const FULCIO_EXTENSION_ARC: &str = "1.3.6.1.4.1.57264.1";

/// Fulcio's name for the extension `1.3.6.1.4.1.57264.1.<arc>`
/// (<https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md>), `None` if unknown.
pub fn fulcio_extension_name(arc: u32) -> Option<&'static str> {
    Some(match arc {
        1 => "Issuer (deprecated)",
        2 => "GitHubWorkflowTrigger",
        3 => "GitHubWorkflowSHA",
        4 => "GitHubWorkflowName",
        5 => "GitHubWorkflowRepository",
        6 => "GitHubWorkflowRef",
        8 => "Issuer",
        9 => "BuildSignerURI",
        10 => "BuildSignerDigest",
        11 => "RunnerEnvironment",
        12 => "SourceRepositoryURI",
        13 => "SourceRepositoryDigest",
        14 => "SourceRepositoryRef",
        15 => "SourceRepositoryIdentifier",
        16 => "SourceRepositoryOwnerURI",
        17 => "SourceRepositoryOwnerIdentifier",
        18 => "BuildConfigURI",
        19 => "BuildConfigDigest",
        20 => "BuildTrigger",
        21 => "RunInvocationURI",
        22 => "SourceRepositoryVisibilityAtSigning",
        _ => return None,
    })
}

/// `Name (1.3.6.1.4.1.57264.1.N)`, for messages.
pub fn fulcio_extension_label(arc: u32) -> String {
    match fulcio_extension_name(arc) {
        Some(n) => format!("{n} ({FULCIO_EXTENSION_ARC}.{arc})"),
        None => format!("{FULCIO_EXTENSION_ARC}.{arc}"),
    }
}

/// A Fulcio certificate extension (`1.3.6.1.4.1.57264.1.<arc>`) the signing certificate
/// must carry with exactly `value` (cosign's `--certificate-github-workflow-*` and the
/// generic `--certificate-source-repository-uri`, … flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionRequirement {
    /// The last arc `N` of the extension's OID.
    pub arc: u32,
    /// The exact value required (the decoded UTF-8 string).
    pub value: String,
}

impl ExtensionRequirement {
    /// Require extension `.1.<arc>` to equal `value`.
    pub fn new(arc: u32, value: impl Into<String>) -> Self {
        ExtensionRequirement {
            arc,
            value: value.into(),
        }
    }
}

/// Check every requirement against the certificate's decoded Fulcio extensions: an absent
/// or different extension fails [`Check::Identity`], naming the extension and both values.
pub fn check_extensions(
    extensions: &FulcioExtensions,
    required: &[ExtensionRequirement],
) -> Result<(), Error> {
    for req in required {
        match extensions.all.get(&req.arc) {
            Some(v) if *v == req.value => {}
            Some(v) => {
                return Err(Error::new(
                    Check::Identity,
                    format!(
                        "certificate extension {} is {v:?}, expected {:?}",
                        fulcio_extension_label(req.arc),
                        req.value
                    ),
                ));
            }
            None => {
                return Err(Error::new(
                    Check::Identity,
                    format!(
                        "the certificate carries no {} extension, expected {:?}",
                        fulcio_extension_label(req.arc),
                        req.value
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Who must have signed.
#[derive(Debug, Clone)]
pub enum Policy {
    /// A Fulcio certificate whose SAN matches `identity`, whose OIDC issuer extension
    /// matches `issuer`, and which carries every extension in `extensions` with exactly
    /// the value given.
    Identity {
        /// SAN matcher (email, URI or other name).
        identity: Matcher,
        /// OIDC issuer matcher.
        issuer: Matcher,
        /// Further Fulcio extensions that must be present with these exact values
        /// (empty: none required).
        extensions: Vec<ExtensionRequirement>,
    },
    /// A managed key: the bundle must carry a public-key hint and verify with this key.
    Key(PublicKey),
}

impl Policy {
    /// An identity policy with no extension requirements.
    pub fn identity(identity: Matcher, issuer: Matcher) -> Self {
        Policy::Identity {
            identity,
            issuer,
            extensions: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(pairs: &[(u32, &str)]) -> FulcioExtensions {
        FulcioExtensions {
            all: pairs.iter().map(|(a, v)| (*a, (*v).to_string())).collect(),
            ..FulcioExtensions::default()
        }
    }

    #[test]
    fn extension_requirements_pass_only_on_exact_values() {
        let ext = fx(&[(12, "git+https://github.com/o/r"), (2, "push")]);
        check_extensions(&ext, &[]).unwrap();
        check_extensions(
            &ext,
            &[
                ExtensionRequirement::new(12, "git+https://github.com/o/r"),
                ExtensionRequirement::new(2, "push"),
            ],
        )
        .unwrap();
        let e = check_extensions(
            &ext,
            &[ExtensionRequirement::new(12, "git+https://github.com/o/r2")],
        )
        .unwrap_err();
        assert_eq!(e.check, Check::Identity);
        assert!(
            e.reason
                .contains("SourceRepositoryURI (1.3.6.1.4.1.57264.1.12)")
                && e.reason.contains("github.com/o/r\"")
                && e.reason.contains("github.com/o/r2"),
            "{e}"
        );
    }

    #[test]
    fn absent_required_extension_fails_naming_it() {
        let ext = fx(&[(12, "git+https://github.com/o/r")]);
        let e = check_extensions(&ext, &[ExtensionRequirement::new(20, "manual")]).unwrap_err();
        assert_eq!(e.check, Check::Identity);
        assert!(
            e.reason
                .contains("no BuildTrigger (1.3.6.1.4.1.57264.1.20)")
                && e.reason.contains("manual"),
            "{e}"
        );
    }
}
