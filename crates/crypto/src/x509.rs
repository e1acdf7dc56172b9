//! X.509 certificates: parsing (x509-cert), identity extraction (SAN, Fulcio extensions) and
//! path validation at a given time (rustls-webpki).
//!
//! Path validation uses the *hybrid* model Sigstore requires: every certificate of the path
//! (leaf, intermediates **and** the trust anchor) must be valid at the one instant given
//! (the signing time), not "now".

use std::collections::BTreeMap;
use std::time::Duration;

use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, Utf8StringRef};
use der::{Decode, Encode};
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, SubjectKeyIdentifier,
};

use crate::Error;
use crate::keys::{PublicKey, SignatureScheme, pem_blocks};

/// OID of the SubjectAltName extension (2.5.29.17).
const OID_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// id-kp-codeSigning.
const OID_KP_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// id-kp-timeStamping.
const OID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
/// DER value bytes of id-kp-codeSigning (for rustls-webpki).
const EKU_CODE_SIGNING_DER: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
/// DER value bytes of id-kp-timeStamping (for rustls-webpki).
const EKU_TIME_STAMPING_DER: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];
/// Arc prefix of Sigstore's Fulcio extensions, `1.3.6.1.4.1.57264.1.N`.
/// Fulcio's extension arc: its extensions are `FULCIO_OID.N`.
const FULCIO_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1");

fn parse_err(what: &'static str) -> impl Fn(der::Error) -> Error {
    move |e| Error::CertificateParse {
        what,
        reason: e.to_string(),
    }
}

fn path_err(reason: impl Into<String>) -> Error {
    Error::CertificatePath {
        reason: reason.into(),
    }
}

/// The three top-level fields of a certificate, borrowed.
#[derive(der::Sequence)]
struct RawCertificate<'a> {
    tbs: AnyRef<'a>,
    algorithm: spki::AlgorithmIdentifierRef<'a>,
    signature: BitStringRef<'a>,
}

/// One Subject Alternative Name entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubjectAltName {
    /// `rfc822Name`.
    Email(String),
    /// `uniformResourceIdentifier`.
    Uri(String),
    /// `dNSName`.
    Dns(String),
    /// `otherName` (Fulcio uses `1.3.6.1.4.1.57264.1.7` with a UTF8String username).
    OtherName {
        /// The `type-id` OID, dotted.
        type_id: String,
        /// The value, if it is a UTF8String.
        value: Option<String>,
    },
    /// Any other kind (IP address, directory name, ...).
    Other,
}

impl SubjectAltName {
    /// The textual value of an email, URI, DNS or UTF-8 otherName entry.
    pub fn value(&self) -> Option<&str> {
        match self {
            SubjectAltName::Email(s) | SubjectAltName::Uri(s) | SubjectAltName::Dns(s) => Some(s),
            SubjectAltName::OtherName { value, .. } => value.as_deref(),
            SubjectAltName::Other => None,
        }
    }
}

/// An X.509 certificate. Keeps the original DER bytes; all accessors read the parsed form.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    tbs_der: Vec<u8>,
    cert: x509_cert::Certificate,
    sans: Vec<SubjectAltName>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field(
                "subject",
                &self.cert.tbs_certificate().subject().to_string(),
            )
            .field("issuer", &self.cert.tbs_certificate().issuer().to_string())
            .field("not_before", &self.not_before_unix())
            .field("not_after", &self.not_after_unix())
            .finish()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}
impl Eq for Certificate {}

