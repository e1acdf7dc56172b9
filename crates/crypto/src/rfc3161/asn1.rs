//! RFC 3161 (and RFC 5035 / RFC 2634 ESS) ASN.1 structures, derived with `der`.
//!
//! CMS `ContentInfo` / `SignedData` / `SignerInfo` come from the `cms` crate.

use der::asn1::{BitString, Int, ObjectIdentifier, OctetString};
use der::{Enumerated, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::name::{GeneralName, GeneralNames};

use super::time::GenTime;

/// `id-signedData` (RFC 5652).
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// `id-ct-TSTInfo` (RFC 3161).
pub const ID_CT_TST_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// `id-contentType` signed attribute (RFC 5652).
pub const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
/// `id-messageDigest` signed attribute (RFC 5652).
pub const ID_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// `id-aa-signingCertificate` (RFC 2634, ESSCertID with SHA-1).
pub const ID_AA_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
/// `id-aa-signingCertificateV2` (RFC 5035, ESSCertIDv2).
pub const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

/// `MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }`
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct MessageImprint {
    /// Hash algorithm of `hashed_message`.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// The digest of the time-stamped data.
    pub hashed_message: OctetString,
}

/// `TimeStampReq` (RFC 3161 §2.4.1).
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct TimeStampReq {
    /// `v1(1)`.
    pub version: u8,
    /// What is to be time-stamped.
    pub message_imprint: MessageImprint,
    /// Requested TSA policy.
    #[asn1(optional = "true")]
    pub req_policy: Option<ObjectIdentifier>,
    /// Caller-chosen nonce, echoed in the `TSTInfo`.
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    /// Whether the TSA should embed its signing certificate (`DEFAULT FALSE`).
    #[asn1(default = "Default::default")]
    pub cert_req: bool,
    /// Request extensions.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// `PKIStatus` values (RFC 3161 §2.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enumerated)]
#[asn1(type = "INTEGER")]
#[repr(u8)]
#[allow(missing_docs)]
pub enum PkiStatus {
    Granted = 0,
    GrantedWithMods = 1,
    Rejection = 2,
    Waiting = 3,
    RevocationWarning = 4,
    RevocationNotification = 5,
}

/// `PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText OPTIONAL, failInfo PKIFailureInfo OPTIONAL }`
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct PkiStatusInfo {
    /// The status; kept as an integer so unknown values still parse (and are refused later).
    pub status: Int,
    /// Free text (`SEQUENCE OF UTF8String`).
    #[asn1(optional = "true")]
    pub status_string: Option<Vec<String>>,
    /// `PKIFailureInfo` bits (badAlg(0), badRequest(2), badDataFormat(5), timeNotAvailable(14),
    /// unacceptedPolicy(15), unacceptedExtension(16), addInfoNotAvailable(17), systemFailure(25)).
    #[asn1(optional = "true")]
    pub fail_info: Option<BitString>,
}

/// `TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken TimeStampToken OPTIONAL }`
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct TimeStampResp {
    /// Status of the request.
    pub status: PkiStatusInfo,
    /// The token (a CMS `ContentInfo` holding `SignedData`), present when granted.
    #[asn1(optional = "true")]
    pub time_stamp_token: Option<cms::content_info::ContentInfo>,
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER OPTIONAL, micros [1] INTEGER OPTIONAL }`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Sequence)]
pub struct Accuracy {
    /// Whole seconds.
    #[asn1(optional = "true")]
    pub seconds: Option<u32>,
    /// Milliseconds (1..=999).
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub millis: Option<u16>,
    /// Microseconds (1..=999).
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub micros: Option<u16>,
}

/// `TSTInfo` (RFC 3161 §2.4.2).
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct TstInfo {
    /// `v1(1)`.
    pub version: u8,
    /// TSA policy under which the token was issued.
    pub policy: ObjectIdentifier,
    /// Hash of the time-stamped data.
    pub message_imprint: MessageImprint,
    /// Serial number unique per TSA.
    pub serial_number: Int,
    /// Time of issuance (UTC, optional fraction).
    pub gen_time: GenTime,
    /// Claimed accuracy of `gen_time`.
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    /// `ordering BOOLEAN DEFAULT FALSE`.
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    /// The request's nonce, if any.
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    /// Name of the TSA (`[0] GeneralName`, explicit since GeneralName is a CHOICE).
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<GeneralName>,
    /// Extensions.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// `IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }`
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct IssuerSerial {
    /// The issuer of the certificate (a `directoryName`).
    pub issuer: GeneralNames,
    /// The certificate's serial number.
    pub serial_number: Int,
}

/// `ESSCertID ::= SEQUENCE { certHash OCTET STRING (SHA-1), issuerSerial IssuerSerial OPTIONAL }`
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct EssCertId {
    /// SHA-1 of the whole DER certificate.
    pub cert_hash: OctetString,
    /// Issuer and serial of the certificate.
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// `SigningCertificate ::= SEQUENCE { certs SEQUENCE OF ESSCertID, policies … OPTIONAL }`
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct SigningCertificate {
    /// The first entry identifies the signing certificate.
    pub certs: Vec<EssCertId>,
    /// Policies (not interpreted).
    #[asn1(optional = "true")]
    pub policies: Option<der::Any>,
}

/// `ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT sha256, certHash OCTET STRING, issuerSerial IssuerSerial OPTIONAL }`
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct EssCertIdV2 {
    /// Hash algorithm; absent means SHA-256.
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    /// Hash of the whole DER certificate.
    pub cert_hash: OctetString,
    /// Issuer and serial of the certificate.
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies … OPTIONAL }`
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct SigningCertificateV2 {
    /// The first entry identifies the signing certificate.
    pub certs: Vec<EssCertIdV2>,
    /// Policies (not interpreted).
    #[asn1(optional = "true")]
    pub policies: Option<der::Any>,
}
