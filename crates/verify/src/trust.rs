//! Trust material: a trusted root with every key and certificate parsed once, so that
//! verifying many bundles does no repeated parsing.

use chainseal_crypto::keys::PublicKey;
use chainseal_crypto::rfc3161::TrustedTsa;
use chainseal_crypto::sct::CtLog;
use chainseal_crypto::x509::Certificate;
use chainseal_model::trust::{TimeRange, TrustedRoot};

use crate::error::{Check, Error};

/// The Sigstore public-good production trusted root, embedded so that verification
/// works offline (byte-identical to the file sigstore clients ship).
pub const PUBLIC_GOOD_TRUSTED_ROOT: &[u8] = include_bytes!("../data/public-good-trusted-root.json");

/// A Rekor log from the trusted root, with its key parsed.
#[derive(Debug, Clone)]
pub struct TrustedLog {
    /// Base URL, e.g. `https://rekor.sigstore.dev`.
    pub base_url: String,
    /// The log's key.
    pub key: PublicKey,
    /// The log ID bundles refer to it by.
    pub log_id: Vec<u8>,
    /// Key ID hint used on checkpoint signatures (first 4 bytes of the checkpoint key ID).
    pub checkpoint_key_hint: [u8; 4],
    /// The name its checkpoint signatures carry: the base URL without scheme.
    pub note_name: String,
    /// When the key may be used.
    pub valid_for: TimeRange,
}

/// A Fulcio CA from the trusted root.
#[derive(Debug, Clone)]
pub struct TrustedCa {
    /// Intermediates (everything but the last certificate of the chain).
    pub intermediates: Vec<Certificate>,
    /// The trust anchor (the chain's last certificate).
    pub root: Certificate,
    /// When the CA may be trusted.
    pub valid_for: TimeRange,
    /// Whether the chain above the issuing CA (its first certificate) validated, checked
    /// once on first use: every link's signature, CA flags, path-length limits and the
    /// issuing CA's extended key usage.
    prevalidated: std::sync::OnceLock<bool>,
}

impl TrustedCa {
    /// Whether the chain above the issuing CA is sound, so that each bundle only needs
    /// leaf → issuing CA plus every certificate's validity at the signing time. Computed
    /// once, on first use.
    pub fn prevalidated(&self) -> bool {
        *self.prevalidated.get_or_init(|| {
            let mut chain = self.intermediates.clone();
            chain.push(self.root.clone());
            prevalidate(&chain)
        })
    }
}

const EKU_CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
const EKU_ANY: &str = "2.5.29.37.0";

/// Check the trusted chain `[issuing CA, …, root]` once: links, CA flags, pathLen and
/// the issuing CA's EKU. Any failure means "validate the full path per bundle" instead.
fn prevalidate(chain: &[Certificate]) -> bool {
    if !chain.iter().all(Certificate::is_ca) {
        return false;
    }
    for (j, pair) in chain.windows(2).enumerate() {
        if pair[0].verify_signed_by(&pair[1]).is_err() {
            return false;
        }
        // chain[j+1] is followed by j+1 intermediates (chain[0..=j]) before the leaf.
        if pair[1]
            .path_len_constraint()
            .is_some_and(|p| (p as usize) < j + 1)
        {
            return false;
        }
    }
    match chain[0].extended_key_usage() {
        Ok(None) => true,
        Ok(Some(ekus)) => ekus.iter().any(|o| {
            let o = o.to_string();
            o == EKU_CODE_SIGNING || o == EKU_ANY
        }),
        Err(_) => false,
    }
}

/// Parsed trust material.
#[derive(Debug, Clone)]
pub struct TrustMaterial {
    /// Rekor logs.
    pub tlogs: Vec<TrustedLog>,
    /// Fulcio CAs.
    pub cas: Vec<TrustedCa>,
    /// CT logs for SCT verification.
    pub ctlogs: Vec<CtLog>,
    /// Timestamp authorities.
    pub tsas: Vec<TrustedTsa>,
}

/// Parse a trusted-root key in the encoding its `keyDetails` declares: `PKCS1_*` keys are
/// bare PKCS#1 RSAPublicKey DER, every other kind is SPKI DER.
fn parse_root_key(raw: &[u8], key_details: &str) -> Result<PublicKey, chainseal_crypto::Error> {
    if key_details.starts_with("PKCS1_") {
        PublicKey::from_pkcs1_der(raw)
    } else {
        PublicKey::from_spki_der(raw)
    }
}

fn root_err(reason: impl Into<String>) -> Error {
    Error::new(Check::TrustedRoot, reason)
}

/// Converts a model time to whole seconds, rounding the start up and the end down so the
/// closed interval is never widened.
fn secs_range(r: &TimeRange) -> (Option<i64>, Option<i64>) {
    let start = if r.start.nanos > 0 {
        r.start.seconds + 1
    } else {
        r.start.seconds
    };
    (Some(start), r.end.map(|e| e.seconds))
}