impl Certificate {
    /// Parse one DER certificate (strict DER, no trailing bytes). Rejects certificates with a
    /// duplicated extension or a malformed SubjectAltName.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        let cert = x509_cert::Certificate::from_der(der).map_err(parse_err("certificate"))?;
        let raw = RawCertificate::from_der(der).map_err(parse_err("certificate"))?;
        let tbs_der = raw.tbs.to_der().map_err(parse_err("TBSCertificate"))?;
        // DER is canonical, so the re-encoded TBS must be the original bytes.
        if !(2..=6).any(|h| der.get(h..h + tbs_der.len()) == Some(&tbs_der[..])) {
            return Err(Error::CertificateParse {
                what: "TBSCertificate",
                reason: "not canonically encoded".into(),
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        for ext in cert.tbs_certificate().extensions().into_iter().flatten() {
            if !seen.insert(ext.extn_id) {
                return Err(Error::CertificateParse {
                    what: "extensions",
                    reason: format!("extension {} appears more than once", ext.extn_id),
                });
            }
        }
        let sans = parse_sans(&cert)?;
        Ok(Self {
            der: der.to_vec(),
            tbs_der,
            cert,
            sans,
        })
    }

    /// Parse exactly one `CERTIFICATE` PEM block.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let mut chain = Self::pem_chain(pem)?;
        match (chain.pop(), chain.is_empty()) {
            (Some(cert), true) => Ok(cert),
            _ => Err(Error::CertificateParse {
                what: "PEM",
                reason: "expected exactly one CERTIFICATE block".into(),
            }),
        }
    }

    /// Whether `pem` is exactly one `CERTIFICATE` block holding this certificate's DER
    /// byte for byte (compared, not parsed: a different encoding is a different
    /// certificate).
    pub fn is_pem_of_self(&self, pem: &str) -> bool {
        matches!(pem_blocks(pem).as_deref(), Ok([(label, der)]) if label == "CERTIFICATE" && der.as_slice() == self.der())
    }

    /// Parse every `CERTIFICATE` PEM block of `pem`, in order. Any other block is an error.
    pub fn pem_chain(pem: &str) -> Result<Vec<Self>, Error> {
        let blocks = pem_blocks(pem).map_err(|reason| Error::CertificateParse {
            what: "PEM",
            reason,
        })?;
        blocks
            .iter()
            .map(|(label, der)| {
                if label == "CERTIFICATE" {
                    Self::from_der(der)
                } else {
                    Err(Error::CertificateParse {
                        what: "PEM",
                        reason: format!("unexpected block {label:?} in certificate PEM"),
                    })
                }
            })
            .collect()
    }

    /// The original DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The DER `TBSCertificate` (the signed part), byte-identical to the original.
    pub fn tbs_der(&self) -> &[u8] {
        &self.tbs_der
    }

    /// The parsed certificate (x509-cert).
    pub fn inner(&self) -> &x509_cert::Certificate {
        &self.cert
    }

    /// The subject public key.
    pub fn public_key(&self) -> Result<PublicKey, Error> {
        let spki = self.spki_der()?;
        PublicKey::from_spki_der(&spki)
    }

    /// DER `SubjectPublicKeyInfo`.
    pub fn spki_der(&self) -> Result<Vec<u8>, Error> {
        self.cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(parse_err("subjectPublicKeyInfo"))
    }

    /// `notBefore` as Unix seconds.
    pub fn not_before_unix(&self) -> i64 {
        unix(self.cert.tbs_certificate().validity().not_before)
    }

    /// `notAfter` as Unix seconds (the certificate is valid *through* this second).
    pub fn not_after_unix(&self) -> i64 {
        unix(self.cert.tbs_certificate().validity().not_after)
    }

    /// Whether `at_unix` lies within `[notBefore, notAfter]` (both inclusive).
    pub fn is_valid_at(&self, at_unix: i64) -> bool {
        self.not_before_unix() <= at_unix && at_unix <= self.not_after_unix()
    }

    /// Serial number bytes (big-endian, as encoded).
    pub fn serial_bytes(&self) -> &[u8] {
        self.cert.tbs_certificate().serial_number().as_bytes()
    }

    /// DER of the issuer `Name`.
    pub fn issuer_der(&self) -> Vec<u8> {
        // Re-encoding a parsed Name only fails on allocation failure.
        self.cert
            .tbs_certificate()
            .issuer()
            .to_der()
            .unwrap_or_default()
    }

    /// DER of the subject `Name`.
    pub fn subject_der(&self) -> Vec<u8> {
        self.cert
            .tbs_certificate()
            .subject()
            .to_der()
            .unwrap_or_default()
    }

    /// Subject as an RFC 4514 string (for messages).
    pub fn subject_string(&self) -> String {
        self.cert.tbs_certificate().subject().to_string()
    }

    /// Issuer as an RFC 4514 string (for messages).
    pub fn issuer_string(&self) -> String {
        self.cert.tbs_certificate().issuer().to_string()
    }

    /// The SubjectKeyIdentifier, if present and well-formed.
    pub fn subject_key_id(&self) -> Option<Vec<u8>> {
        let (_, ski) = self
            .cert
            .tbs_certificate()
            .get_extension::<SubjectKeyIdentifier>()
            .ok()??;
        Some(ski.0.as_bytes().to_vec())
    }

    /// The AuthorityKeyIdentifier's keyIdentifier, if present and well-formed.
    pub fn authority_key_id(&self) -> Option<Vec<u8>> {
        let (_, aki) = self
            .cert
            .tbs_certificate()
            .get_extension::<AuthorityKeyIdentifier>()
            .ok()??;
        Some(aki.key_identifier?.as_bytes().to_vec())
    }

    /// Whether BasicConstraints says `cA = TRUE`.
    pub fn is_ca(&self) -> bool {
        matches!(
            self.cert
                .tbs_certificate()
                .get_extension::<BasicConstraints>(),
            Ok(Some((_, BasicConstraints { ca: true, .. })))
        )
    }

    /// The basicConstraints pathLenConstraint, if the certificate carries one.
    pub fn path_len_constraint(&self) -> Option<u8> {
        match self
            .cert
            .tbs_certificate()
            .get_extension::<BasicConstraints>()
        {
            Ok(Some((_, bc))) => bc.path_len_constraint,
            _ => None,
        }
    }

    /// Extended key usage OIDs; `None` when the extension is absent.
    pub fn extended_key_usage(&self) -> Result<Option<Vec<ObjectIdentifier>>, Error> {
        let eku = self
            .cert
            .tbs_certificate()
            .get_extension::<ExtendedKeyUsage>()
            .map_err(parse_err("extendedKeyUsage"))?;
        Ok(eku.map(|(_, e)| e.0))
    }

    /// Subject equals issuer and the certificate's signature verifies with its own key.
    pub fn is_self_signed(&self) -> bool {
        self.issuer_der() == self.subject_der() && self.verify_signed_by(self).is_ok()
    }

    /// Verify this certificate's signature with `issuer`'s public key.
    pub fn verify_signed_by(&self, issuer: &Certificate) -> Result<(), Error> {
        let raw = RawCertificate::from_der(&self.der).map_err(parse_err("certificate"))?;
        let scheme = scheme_for_sig_alg(&raw.algorithm)?;
        let sig = raw
            .signature
            .as_bytes()
            .ok_or_else(|| Error::CertificateParse {
                what: "signatureValue",
                reason: "unused bits".into(),
            })?;
        issuer
            .public_key()?
            .verify_with(scheme, &self.tbs_der, sig)
            .map_err(|e| {
                path_err(format!(
                    "bad signature: certificate {:?} is not signed by {:?}: {e}",
                    self.subject_string(),
                    issuer.subject_string()
                ))
            })
    }

    /// The Subject Alternative Names (empty when the extension is absent).
    pub fn subject_alt_names(&self) -> Vec<SubjectAltName> {
        self.sans.clone()
    }

    /// Raw `extnValue` bytes of the extension `oid`, if present.
    pub fn extension_value(&self, oid: &ObjectIdentifier) -> Option<&[u8]> {
        self.cert
            .tbs_certificate()
            .extensions()?
            .iter()
            .find(|e| &e.extn_id == oid)
            .map(|e| e.extn_value.as_bytes())
    }

    /// Sigstore Fulcio extensions (`1.3.6.1.4.1.57264.1.*`). Fails when a value is malformed
    /// or when the deprecated issuer (`.1.1`) and the issuer (`.1.8`) disagree.
    pub fn fulcio_identity(&self) -> Result<FulcioExtensions, Error> {
        FulcioExtensions::from_certificate(self)
    }
}

fn unix(t: x509_cert::time::Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

fn parse_sans(cert: &x509_cert::Certificate) -> Result<Vec<SubjectAltName>, Error> {
    let Some(ext) = cert
        .tbs_certificate()
        .extensions()
        .and_then(|exts| exts.iter().find(|e| e.extn_id == OID_SAN))
    else {
        return Ok(Vec::new());
    };
    let names = x509_cert::ext::pkix::SubjectAltName::from_der(ext.extn_value.as_bytes())
        .map_err(parse_err("subjectAltName"))?;
    Ok(names
        .0
        .into_iter()
        .map(|name| match name {
            GeneralName::Rfc822Name(s) => SubjectAltName::Email(s.to_string()),
            GeneralName::UniformResourceIdentifier(s) => SubjectAltName::Uri(s.to_string()),
            GeneralName::DnsName(s) => SubjectAltName::Dns(s.to_string()),
            GeneralName::OtherName(o) => SubjectAltName::OtherName {
                type_id: o.type_id.to_string(),
                value: o
                    .value
                    .decode_as::<Utf8StringRef<'_>>()
                    .ok()
                    .map(|s| s.to_string()),
            },
            _ => SubjectAltName::Other,
        })
        .collect())
}

/// Certificate signature algorithms, compared as OIDs (no string formatting per check).
const SIG_ALGS: [(ObjectIdentifier, SignatureScheme); 7] = [
    (
        ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
        SignatureScheme::EcdsaSha256,
    ),
    (
        ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3"),
        SignatureScheme::EcdsaSha384,
    ),
    (
        ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4"),
        SignatureScheme::EcdsaSha512,
    ),
    (
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11"),
        SignatureScheme::RsaPkcs1Sha256,
    ),
    (
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12"),
        SignatureScheme::RsaPkcs1Sha384,
    ),
    (
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13"),
        SignatureScheme::RsaPkcs1Sha512,
    ),
    (
        ObjectIdentifier::new_unwrap("1.3.101.112"),
        SignatureScheme::Ed25519,
    ),
];

fn scheme_for_sig_alg(alg: &spki::AlgorithmIdentifierRef<'_>) -> Result<SignatureScheme, Error> {
    SIG_ALGS
        .iter()
        .find(|(oid, _)| *oid == alg.oid)
        .map(|(_, scheme)| *scheme)
        .ok_or_else(|| Error::CertificateParse {
            what: "signatureAlgorithm",
            reason: format!("unsupported certificate signature algorithm {}", alg.oid),
        })
}

/// Sigstore Fulcio certificate extensions (<https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md>).
///
/// `.1.1`–`.1.6` (deprecated) hold the raw UTF-8 bytes; `.1.8` onwards hold a DER UTF8String.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FulcioExtensions {
    /// `.1.1` OIDC issuer (deprecated, raw bytes).
    pub issuer_v1: Option<String>,
    /// `.1.8` OIDC issuer (DER UTF8String).
    pub issuer_v2: Option<String>,
    /// `.1.2` GitHub workflow trigger (deprecated).
    pub github_workflow_trigger: Option<String>,
    /// `.1.3` GitHub workflow SHA (deprecated).
    pub github_workflow_sha: Option<String>,
    /// `.1.4` GitHub workflow name (deprecated).
    pub github_workflow_name: Option<String>,
    /// `.1.5` GitHub workflow repository (deprecated).
    pub github_workflow_repository: Option<String>,
    /// `.1.6` GitHub workflow ref (deprecated).
    pub github_workflow_ref: Option<String>,
    /// `.1.9` build signer URI.
    pub build_signer_uri: Option<String>,
    /// `.1.10` build signer digest.
    pub build_signer_digest: Option<String>,
    /// `.1.11` runner environment.
    pub runner_environment: Option<String>,
    /// `.1.12` source repository URI.
    pub source_repository_uri: Option<String>,
    /// `.1.13` source repository digest.
    pub source_repository_digest: Option<String>,
    /// `.1.14` source repository ref.
    pub source_repository_ref: Option<String>,
    /// `.1.15` source repository identifier.
    pub source_repository_identifier: Option<String>,
    /// `.1.16` source repository owner URI.
    pub source_repository_owner_uri: Option<String>,
    /// `.1.17` source repository owner identifier.
    pub source_repository_owner_identifier: Option<String>,
    /// `.1.18` build config URI.
    pub build_config_uri: Option<String>,
    /// `.1.19` build config digest.
    pub build_config_digest: Option<String>,
    /// `.1.20` build trigger.
    pub build_trigger: Option<String>,
    /// `.1.21` run invocation URI.
    pub run_invocation_uri: Option<String>,
    /// `.1.22` source repository visibility at signing.
    pub source_repository_visibility_at_signing: Option<String>,
    /// Every Fulcio extension present, keyed by its last arc (`N` of `…57264.1.N`), decoded
    /// as above (unknown arcs ≥ 8 as DER UTF8String when possible).
    pub all: BTreeMap<u32, String>,
}

impl FulcioExtensions {
    /// The OIDC issuer: `.1.8` preferred, else the deprecated `.1.1`. (When both are present
    /// they were checked to agree when the extensions were extracted.)
    pub fn issuer(&self) -> Option<&str> {
        self.issuer_v2.as_deref().or(self.issuer_v1.as_deref())
    }

