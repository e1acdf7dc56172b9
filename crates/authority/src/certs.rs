//! X.509 certificate issuance: the TBSCertificate is built with `der`, encoded, signed with
//! a [`PrivateKey`] and wrapped. Only ECDSA (P-256 / P-384) issuer keys are supported.

use std::str::FromStr as _;
use std::time::Duration;

use chainseal_crypto::keys::{KeyKind, PrivateKey, sha256};
use chainseal_crypto::x509::Certificate;
use der::asn1::{BitString, Ia5String, Int, ObjectIdentifier, OctetString, UtcTime, Utf8StringRef};
use der::{Any, Decode, Encode, Sequence};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, BasicConstraints, SubjectAltName};
use x509_cert::name::Name;

use crate::error::{Error, Result};

/// id-ce-basicConstraints.
pub const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
/// id-ce-keyUsage.
pub const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
/// id-ce-extKeyUsage.
pub const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// id-ce-subjectKeyIdentifier.
pub const OID_SKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
/// id-ce-authorityKeyIdentifier.
pub const OID_AKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
/// id-ce-subjectAltName.
pub const OID_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// id-kp-codeSigning.
pub const OID_KP_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// id-kp-timeStamping.
pub const OID_KP_TIME_STAMPING: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
/// Fulcio: OIDC issuer, raw UTF-8 bytes (deprecated form, still read by clients).
pub const OID_FULCIO_ISSUER_V1: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
/// Fulcio: OIDC issuer as a DER UTF8String.
pub const OID_FULCIO_ISSUER_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// RFC 6962 precertificate poison.
pub const OID_CT_POISON: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.3");

const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

#[derive(Sequence)]
struct Validity {
    not_before: UtcTime,
    not_after: UtcTime,
}

#[derive(Sequence)]
struct TbsCertificate {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: u8,
    serial_number: Int,
    signature: AlgorithmIdentifierOwned,
    issuer: Name,
    validity: Validity,
    subject: Name,
    subject_public_key_info: SubjectPublicKeyInfoOwned,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    extensions: Option<Vec<Extension>>,
}

#[derive(Sequence)]
struct CertificateDer {
    tbs_certificate: Any,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
}

/// Cryptographically random bytes.
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut out = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut out).map_err(|_| Error::Crypto("system RNG failed".into()))?;
    Ok(out)
}

/// A positive 16-byte random serial number (128 bits, top bit cleared).
pub fn random_serial() -> Result<Vec<u8>> {
    let mut s = random_bytes(16)?;
    if let Some(b) = s.first_mut() {
        *b = (*b & 0x7f) | 0x01;
    }
    Ok(s)
}

/// A distinguished name from an RFC 4514 string (`"CN=x,O=y"`); `""` is the empty name.
pub fn name(rfc4514: &str) -> Result<Name> {
    if rfc4514.is_empty() {
        return Ok(Name::default());
    }
    Name::from_str(rfc4514).map_err(Error::from)
}

fn utc(unix: i64) -> Result<UtcTime> {
    let secs = u64::try_from(unix).map_err(|_| Error::Crypto("time before 1970".into()))?;
    UtcTime::from_unix_duration(Duration::from_secs(secs)).map_err(Error::from)
}

/// The signature algorithm an issuer key signs certificates with.
fn signature_algorithm(key: &PrivateKey) -> Result<AlgorithmIdentifierOwned> {
    let oid = match key.kind() {
        KeyKind::EcdsaP256 => OID_ECDSA_SHA256,
        KeyKind::EcdsaP384 => OID_ECDSA_SHA384,
        other => {
            return Err(Error::Crypto(format!(
                "{other:?} keys cannot issue certificates here (ECDSA P-256/P-384 only)"
            )));
        }
    };
    Ok(AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    })
}

/// An extension with a DER-encoded value.
pub fn ext(oid: ObjectIdentifier, critical: bool, value: Vec<u8>) -> Result<Extension> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value)?,
    })
}

/// The RFC 7093 §2 method 1 key identifier: leftmost 160 bits of SHA-256 of the public key
/// bits of `spki_der`.
pub fn key_identifier(spki_der: &[u8]) -> Result<Vec<u8>> {
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der)?;
    let digest = sha256(spki.subject_public_key.raw_bytes());
    Ok(digest[..20].to_vec())
}

