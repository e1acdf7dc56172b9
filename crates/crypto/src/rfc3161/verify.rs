//! Verification of a [`TimestampToken`] against trusted TSAs.

use cms::signed_data::{SignerIdentifier, SignerInfo};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::ext::pkix::name::GeneralName;

use super::asn1::{
    EssCertId, EssCertIdV2, ID_AA_SIGNING_CERTIFICATE, ID_AA_SIGNING_CERTIFICATE_V2,
    ID_CONTENT_TYPE, ID_CT_TST_INFO, ID_MESSAGE_DIGEST, IssuerSerial, SigningCertificate,
    SigningCertificateV2,
};
use super::time::rfc3339;
use super::{TimestampToken, hash_from_oid, hex_string};
use crate::Error;
use crate::keys::{HashAlgorithm, SignatureScheme};
use crate::x509::{Certificate, KeyPurpose, verify_path};

/// A TSA trusted by the caller, typically one `timestampAuthorities[]` entry of a Sigstore
/// trusted root.
#[derive(Clone, Debug)]
pub struct TrustedTsa {
    /// The TSA certificate chain as listed in the trusted root: the TSA's own (signing)
    /// certificate first, root last. The last certificate is the trust anchor, the ones
    /// between are intermediates; only the first may sign tokens.
    pub chain: Vec<Certificate>,
    /// Start of the TSA's `validFor` (Unix seconds, inclusive); `None` = unbounded.
    pub valid_from: Option<i64>,
    /// End of the TSA's `validFor` (Unix seconds, inclusive); `None` = unbounded.
    pub valid_to: Option<i64>,
}

/// The result of a successful [`verify_timestamp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    /// The verified `genTime`, whole Unix seconds (fraction truncated).
    pub gen_time_unix: i64,
    /// Index into the `tsas` slice of the TSA whose chain and validity accepted the token.
    pub tsa_index: usize,
}

const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const OID_RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// `RSASSA-PSS-params` (RFC 4055), only as far as needed to pick a scheme.
#[derive(der::Sequence)]
struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mgf: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_len: Option<u32>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    trailer: Option<u32>,
}