    fn from_certificate(cert: &Certificate) -> Result<Self, Error> {
        let mut out = Self::default();
        for ext in cert
            .cert
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
        {
            if ext.extn_id.parent() != Some(FULCIO_OID) {
                continue;
            }
            let Some(arc) = ext.extn_id.arcs().last() else {
                continue;
            };
            let oid = ext.extn_id;
            let bytes = ext.extn_value.as_bytes();
            let value = if arc <= 6 {
                String::from_utf8(bytes.to_vec()).map_err(|_| Error::CertificateParse {
                    what: "Fulcio extension",
                    reason: format!("{oid} is not UTF-8"),
                })?
            } else {
                match Utf8StringRef::from_der(bytes) {
                    Ok(s) => s.to_string(),
                    Err(e) if arc <= 22 => {
                        return Err(Error::CertificateParse {
                            what: "Fulcio extension",
                            reason: format!("{oid} is not a DER UTF8String: {e}"),
                        });
                    }
                    Err(_) => continue,
                }
            };
            let slot = match arc {
                1 => &mut out.issuer_v1,
                2 => &mut out.github_workflow_trigger,
                3 => &mut out.github_workflow_sha,
                4 => &mut out.github_workflow_name,
                5 => &mut out.github_workflow_repository,
                6 => &mut out.github_workflow_ref,
                8 => &mut out.issuer_v2,
                9 => &mut out.build_signer_uri,
                10 => &mut out.build_signer_digest,
                11 => &mut out.runner_environment,
                12 => &mut out.source_repository_uri,
                13 => &mut out.source_repository_digest,
                14 => &mut out.source_repository_ref,
                15 => &mut out.source_repository_identifier,
                16 => &mut out.source_repository_owner_uri,
                17 => &mut out.source_repository_owner_identifier,
                18 => &mut out.build_config_uri,
                19 => &mut out.build_config_digest,
                20 => &mut out.build_trigger,
                21 => &mut out.run_invocation_uri,
                22 => &mut out.source_repository_visibility_at_signing,
                _ => {
                    out.all.insert(arc, value);
                    continue;
                }
            };
            *slot = Some(value.clone());
            out.all.insert(arc, value);
        }
        if let (Some(v1), Some(v2)) = (&out.issuer_v1, &out.issuer_v2)
            && v1 != v2
        {
            return Err(Error::CertificateIdentity {
                reason: format!("Fulcio issuer extensions disagree: .1.1 = {v1:?}, .1.8 = {v2:?}"),
            });
        }
        Ok(out)
    }
}

/// What the leaf certificate must be usable for (its extended key usage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPurpose {
    /// id-kp-codeSigning (Fulcio signing certificates).
    CodeSigning,
    /// id-kp-timeStamping (RFC 3161 TSA certificates).
    TimeStamping,
}