/// The C2SP note name of a log: its base URL without scheme and trailing slash.
pub fn note_name(base_url: &str) -> String {
    let s = base_url
        .strip_prefix("https://")
        .or_else(|| base_url.strip_prefix("http://"))
        .unwrap_or(base_url);
    s.trim_end_matches('/').to_string()
}

impl TrustMaterial {
    /// The embedded Sigstore public-good production root.
    pub fn public_good() -> Result<Self, Error> {
        Self::from_json(PUBLIC_GOOD_TRUSTED_ROOT)
    }

    /// Parse a trusted root JSON document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let root = TrustedRoot::from_json(bytes).map_err(|e| root_err(e.to_string()))?;
        Self::from_root(&root)
    }

    /// Parse every key and certificate of a trusted root.
    pub fn from_root(root: &TrustedRoot) -> Result<Self, Error> {
        let tlogs = root
            .tlogs
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let key = parse_root_key(&t.public_key, &t.key_details)
                    .map_err(|e| root_err(format!("tlogs[{i}] ({}): {e}", t.base_url)))?;
                let hint_src = t.checkpoint_key_id.as_deref().unwrap_or(&t.log_id);
                let checkpoint_key_hint: [u8; 4] = hint_src
                    .get(..4)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| root_err(format!("tlogs[{i}]: log ID shorter than 4 bytes")))?;
                Ok(TrustedLog {
                    base_url: t.base_url.clone(),
                    key,
                    log_id: t.log_id.clone(),
                    checkpoint_key_hint,
                    note_name: note_name(&t.base_url),
                    valid_for: t.valid_for,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let cas = root
            .certificate_authorities
            .iter()
            .enumerate()
            .map(|(i, ca)| {
                let mut certs = ca
                    .cert_chain
                    .iter()
                    .map(|der| Certificate::from_der(der))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| root_err(format!("certificateAuthorities[{i}]: {e}")))?;
                let root = certs
                    .pop()
                    .ok_or_else(|| root_err(format!("certificateAuthorities[{i}]: empty chain")))?;
                Ok(TrustedCa {
                    intermediates: certs,
                    root,
                    valid_for: ca.valid_for,
                    prevalidated: std::sync::OnceLock::new(),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let ctlogs =
            root.ctlogs
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let key = parse_root_key(&t.public_key, &t.key_details)
                        .map_err(|e| root_err(format!("ctlogs[{i}] ({}): {e}", t.base_url)))?;
                    let log_id: [u8; 32] =
                        t.log_id.as_slice().try_into().map_err(|_| {
                            root_err(format!("ctlogs[{i}]: log ID is not 32 bytes"))
                        })?;
                    let (valid_from, valid_to) = secs_range(&t.valid_for);
                    Ok(CtLog {
                        log_id,
                        key,
                        valid_from,
                        valid_to,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
        let tsas = root
            .timestamp_authorities
            .iter()
            .enumerate()
            .map(|(i, ca)| {
                let chain = ca
                    .cert_chain
                    .iter()
                    .map(|der| Certificate::from_der(der))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| root_err(format!("timestampAuthorities[{i}]: {e}")))?;
                let (valid_from, valid_to) = secs_range(&ca.valid_for);
                Ok(TrustedTsa {
                    chain,
                    valid_from,
                    valid_to,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(TrustMaterial {
            tlogs,
            cas,
            ctlogs,
            tsas,
        })
    }

    /// The first Rekor log with this log ID (a trusted root may list an ID more than once;
    /// see [`TrustMaterial::tlogs_with_id`]).
    pub fn tlog(&self, log_id: &[u8]) -> Option<&TrustedLog> {
        self.tlogs.iter().find(|t| t.log_id == log_id)
    }

    /// Every Rekor log with this log ID, in trusted-root order.
    pub fn tlogs_with_id<'a>(&'a self, log_id: &'a [u8]) -> impl Iterator<Item = &'a TrustedLog> {
        self.tlogs.iter().filter(move |t| t.log_id == log_id)
    }

    /// The trust material used for certificate paths: each CA entry `[I1, …, In, R]` is
    /// preceded by its shorter suffixes `[I2, …, R]`, …, `[R]` (same `validFor`), so that a
    /// leaf issued by any certificate of the entry's chain — e.g. directly by the root of
    /// a `[intermediate, root]` entry — validates through the fast "leaf → issuing CA"
    /// path, exactly as full path building through the entry's chain would accept it.
    pub(crate) fn for_certificate_paths(&self) -> TrustMaterial {
        let mut cas = Vec::with_capacity(self.cas.len() * 2);
        for ca in &self.cas {
            for skip in (1..=ca.intermediates.len()).rev() {
                cas.push(TrustedCa {
                    intermediates: ca.intermediates[skip..].to_vec(),
                    root: ca.root.clone(),
                    valid_for: ca.valid_for,
                    prevalidated: std::sync::OnceLock::new(),
                });
            }
            cas.push(ca.clone());
        }
        TrustMaterial {
            cas,
            ..self.clone()
        }
    }
}