/// Basic constraints (always critical).
pub fn basic_constraints(ca: bool, path_len: Option<u8>) -> Result<Extension> {
    let bc = BasicConstraints {
        ca,
        path_len_constraint: path_len,
    };
    ext(OID_BASIC_CONSTRAINTS, true, bc.to_der()?)
}

/// Key usage (critical): `digitalSignature` for end entities, `keyCertSign | cRLSign` for
/// CAs.
pub fn key_usage(ca: bool) -> Result<Extension> {
    // Named bit lists drop trailing zero bits: bit 0 → 0x80 with 7 unused bits; bits 5
    // and 6 → 0x06 with 1 unused bit.
    let bits = if ca {
        BitString::new(1, vec![0x06])?
    } else {
        BitString::new(7, vec![0x80])?
    };
    ext(OID_KEY_USAGE, true, bits.to_der()?)
}

/// Extended key usage with one purpose.
pub fn extended_key_usage(purpose: ObjectIdentifier, critical: bool) -> Result<Extension> {
    ext(OID_EXT_KEY_USAGE, critical, vec![purpose].to_der()?)
}

/// Subject and authority key identifiers.
pub fn key_ids(subject_spki: &[u8], issuer_spki: &[u8]) -> Result<[Extension; 2]> {
    let ski = OctetString::new(key_identifier(subject_spki)?)?;
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(key_identifier(issuer_spki)?)?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    Ok([
        ext(OID_SKI, false, ski.to_der()?)?,
        ext(OID_AKI, false, aki.to_der()?)?,
    ])
}

/// A subject alternative name: an email (`rfc822Name`) or a URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum San {
    /// rfc822Name.
    Email(String),
    /// uniformResourceIdentifier.
    Uri(String),
}

impl San {
    /// The SAN's value.
    pub fn value(&self) -> &str {
        match self {
            San::Email(s) | San::Uri(s) => s,
        }
    }
}

/// The SAN extension, critical (the subject is empty, RFC 5280 §4.2.1.6).
pub fn subject_alt_name(san: &San) -> Result<Extension> {
    let ia5 = |s: &str| {
        Ia5String::new(s).map_err(|_| Error::BadRequest(format!("identity {s:?} is not ASCII")))
    };
    let gn = match san {
        San::Email(e) => GeneralName::Rfc822Name(ia5(e)?),
        San::Uri(u) => GeneralName::UniformResourceIdentifier(ia5(u)?),
    };
    ext(OID_SAN, true, SubjectAltName(vec![gn]).to_der()?)
}

/// Fulcio's two issuer extensions (`.1.1` raw bytes, `.1.8` UTF8String).
pub fn fulcio_issuer(issuer: &str) -> Result<[Extension; 2]> {
    Ok([
        ext(OID_FULCIO_ISSUER_V1, false, issuer.as_bytes().to_vec())?,
        ext(
            OID_FULCIO_ISSUER_V2,
            false,
            Utf8StringRef::new(issuer)?.to_der()?,
        )?,
    ])
}

/// The fields of a certificate to issue.
pub struct Template {
    /// Serial number (unsigned big-endian, non-zero, ≤ 20 bytes).
    pub serial: Vec<u8>,
    /// Subject name (empty for Fulcio leaves).
    pub subject: Name,
    /// Validity start (Unix seconds).
    pub not_before: i64,
    /// Validity end (Unix seconds, inclusive).
    pub not_after: i64,
    /// The subject's SubjectPublicKeyInfo DER.
    pub spki_der: Vec<u8>,
    /// Extensions, in order.
    pub extensions: Vec<Extension>,
}

fn positive_int(unsigned: &[u8]) -> Result<Int> {
    let start = unsigned
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(unsigned.len());
    let trimmed = unsigned.get(start..).unwrap_or_default();
    if trimmed.is_empty() {
        return Err(Error::Crypto("serial number must be non-zero".into()));
    }
    let mut bytes = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        bytes.push(0);
    }
    bytes.extend_from_slice(trimmed);
    Int::new(&bytes).map_err(Error::from)
}