/// Verifies `token` as a time-stamp over `signed_data` issued by one of `tsas`.
///
/// Checks, each failing with its own [`Error`] variant:
/// 1. the token is `SignedData` with eContentType `id-ct-TSTInfo` (at parse time);
/// 2. the messageImprint equals the hash of `signed_data` with the imprint's algorithm
///    (SHA-256/384/512) — [`Error::TimestampImprintMismatch`];
/// 3. signed attributes are present, contentType is `id-ct-TSTInfo` and messageDigest is
///    the digest (SignerInfo digestAlgorithm) of the encapsulated TSTInfo bytes;
/// 4. for one trusted TSA entry `[leaf, intermediates…, root]`: the SignerInfo `sid`
///    (issuer+serial or subject key identifier) names that entry's leaf, and every embedded
///    certificate that names the signer or is an end-entity certificate is byte-equal to it
///    (an embedded certificate is never a signer on its own);
/// 5. the ESS signingCertificate(V2) attribute, when present, identifies that leaf;
/// 6. the signature over the DER `SET OF` signed attributes verifies with its key;
/// 7. the leaf's extended key usage is timeStamping alone and critical (RFC 3161 §2.3),
///    and the leaf chains through **that entry's** chain to its root at genTime;
/// 8. genTime lies inside **that entry's** `validFor` (closed interval).
///
/// Every entry is tried; the first that accepts the token decides `tsa_index`.
pub fn verify_timestamp(
    token: &TimestampToken,
    signed_data: &[u8],
    tsas: &[TrustedTsa],
) -> Result<VerifiedTimestamp, Error> {
    // 2. The token covers these bytes.
    let (imprint_hash, imprint) = token.message_imprint();
    if imprint_hash.digest(signed_data) != imprint {
        return Err(Error::TimestampImprintMismatch);
    }

    // 3. Signed attributes bind the TSTInfo.
    let si = &token.signer_info;
    let digest_hash =
        hash_from_oid(&si.digest_alg.oid).ok_or_else(|| Error::TimestampUnsupportedAlgorithm {
            what: "SignerInfo digest",
            oid: si.digest_alg.oid.to_string(),
        })?;
    let attrs = SignedAttrs::of(token)?;
    let content_type: ObjectIdentifier = attrs.single(ID_CONTENT_TYPE, "contentType")?;
    if content_type != ID_CT_TST_INFO {
        return Err(Error::TimestampSignedAttributes {
            reason: format!("contentType attribute is {content_type}, not id-ct-TSTInfo"),
        });
    }
    let message_digest: OctetString = attrs.single(ID_MESSAGE_DIGEST, "messageDigest")?;
    if message_digest.as_bytes() != digest_hash.digest(&token.tst_info_der) {
        return Err(Error::TimestampMessageDigestMismatch);
    }
    let ess_v1: Option<SigningCertificate> =
        attrs.optional(ID_AA_SIGNING_CERTIFICATE, "signingCertificate")?;
    let ess_v2: Option<SigningCertificateV2> =
        attrs.optional(ID_AA_SIGNING_CERTIFICATE_V2, "signingCertificateV2")?;

    // 4.–8. for each trusted TSA: the signer must be that TSA's own leaf, and that TSA's
    // chain and validity decide; report the failure of the TSA that got furthest.
    if tsas.is_empty() {
        return Err(Error::TimestampUntrustedChain {
            gen_time: rfc3339(token.gen_time_unix()),
            reason: "no trusted timestamp authority is configured".into(),
        });
    }
    let mut best: Option<(u8, Error)> = None;
    for (index, tsa) in tsas.iter().enumerate() {
        match verify_with_tsa(token, si, &attrs, &ess_v1, &ess_v2, index, tsa) {
            Ok(v) => return Ok(v),
            Err((stage, e)) => {
                if best.as_ref().is_none_or(|(s, _)| stage > *s) {
                    best = Some((stage, e));
                }
            }
        }
    }
    Err(best
        .map(|(_, e)| e)
        .unwrap_or(Error::TimestampSignerNotFound {
            sid: describe_sid(&si.sid),
        }))
}

/// id-ce-extKeyUsage.
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// id-kp-timeStamping.
const OID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