impl KeyPurpose {
    fn oid(self) -> ObjectIdentifier {
        match self {
            KeyPurpose::CodeSigning => OID_KP_CODE_SIGNING,
            KeyPurpose::TimeStamping => OID_KP_TIME_STAMPING,
        }
    }

    fn webpki_der(self) -> &'static [u8] {
        match self {
            KeyPurpose::CodeSigning => EKU_CODE_SIGNING_DER,
            KeyPurpose::TimeStamping => EKU_TIME_STAMPING_DER,
        }
    }
}

fn check_validity(cert: &Certificate, role: &str, at_unix: i64) -> Result<(), Error> {
    if at_unix < cert.not_before_unix() {
        return Err(path_err(format!(
            "{role} certificate {:?} not yet valid at {at_unix}: valid from {}",
            cert.subject_string(),
            cert.not_before_unix()
        )));
    }
    if at_unix > cert.not_after_unix() {
        return Err(path_err(format!(
            "{role} certificate {:?} expired at {} (checked at {at_unix})",
            cert.subject_string(),
            cert.not_after_unix()
        )));
    }
    Ok(())
}

/// A code-signing leaf must carry the keyUsage extension with `digitalSignature` set
/// (Fulcio's profile; RFC 5280 §4.2.1.3).
fn check_digital_signature(leaf: &Certificate) -> Result<(), Error> {
    match leaf
        .cert
        .tbs_certificate()
        .get_extension::<x509_cert::ext::pkix::KeyUsage>()
        .map_err(parse_err("keyUsage"))?
    {
        Some((_, ku)) if ku.digital_signature() => Ok(()),
        Some(_) => Err(path_err(
            "key usage: the leaf certificate's keyUsage does not include digitalSignature",
        )),
        None => Err(path_err(
            "key usage: the leaf certificate has no keyUsage extension (digitalSignature required)",
        )),
    }
}