/// The DER TBSCertificate for `template`, issued by `issuer_name` with `issuer_key`.
pub fn tbs_der(
    template: &Template,
    issuer_name: &Name,
    issuer_key: &PrivateKey,
) -> Result<Vec<u8>> {
    let tbs = TbsCertificate {
        version: 2,
        serial_number: positive_int(&template.serial)?,
        signature: signature_algorithm(issuer_key)?,
        issuer: issuer_name.clone(),
        validity: Validity {
            not_before: utc(template.not_before)?,
            not_after: utc(template.not_after)?,
        },
        subject: template.subject.clone(),
        subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(&template.spki_der)?,
        extensions: if template.extensions.is_empty() {
            None
        } else {
            Some(template.extensions.clone())
        },
    };
    tbs.to_der().map_err(Error::from)
}

/// Signs an encoded TBSCertificate with `issuer_key` and wraps it into a certificate.
pub fn sign_tbs(tbs: &[u8], issuer_key: &PrivateKey) -> Result<Certificate> {
    let signature = issuer_key.sign(tbs)?;
    let cert = CertificateDer {
        tbs_certificate: Any::from_der(tbs)?,
        signature_algorithm: signature_algorithm(issuer_key)?,
        signature: BitString::from_bytes(&signature)?,
    };
    Ok(Certificate::from_der(&cert.to_der()?)?)
}

/// Issues `template` under `issuer_name` with `issuer_key`.
pub fn issue(
    template: &Template,
    issuer_name: &Name,
    issuer_key: &PrivateKey,
) -> Result<Certificate> {
    sign_tbs(&tbs_der(template, issuer_name, issuer_key)?, issuer_key)
}

/// A self-signed CA certificate valid for `years` from `not_before`.
pub fn self_signed_ca(
    key: &PrivateKey,
    subject: &str,
    not_before: i64,
    years: i64,
) -> Result<Certificate> {
    let spki = key.public_key().spki_der().to_vec();
    let subject = name(subject)?;
    let [ski, aki] = key_ids(&spki, &spki)?;
    let template = Template {
        serial: random_serial()?,
        subject: subject.clone(),
        not_before,
        not_after: not_before + years * 365 * 86_400,
        spki_der: spki,
        extensions: vec![
            basic_constraints(true, Some(1))?,
            key_usage(true)?,
            ski,
            aki,
        ],
    };
    issue(&template, &subject, key)
}

/// An intermediate CA under `issuer` (certificate + key), valid as long as the issuer.
/// `eku` restricts what it may issue for (None: no restriction).
pub fn intermediate_ca(
    key: &PrivateKey,
    subject: &str,
    issuer: &Certificate,
    issuer_key: &PrivateKey,
    not_before: i64,
    eku: Option<ObjectIdentifier>,
) -> Result<Certificate> {
    let spki = key.public_key().spki_der().to_vec();
    let issuer_name = Name::from_der(&issuer.subject_der())?;
    let [ski, aki] = key_ids(&spki, issuer_key.public_key().spki_der())?;
    let mut extensions = vec![
        basic_constraints(true, Some(0))?,
        key_usage(true)?,
        ski,
        aki,
    ];
    if let Some(purpose) = eku {
        extensions.push(extended_key_usage(purpose, false)?);
    }
    let template = Template {
        serial: random_serial()?,
        subject: name(subject)?,
        not_before,
        not_after: issuer.not_after_unix(),
        spki_der: spki,
        extensions,
    };
    issue(&template, &issuer_name, issuer_key)
}

/// A TSA certificate under `issuer`: critical EKU timeStamping, KU digitalSignature.
pub fn tsa_certificate(
    key: &PrivateKey,
    subject: &str,
    issuer: &Certificate,
    issuer_key: &PrivateKey,
    not_before: i64,
) -> Result<Certificate> {
    let spki = key.public_key().spki_der().to_vec();
    let issuer_name = Name::from_der(&issuer.subject_der())?;
    let [ski, aki] = key_ids(&spki, issuer_key.public_key().spki_der())?;
    let template = Template {
        serial: random_serial()?,
        subject: name(subject)?,
        not_before,
        not_after: issuer.not_after_unix(),
        spki_der: spki,
        extensions: vec![
            basic_constraints(false, None)?,
            key_usage(false)?,
            extended_key_usage(OID_KP_TIME_STAMPING, true)?,
            ski,
            aki,
        ],
    };
    issue(&template, &issuer_name, issuer_key)
}

/// PEM of one certificate.
pub fn pem(cert: &Certificate) -> String {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, cert.der()).unwrap_or_default()
}