/// RFC 3161 §2.3: the TSA certificate carries exactly one extended key usage,
/// id-kp-timeStamping, and the extension is critical.
fn check_tsa_eku(leaf: &Certificate) -> Result<(), String> {
    let ext = leaf
        .inner()
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .find(|e| e.extn_id == OID_EXT_KEY_USAGE)
        .ok_or("EKU missing: the TSA certificate has no extended key usage")?;
    if !ext.critical {
        return Err(
            "the TSA certificate's extended key usage is not critical (RFC 3161 §2.3)".into(),
        );
    }
    match leaf.extended_key_usage() {
        Ok(Some(ekus)) if ekus.as_slice() == [OID_KP_TIME_STAMPING] => Ok(()),
        Ok(Some(ekus)) => Err(format!(
            "the TSA certificate's extended key usage must be timeStamping alone (RFC 3161 §2.3), found {}",
            ekus.iter()
                .map(|o| o.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Ok(None) => Err("EKU missing: the TSA certificate has no extended key usage".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Verify the token as issued by the trusted TSA `tsa` (entry `index`): its chain is
/// `[leaf, intermediates…, root]` and only its leaf may have signed.
fn verify_with_tsa(
    token: &TimestampToken,
    si: &SignerInfo,
    attrs: &SignedAttrs,
    ess_v1: &Option<SigningCertificate>,
    ess_v2: &Option<SigningCertificateV2>,
    index: usize,
    tsa: &TrustedTsa,
) -> Result<VerifiedTimestamp, (u8, Error)> {
    let gen_at = token.gen_time_unix();
    let gen_nanos = token.gen_time_nanos();
    let gen_str = rfc3339(gen_at);
    let untrusted = |stage: u8, reason: String| {
        (
            stage,
            Error::TimestampUntrustedChain {
                gen_time: gen_str.clone(),
                reason: format!("TSA #{index}: {reason}"),
            },
        )
    };
    // The entry's chain: the TSA's own certificate first, the trust anchor last.
    let [leaf, above @ ..] = tsa.chain.as_slice() else {
        return Err(untrusted(0, "empty certificate chain".into()));
    };
    let Some((anchor, intermediates)) = above.split_last() else {
        return Err(untrusted(
            0,
            "the chain lists no TSA certificate above its root (leaf first, root last)".into(),
        ));
    };
    // 4. The signer is that leaf: identified by the sid, and never an embedded stand-in.
    if !sid_matches(&si.sid, leaf) {
        return Err(untrusted(
            0,
            format!(
                "the token's signer ({}) is not this authority's TSA certificate {:?}",
                describe_sid(&si.sid),
                leaf.subject_string()
            ),
        ));
    }
    for (k, c) in token.certificates.iter().enumerate() {
        if c.der() != leaf.der() && (sid_matches(&si.sid, c) || !c.is_ca()) {
            return Err(untrusted(
                1,
                format!(
                    "embedded certificate #{k} ({:?}) names the signer or is an end-entity certificate, but is not this authority's TSA certificate",
                    c.subject_string()
                ),
            ));
        }
    }
    // 5. ESS signing certificate.
    if let Some(v1) = ess_v1 {
        check_ess_v1(v1, leaf).map_err(|e| (1, e))?;
    }
    if let Some(v2) = ess_v2 {
        check_ess_v2(v2, leaf).map_err(|e| (1, e))?;
    }
    // 6. Signature over the signed attributes.
    verify_signature(si, &attrs.raw, leaf).map_err(|e| (2, e))?;

    // 7. This entry's chain at genTime, EKU timeStamping critical and sole.
    check_tsa_eku(leaf).map_err(|r| untrusted(3, r))?;
    verify_path(
        leaf,
        intermediates,
        std::slice::from_ref(anchor),
        gen_at,
        KeyPurpose::TimeStamping,
    )
    .map_err(|e| untrusted(3, e.to_string()))?;

    // 8. This entry's validFor.
    let before = tsa.valid_from.is_some_and(|from| gen_at < from);
    let after = tsa
        .valid_to
        .is_some_and(|to| gen_at > to || (gen_at == to && gen_nanos > 0));
    if before || after {
        return Err((
            4,
            Error::TimestampOutsideTsaValidity {
                gen_time: gen_str,
                valid_from: tsa.valid_from.map_or_else(|| "-".into(), rfc3339),
                valid_to: tsa.valid_to.map_or_else(|| "-".into(), rfc3339),
            },
        ));
    }
    Ok(VerifiedTimestamp {
        gen_time_unix: gen_at,
        tsa_index: index,
    })
}

/// The signed attributes of the token's SignerInfo: typed and as originally signed.
struct SignedAttrs {
    attrs: Vec<x509_cert::attr::Attribute>,
    raw: Vec<u8>,
}

impl SignedAttrs {
    fn of(token: &TimestampToken) -> Result<Self, Error> {
        let missing = || Error::TimestampSignedAttributes {
            reason: "SignerInfo has no signed attributes".into(),
        };
        let attrs = token
            .signer_info
            .signed_attrs
            .as_ref()
            .ok_or_else(missing)?;
        let raw = token.signed_attrs_der.clone().ok_or_else(missing)?;
        Ok(Self {
            attrs: attrs.iter().cloned().collect(),
            raw,
        })
    }

    /// The single value of the attribute `oid`, which must occur at most once; `None` if
    /// absent.
    fn optional<T: for<'a> Decode<'a>>(
        &self,
        oid: ObjectIdentifier,
        name: &str,
    ) -> Result<Option<T>, Error> {
        let mut found = self.attrs.iter().filter(|a| a.oid == oid);
        let Some(attr) = found.next() else {
            return Ok(None);
        };
        if found.next().is_some() {
            return Err(Error::TimestampSignedAttributes {
                reason: format!("{name} attribute occurs more than once"),
            });
        }
        let [value] = attr.values.as_slice() else {
            return Err(Error::TimestampSignedAttributes {
                reason: format!("{name} attribute must have exactly one value"),
            });
        };
        let der = value
            .to_der()
            .map_err(|e| Error::TimestampSignedAttributes {
                reason: format!("{name}: {e}"),
            })?;
        T::from_der(&der)
            .map(Some)
            .map_err(|e| Error::TimestampSignedAttributes {
                reason: format!("malformed {name} attribute: {e}"),
            })
    }

    /// Like [`Self::optional`], but the attribute is required.
    fn single<T: for<'a> Decode<'a>>(&self, oid: ObjectIdentifier, name: &str) -> Result<T, Error> {
        self.optional(oid, name)?
            .ok_or_else(|| Error::TimestampSignedAttributes {
                reason: format!("{name} attribute is missing"),
            })
    }
}

fn parsed(cert: &Certificate) -> Option<x509_cert::Certificate> {
    x509_cert::Certificate::from_der(cert.der()).ok()
}

/// Big-endian unsigned value without leading zero bytes (serials are positive).
fn trim_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

fn sid_matches(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    let Some(c) = parsed(cert) else { return false };
    let tbs = c.tbs_certificate();
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => {
            isn.issuer.to_der().ok() == tbs.issuer().to_der().ok()
                && trim_zeros(isn.serial_number.as_bytes())
                    == trim_zeros(tbs.serial_number().as_bytes())
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            matches!(tbs.get_extension::<SubjectKeyIdentifier>(), Ok(Some((_, own))) if own == *ski)
        }
    }
}

fn describe_sid(sid: &SignerIdentifier) -> String {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => format!(
            "issuer {}, serial {}",
            isn.issuer,
            hex_string(isn.serial_number.as_bytes())
        ),
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            format!("subject key identifier {}", hex_string(ski.0.as_bytes()))
        }
    }
}

fn check_issuer_serial(is: &IssuerSerial, cert: &Certificate) -> Result<(), Error> {
    let mismatch = |reason: &str| Error::TimestampSigningCertificateMismatch {
        reason: reason.into(),
    };
    let c = parsed(cert).ok_or_else(|| mismatch("signer certificate does not parse"))?;
    let tbs = c.tbs_certificate();
    if trim_zeros(is.serial_number.as_bytes()) != trim_zeros(tbs.serial_number().as_bytes()) {
        return Err(mismatch("issuerSerial serial number differs"));
    }
    let issuer_ok = is
        .issuer
        .iter()
        .any(|gn| matches!(gn, GeneralName::DirectoryName(n) if n.to_der().ok() == tbs.issuer().to_der().ok()));
    if !issuer_ok {
        return Err(mismatch("issuerSerial issuer differs"));
    }
    Ok(())
}

fn check_ess_v1(sc: &SigningCertificate, cert: &Certificate) -> Result<(), Error> {
    let first: &EssCertId =
        sc.certs
            .first()
            .ok_or_else(|| Error::TimestampSigningCertificateMismatch {
                reason: "signingCertificate lists no certificate".into(),
            })?;
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, cert.der());
    if first.cert_hash.as_bytes() != sha1.as_ref() {
        return Err(Error::TimestampSigningCertificateMismatch {
            reason: "ESSCertID SHA-1 hash differs".into(),
        });
    }
    match &first.issuer_serial {
        Some(is) => check_issuer_serial(is, cert),
        None => Ok(()),
    }
}

fn check_ess_v2(sc: &SigningCertificateV2, cert: &Certificate) -> Result<(), Error> {
    let first: &EssCertIdV2 =
        sc.certs
            .first()
            .ok_or_else(|| Error::TimestampSigningCertificateMismatch {
                reason: "signingCertificateV2 lists no certificate".into(),
            })?;
    let hash = match &first.hash_algorithm {
        None => HashAlgorithm::Sha256,
        Some(alg) => {
            hash_from_oid(&alg.oid).ok_or_else(|| Error::TimestampUnsupportedAlgorithm {
                what: "ESSCertIDv2 hash",
                oid: alg.oid.to_string(),
            })?
        }
    };
    if first.cert_hash.as_bytes() != hash.digest(cert.der()) {
        return Err(Error::TimestampSigningCertificateMismatch {
            reason: format!("ESSCertIDv2 {hash:?} hash differs"),
        });
    }
    match &first.issuer_serial {
        Some(is) => check_issuer_serial(is, cert),
        None => Ok(()),
    }
}

fn scheme_for(si: &SignerInfo) -> Result<SignatureScheme, Error> {
    let unsupported = |oid: &ObjectIdentifier| Error::TimestampUnsupportedAlgorithm {
        what: "SignerInfo signature",
        oid: oid.to_string(),
    };
    let sig_oid = &si.signature_algorithm.oid;
    let digest = hash_from_oid(&si.digest_alg.oid);
    let by_digest = |ecdsa: bool| -> Result<SignatureScheme, Error> {
        Ok(match (ecdsa, digest.ok_or_else(|| unsupported(sig_oid))?) {
            (true, HashAlgorithm::Sha256) => SignatureScheme::EcdsaSha256,
            (true, HashAlgorithm::Sha384) => SignatureScheme::EcdsaSha384,
            (true, HashAlgorithm::Sha512) => SignatureScheme::EcdsaSha512,
            (false, HashAlgorithm::Sha256) => SignatureScheme::RsaPkcs1Sha256,
            (false, HashAlgorithm::Sha384) => SignatureScheme::RsaPkcs1Sha384,
            (false, HashAlgorithm::Sha512) => SignatureScheme::RsaPkcs1Sha512,
        })
    };
    Ok(match *sig_oid {
        OID_ECDSA_SHA256 => SignatureScheme::EcdsaSha256,
        OID_ECDSA_SHA384 => SignatureScheme::EcdsaSha384,
        OID_ECDSA_SHA512 => SignatureScheme::EcdsaSha512,
        OID_RSA_SHA256 => SignatureScheme::RsaPkcs1Sha256,
        OID_RSA_SHA384 => SignatureScheme::RsaPkcs1Sha384,
        OID_RSA_SHA512 => SignatureScheme::RsaPkcs1Sha512,
        OID_EC_PUBLIC_KEY => by_digest(true)?,
        OID_RSA => by_digest(false)?,
        OID_ED25519 => SignatureScheme::Ed25519,
        OID_RSA_PSS => pss_scheme(&si.signature_algorithm).ok_or_else(|| unsupported(sig_oid))?,
        _ => return Err(unsupported(sig_oid)),
    })
}

/// RSA-PSS with hash H, MGF1-H and salt length = |H| (what `keys` supports).
fn pss_scheme(alg: &AlgorithmIdentifierOwned) -> Option<SignatureScheme> {
    let params = PssParams::from_der(&alg.parameters.as_ref()?.to_der().ok()?).ok()?;
    let hash = hash_from_oid(&params.hash?.oid)?;
    let mgf = params.mgf?;
    let mgf_hash = mgf
        .parameters?
        .decode_as::<AlgorithmIdentifierOwned>()
        .ok()?;
    let salt_ok = params.salt_len? as usize == hash.output_len();
    if mgf.oid != OID_MGF1
        || hash_from_oid(&mgf_hash.oid)? != hash
        || !salt_ok
        || params.trailer.unwrap_or(1) != 1
    {
        return None;
    }
    Some(match hash {
        HashAlgorithm::Sha256 => SignatureScheme::RsaPssSha256,
        HashAlgorithm::Sha384 => SignatureScheme::RsaPssSha384,
        HashAlgorithm::Sha512 => SignatureScheme::RsaPssSha512,
    })
}

fn verify_signature(
    si: &SignerInfo,
    signed_attrs_der: &[u8],
    cert: &Certificate,
) -> Result<(), Error> {
    let scheme = scheme_for(si)?;
    let key = cert.public_key().map_err(|e| Error::TimestampSignature {
        reason: format!("signer certificate key: {e}"),
    })?;
    key.verify_with(scheme, signed_attrs_der, si.signature.as_bytes())
        .map_err(|e| Error::TimestampSignature {
            reason: e.to_string(),
        })
}