/// Signature algorithms for path validation, all backed by aws-lc-rs. Named explicitly:
/// with `ALL_VERIFICATION_ALGS`, a dependency enabling rustls-webpki's `ring` feature
/// silently switched P-384 verification to ring's generic code, 2.5x slower.
static AWS_LC_VERIFICATION_ALGS: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] = &[
    webpki::aws_lc_rs::ECDSA_P256_SHA256,
    webpki::aws_lc_rs::ECDSA_P256_SHA384,
    webpki::aws_lc_rs::ECDSA_P256_SHA512,
    webpki::aws_lc_rs::ECDSA_P384_SHA256,
    webpki::aws_lc_rs::ECDSA_P384_SHA384,
    webpki::aws_lc_rs::ECDSA_P384_SHA512,
    webpki::aws_lc_rs::ECDSA_P521_SHA256,
    webpki::aws_lc_rs::ECDSA_P521_SHA384,
    webpki::aws_lc_rs::ECDSA_P521_SHA512,
    webpki::aws_lc_rs::ED25519,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    webpki::aws_lc_rs::RSA_PKCS1_3072_8192_SHA384,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// Validate `leaf` up to one of `trust_anchors` through `intermediates`, with every
/// certificate valid at `at_unix` (hybrid model: the trust anchor too).
///
/// Checks: validity of every certificate at `at_unix` (inclusive bounds); the leaf carries
/// an extended key usage containing `purpose` and is not a CA; a code-signing leaf has
/// keyUsage `digitalSignature`; every CA certificate that
/// restricts EKU allows `purpose`; signatures, BasicConstraints and name constraints
/// (rustls-webpki). Returns the path used, leaf first, trust anchor last.
pub fn verify_path(
    leaf: &Certificate,
    intermediates: &[Certificate],
    trust_anchors: &[Certificate],
    at_unix: i64,
    purpose: KeyPurpose,
) -> Result<Vec<Certificate>, Error> {
    let at = u64::try_from(at_unix)
        .map_err(|_| path_err(format!("verification time {at_unix} is before 1970")))?;
    check_validity(leaf, "leaf", at_unix)?;
    if leaf.is_ca() {
        return Err(path_err("leaf certificate is a CA certificate"));
    }
    match leaf.extended_key_usage()? {
        Some(ekus) if ekus.contains(&purpose.oid()) => {}
        Some(_) => {
            return Err(path_err(format!(
                "EKU missing: leaf certificate's extended key usage does not include {purpose:?}"
            )));
        }
        None => {
            return Err(path_err(format!(
                "EKU missing: leaf certificate has no extended key usage ({purpose:?} required)"
            )));
        }
    }
    if purpose == KeyPurpose::CodeSigning {
        check_digital_signature(leaf)?;
    }
    if trust_anchors.is_empty() {
        return Err(path_err("no trust anchors given"));
    }

    let anchor_ders: Vec<CertificateDer<'_>> = trust_anchors
        .iter()
        .map(|c| CertificateDer::from(c.der()))
        .collect();
    let anchors = anchor_ders
        .iter()
        .enumerate()
        .map(|(i, d)| {
            webpki::anchor_from_trusted_cert(d)
                .map_err(|e| path_err(format!("trust anchor {i} is unusable: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let intermediate_ders: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(c.der()))
        .collect();
    let leaf_der = CertificateDer::from(leaf.der());
    let ee = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| path_err(format!("leaf certificate rejected: {e}")))?;
    let time = UnixTime::since_unix_epoch(Duration::from_secs(at));

    let anchor_index =
        |a: &rustls_pki_types::TrustAnchor<'_>| anchors.iter().position(|x| std::ptr::eq(x, a));
    // Hybrid model: the anchor itself must also be valid at `at_unix`.
    let check_anchor = |path: &webpki::VerifiedPath<'_>| -> Result<(), webpki::Error> {
        let Some(i) = anchor_index(path.anchor()) else {
            return Err(webpki::Error::UnknownIssuer);
        };
        let anchor = &trust_anchors[i];
        let to_time = |t: i64| UnixTime::since_unix_epoch(Duration::from_secs(t.max(0) as u64));
        if at_unix < anchor.not_before_unix() {
            return Err(webpki::Error::CertNotValidYet {
                time,
                not_before: to_time(anchor.not_before_unix()),
            });
        }
        if at_unix > anchor.not_after_unix() {
            return Err(webpki::Error::CertExpired {
                time,
                not_after: to_time(anchor.not_after_unix()),
            });
        }
        Ok(())
    };

    let verified = ee
        .verify_for_usage(
            AWS_LC_VERIFICATION_ALGS,
            &anchors,
            &intermediate_ders,
            time,
            webpki::KeyUsage::required_if_present(purpose.webpki_der()),
            None,
            Some(&check_anchor),
        )
        .map_err(|e| map_webpki_error(e, leaf, purpose))?;

    let mut chain = vec![leaf.clone()];
    for cert in verified.intermediate_certificates() {
        let der = cert.der();
        let found = intermediates
            .iter()
            .find(|c| c.der() == der.as_ref())
            .ok_or_else(|| path_err("internal: path uses an unknown intermediate"))?;
        chain.push(found.clone());
    }
    let i = anchor_index(verified.anchor())
        .ok_or_else(|| path_err("internal: path ends at an unknown trust anchor"))?;
    chain.push(trust_anchors[i].clone());
    Ok(chain)
}

fn map_webpki_error(e: webpki::Error, leaf: &Certificate, purpose: KeyPurpose) -> Error {
    use webpki::Error as W;
    let reason = match &e {
        W::CertExpired { time, not_after } => format!(
            "a CA certificate in the path expired at {} (checked at {})",
            not_after.as_secs(),
            time.as_secs()
        ),
        W::CertNotValidYet { time, not_before } => format!(
            "a CA certificate in the path is not yet valid at {}: valid from {}",
            time.as_secs(),
            not_before.as_secs()
        ),
        W::UnknownIssuer => format!(
            "unknown issuer: no path from the leaf (issuer {:?}) to a trust anchor",
            leaf.issuer_string()
        ),
        W::InvalidSignatureForPublicKey
        | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            format!("bad signature in the certificate path: {e}")
        }
        W::RequiredEkuNotFoundContext(_) => format!(
            "EKU missing: a CA certificate in the path restricts extended key usage and excludes {purpose:?}"
        ),
        _ => format!("path validation failed: {e}"),
    };
    path_err(reason)
}
