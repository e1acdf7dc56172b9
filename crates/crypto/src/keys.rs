//! Public and private keys, signing and signature verification.
//!
//! Supported key kinds: ECDSA P-256 / P-384 / P-521, Ed25519 and RSA (2048–8192 bits).
//! All cryptography is done by `aws-lc-rs`; parsing of SPKI / PKCS#8 / PEM by the RustCrypto
//! `der`/`spki`/`pkcs8` crates.
//!
//! ECDSA signatures are accepted both as ASN.1 DER `ECDSA-Sig-Value` and as raw fixed-width
//! `r || s` (DSSE and some in-toto tooling emit the latter). Signatures produced here are DER.
//!
//! Private keys: the PKCS#8 copy kept by [`PrivateKey`] lives in a [`Zeroizing`] buffer and
//! is wiped on drop; the `aws-lc-rs` key object frees (and clears) its own memory. `Debug`
//! never prints secret material.

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, RsaKeyPair,
    UnparsedPublicKey, VerificationAlgorithm,
};
use der::asn1::{AnyRef, BitString, ObjectIdentifier, UintRef};
use der::{Decode, Encode};
use sha2::Digest as _;
use zeroize::Zeroizing;

use crate::Error;

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The kind (algorithm and size) of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// ECDSA on NIST P-256 (secp256r1).
    EcdsaP256,
    /// ECDSA on NIST P-384 (secp384r1).
    EcdsaP384,
    /// ECDSA on NIST P-521 (secp521r1).
    EcdsaP521,
    /// Ed25519 (pure EdDSA).
    Ed25519,
    /// RSA with a modulus of `bits` bits.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
}

impl KeyKind {
    /// The scheme used when none is given: ECDSA with the curve's matching hash, Ed25519,
    /// RSA PKCS#1 v1.5 with SHA-256.
    pub fn default_scheme(self) -> SignatureScheme {
        match self {
            KeyKind::EcdsaP256 => SignatureScheme::EcdsaSha256,
            KeyKind::EcdsaP384 => SignatureScheme::EcdsaSha384,
            KeyKind::EcdsaP521 => SignatureScheme::EcdsaSha512,
            KeyKind::Ed25519 => SignatureScheme::Ed25519,
            KeyKind::Rsa { .. } => SignatureScheme::RsaPkcs1Sha256,
        }
    }

    /// Byte width of one ECDSA scalar (`r` or `s`) for this curve; `None` for non-ECDSA keys.
    fn ecdsa_field_len(self) -> Option<usize> {
        match self {
            KeyKind::EcdsaP256 => Some(32),
            KeyKind::EcdsaP384 => Some(48),
            KeyKind::EcdsaP521 => Some(66),
            _ => None,
        }
    }
}

/// A signature scheme: algorithm, padding and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// ECDSA with SHA-256 (any supported curve).
    EcdsaSha256,
    /// ECDSA with SHA-384 (any supported curve).
    EcdsaSha384,
    /// ECDSA with SHA-512 (any supported curve).
    EcdsaSha512,
    /// Ed25519 (pure, no pre-hash).
    Ed25519,
    /// RSA PKCS#1 v1.5 with SHA-256.
    RsaPkcs1Sha256,
    /// RSA PKCS#1 v1.5 with SHA-384.
    RsaPkcs1Sha384,
    /// RSA PKCS#1 v1.5 with SHA-512.
    RsaPkcs1Sha512,
    /// RSA-PSS with SHA-256, MGF1-SHA-256, salt length = digest length.
    RsaPssSha256,
    /// RSA-PSS with SHA-384, MGF1-SHA-384, salt length = digest length.
    RsaPssSha384,
    /// RSA-PSS with SHA-512, MGF1-SHA-512, salt length = digest length.
    RsaPssSha512,
}

impl SignatureScheme {
    /// The hash the scheme uses; `None` for Ed25519 (which hashes internally).
    pub fn hash(self) -> Option<HashAlgorithm> {
        use SignatureScheme::*;
        match self {
            EcdsaSha256 | RsaPkcs1Sha256 | RsaPssSha256 => Some(HashAlgorithm::Sha256),
            EcdsaSha384 | RsaPkcs1Sha384 | RsaPssSha384 => Some(HashAlgorithm::Sha384),
            EcdsaSha512 | RsaPkcs1Sha512 | RsaPssSha512 => Some(HashAlgorithm::Sha512),
            Ed25519 => None,
        }
    }
}

/// A hash algorithm usable for pre-hashed verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-256 (32-byte digest).
    Sha256,
    /// SHA-384 (48-byte digest).
    Sha384,
    /// SHA-512 (64-byte digest).
    Sha512,
}

impl HashAlgorithm {
    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }

    /// Hash `data` with this algorithm.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlgorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlgorithm::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlgorithm::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    fn aws(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            HashAlgorithm::Sha256 => &aws_lc_rs::digest::SHA256,
            HashAlgorithm::Sha384 => &aws_lc_rs::digest::SHA384,
            HashAlgorithm::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

/// `RSAPublicKey` (RFC 8017 A.1.1), only used to check well-formedness.
#[derive(der::Sequence)]
struct RsaPublicKeyAsn1<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

/// `ECDSA-Sig-Value` (RFC 3279 §2.2.3).
#[derive(der::Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// A public key (ECDSA P-256/P-384/P-521, Ed25519 or RSA), kept as its SPKI DER encoding.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    spki: Vec<u8>,
    /// The `subjectPublicKey` bits: EC point, raw Ed25519 key, or PKCS#1 `RSAPublicKey`.
    raw: Vec<u8>,
    kind: KeyKind,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fp = sha256(&self.spki);
        write!(f, "PublicKey {{ kind: {:?}, spki_sha256: ", self.kind)?;
        for b in fp {
            write!(f, "{b:02x}")?;
        }
        write!(f, " }}")
    }
}

impl PublicKey {
    /// Parse a DER `SubjectPublicKeyInfo`. The whole input must be one SPKI.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, Error> {
        let spki = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| Error::Key(format!("invalid SubjectPublicKeyInfo DER: {e}")))?;
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| Error::Key("subjectPublicKey has unused bits".into()))?;
        let oid = spki.algorithm.oid;
        let kind = if oid == OID_EC_PUBLIC_KEY {
            let curve = curve_from_params(spki.algorithm.parameters)?;
            let expected = 1 + 2 * curve.ecdsa_field_len().unwrap_or(0);
            if raw.len() != expected || raw.first() != Some(&0x04) {
                return Err(Error::Key(format!(
                    "{curve:?} public key must be an uncompressed point of {expected} bytes"
                )));
            }
            curve
        } else if oid == OID_ED25519 {
            if spki.algorithm.parameters.is_some() {
                return Err(Error::Key(
                    "Ed25519 SPKI must have absent parameters".into(),
                ));
            }
            if raw.len() != 32 {
                return Err(Error::Key(format!(
                    "Ed25519 public key must be 32 bytes, got {}",
                    raw.len()
                )));
            }
            KeyKind::Ed25519
        } else if oid == OID_RSA {
            rsa_kind(raw)?
        } else {
            return Err(Error::Key(format!(
                "unsupported public key algorithm {oid}"
            )));
        };
        Ok(Self {
            spki: der.to_vec(),
            raw: raw.to_vec(),
            kind,
        })
    }

    /// Parse a PKCS#1 DER `RSAPublicKey` (wrapped into an SPKI internally).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, Error> {
        let kind = rsa_kind(der)?;
        let spki = spki::SubjectPublicKeyInfoOwned {
            algorithm: spki::AlgorithmIdentifierOwned {
                oid: OID_RSA,
                parameters: Some(der::Any::null()),
            },
            subject_public_key: BitString::from_bytes(der)
                .map_err(|e| Error::Key(format!("RSA key bit string: {e}")))?,
        };
        let spki = spki
            .to_der()
            .map_err(|e| Error::Key(format!("encoding RSA SPKI: {e}")))?;
        Ok(Self {
            spki,
            raw: der.to_vec(),
            kind,
        })
    }

    /// Parse one PEM block: `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1).
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let blocks = pem_blocks(pem).map_err(|e| Error::Key(format!("public key PEM: {e}")))?;
        let [(label, der)] = blocks.as_slice() else {
            return Err(Error::Key(format!(
                "public key PEM must hold exactly one block, found {}",
                blocks.len()
            )));
        };
        match label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(der),
            "RSA PUBLIC KEY" => Self::from_pkcs1_der(der),
            other => Err(Error::Key(format!(
                "unsupported public key PEM label {other:?}"
            ))),
        }
    }

    /// The SPKI DER encoding of this key.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The raw `subjectPublicKey` bytes (EC point, Ed25519 key or PKCS#1 `RSAPublicKey`).
    pub fn raw_public_key(&self) -> &[u8] {
        &self.raw
    }

    /// Encode as a `PUBLIC KEY` PEM block.
    pub fn to_pem(&self) -> Result<String, Error> {
        der::pem::encode_string("PUBLIC KEY", der::pem::LineEnding::LF, &self.spki)
            .map_err(|e| Error::Key(format!("PEM encoding: {e}")))
    }

    /// The key kind.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The scheme [`PublicKey::verify`] uses (see [`KeyKind::default_scheme`]).
    pub fn default_scheme(&self) -> SignatureScheme {
        self.kind.default_scheme()
    }

    /// Verify `sig` over `msg` with the default scheme.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        self.verify_with(self.default_scheme(), msg, sig)
    }

    /// Verify `sig` over `msg` with `scheme`; the scheme must fit the key kind.
    pub fn verify_with(
        &self,
        scheme: SignatureScheme,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), Error> {
        let alg = verification_alg(self.kind, scheme)?;
        let key = UnparsedPublicKey::new(alg, &self.raw);
        let ok = candidate_signatures(self.kind, sig)
            .iter()
            .any(|s| key.verify(msg, s).is_ok());
        if ok {
            Ok(())
        } else {
            Err(Error::Signature(format!(
                "{scheme:?} signature does not verify with the {:?} key",
                self.kind
            )))
        }
    }

    /// Verify `sig` over an already computed `digest` (ECDSA, or RSA PKCS#1 v1.5).
    /// Ed25519 cannot verify a pre-hashed message and always fails.
    pub fn verify_prehashed(
        &self,
        hash: HashAlgorithm,
        digest: &[u8],
        sig: &[u8],
    ) -> Result<(), Error> {
        let scheme = match (self.kind, hash) {
            (KeyKind::Ed25519, _) => {
                return Err(Error::Signature(
                    "Ed25519 cannot verify a pre-hashed message".into(),
                ));
            }
            (KeyKind::Rsa { .. }, HashAlgorithm::Sha256) => SignatureScheme::RsaPkcs1Sha256,
            (KeyKind::Rsa { .. }, HashAlgorithm::Sha384) => SignatureScheme::RsaPkcs1Sha384,
            (KeyKind::Rsa { .. }, HashAlgorithm::Sha512) => SignatureScheme::RsaPkcs1Sha512,
            (_, HashAlgorithm::Sha256) => SignatureScheme::EcdsaSha256,
            (_, HashAlgorithm::Sha384) => SignatureScheme::EcdsaSha384,
            (_, HashAlgorithm::Sha512) => SignatureScheme::EcdsaSha512,
        };
        self.verify_prehashed_with(scheme, digest, sig)
    }

    /// Verify `sig` over an already computed `digest` with an explicit scheme (e.g. RSA-PSS).
    pub fn verify_prehashed_with(
        &self,
        scheme: SignatureScheme,
        digest: &[u8],
        sig: &[u8],
    ) -> Result<(), Error> {
        let hash = scheme.hash().ok_or_else(|| {
            Error::Signature(format!("{scheme:?} cannot verify a pre-hashed message"))
        })?;
        if digest.len() != hash.output_len() {
            return Err(Error::Signature(format!(
                "{hash:?} digest must be {} bytes, got {}",
                hash.output_len(),
                digest.len()
            )));
        }
        let alg = verification_alg(self.kind, scheme)?;
        let digest = aws_lc_rs::digest::Digest::import_less_safe(digest, hash.aws())
            .map_err(|_| Error::Signature("digest import failed".into()))?;
        let key = UnparsedPublicKey::new(alg, &self.raw);
        let ok = candidate_signatures(self.kind, sig)
            .iter()
            .any(|s| key.verify_digest(&digest, s).is_ok());
        if ok {
            Ok(())
        } else {
            Err(Error::Signature(format!(
                "{scheme:?} signature over the pre-hashed digest does not verify with the {:?} key",
                self.kind
            )))
        }
    }
}

fn curve_from_params(params: Option<AnyRef<'_>>) -> Result<KeyKind, Error> {
    let params = params.ok_or_else(|| Error::Key("EC key without curve parameters".into()))?;
    let curve: ObjectIdentifier = params
        .decode_as()
        .map_err(|e| Error::Key(format!("EC parameters must be a named curve OID: {e}")))?;
    if curve == OID_P256 {
        Ok(KeyKind::EcdsaP256)
    } else if curve == OID_P384 {
        Ok(KeyKind::EcdsaP384)
    } else if curve == OID_P521 {
        Ok(KeyKind::EcdsaP521)
    } else {
        Err(Error::Key(format!("unsupported EC curve {curve}")))
    }
}

fn rsa_kind(pkcs1: &[u8]) -> Result<KeyKind, Error> {
    RsaPublicKeyAsn1::from_der(pkcs1)
        .map_err(|e| Error::Key(format!("invalid RSAPublicKey DER: {e}")))?;
    let bits = sig::RsaParameters::public_modulus_len(pkcs1)
        .map_err(|_| Error::Key("invalid RSA public key".into()))?;
    Ok(KeyKind::Rsa {
        bits: bits as usize,
    })
}

fn verification_alg(
    kind: KeyKind,
    scheme: SignatureScheme,
) -> Result<&'static dyn VerificationAlgorithm, Error> {
    use SignatureScheme as S;
    if let KeyKind::Rsa { bits } = kind
        && bits < 2048
    {
        return Err(Error::Signature(format!(
            "RSA key of {bits} bits is below the 2048-bit minimum"
        )));
    }
    let alg: &'static dyn VerificationAlgorithm = match (kind, scheme) {
        (KeyKind::EcdsaP256, S::EcdsaSha256) => &sig::ECDSA_P256_SHA256_ASN1,
        (KeyKind::EcdsaP256, S::EcdsaSha384) => &sig::ECDSA_P256_SHA384_ASN1,
        (KeyKind::EcdsaP256, S::EcdsaSha512) => &sig::ECDSA_P256_SHA512_ASN1,
        (KeyKind::EcdsaP384, S::EcdsaSha256) => &sig::ECDSA_P384_SHA256_ASN1,
        (KeyKind::EcdsaP384, S::EcdsaSha384) => &sig::ECDSA_P384_SHA384_ASN1,
        (KeyKind::EcdsaP384, S::EcdsaSha512) => &sig::ECDSA_P384_SHA512_ASN1,
        (KeyKind::EcdsaP521, S::EcdsaSha256) => &sig::ECDSA_P521_SHA256_ASN1,
        (KeyKind::EcdsaP521, S::EcdsaSha384) => &sig::ECDSA_P521_SHA384_ASN1,
        (KeyKind::EcdsaP521, S::EcdsaSha512) => &sig::ECDSA_P521_SHA512_ASN1,
        (KeyKind::Ed25519, S::Ed25519) => &sig::ED25519,
        (KeyKind::Rsa { .. }, S::RsaPkcs1Sha256) => &sig::RSA_PKCS1_2048_8192_SHA256,
        (KeyKind::Rsa { .. }, S::RsaPkcs1Sha384) => &sig::RSA_PKCS1_2048_8192_SHA384,
        (KeyKind::Rsa { .. }, S::RsaPkcs1Sha512) => &sig::RSA_PKCS1_2048_8192_SHA512,
        (KeyKind::Rsa { .. }, S::RsaPssSha256) => &sig::RSA_PSS_2048_8192_SHA256,
        (KeyKind::Rsa { .. }, S::RsaPssSha384) => &sig::RSA_PSS_2048_8192_SHA384,
        (KeyKind::Rsa { .. }, S::RsaPssSha512) => &sig::RSA_PSS_2048_8192_SHA512,
        (kind, scheme) => {
            return Err(Error::Signature(format!(
                "scheme {scheme:?} cannot be used with a {kind:?} key"
            )));
        }
    };
    Ok(alg)
}

/// The encodings to try: the signature as given, plus — for ECDSA signatures of exactly
/// `2 * field_len` bytes — the DER re-encoding of `r || s`.
fn candidate_signatures(kind: KeyKind, sig: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![sig.to_vec()];
    if let Some(n) = kind.ecdsa_field_len()
        && sig.len() == 2 * n
        && let (Ok(r), Ok(s)) = (UintRef::new(&sig[..n]), UintRef::new(&sig[n..]))
        && let Ok(der) = (EcdsaSigValue { r, s }).to_der()
    {
        out.push(der);
    }
    out
}

/// One decoded PEM block: its label and its (zeroized-on-drop) contents.
pub(crate) type PemBlock = (String, Zeroizing<Vec<u8>>);

/// Split `text` into its PEM blocks (`label`, decoded bytes); text outside blocks is
/// ignored. Bodies may be wrapped at any width but must be padded standard base64 without
/// encapsulated headers (so encrypted legacy PEM is refused).
pub(crate) fn pem_blocks(text: &str) -> Result<Vec<PemBlock>, String> {
    const BEGIN: &str = "-----BEGIN ";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start..];
        let label_len = after[BEGIN.len()..]
            .find("-----")
            .ok_or("unterminated BEGIN line")?;
        let label = &after[BEGIN.len()..BEGIN.len() + label_len];
        if label.is_empty() || label.contains('\n') {
            return Err("malformed BEGIN line".into());
        }
        let end_marker = format!("-----END {label}-----");
        // The END line is searched for only after the BEGIN line: it must not match
        // inside the BEGIN line itself (found by fuzzing).
        let body_start = BEGIN.len() + label_len + 5;
        let body_len = after[body_start..]
            .find(&end_marker)
            .ok_or_else(|| format!("no END line for {label:?}"))?;
        let end = body_start + body_len + end_marker.len();
        // Any line width is accepted (Go's encoding/pem does; Rekor stores PEM wrapped
        // at 52 and 76 columns), but the body must be valid padded standard base64.
        let body = &after[body_start..body_start + body_len];
        // May hold private key material: wiped on drop like the decoded bytes.
        let mut b64 = Zeroizing::new(String::with_capacity(body.len()));
        for line in body.lines() {
            if line.contains(':') {
                return Err(format!(
                    "{label:?} block: encapsulated headers are not supported"
                ));
            }
            b64.extend(line.chars().filter(|c| !c.is_ascii_whitespace()));
        }
        let der = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| format!("{label:?} block: invalid base64: {e}"))?
        };
        if der.is_empty() {
            return Err(format!("{label:?} block: empty"));
        }
        out.push((label.to_string(), Zeroizing::new(der)));
        rest = &after[end..];
    }
    if out.is_empty() {
        return Err("no PEM block found".into());
    }
    Ok(out)
}

enum Signer {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

/// A private key able to sign. The PKCS#8 copy is zeroized on drop; `Debug` prints only the
/// kind and the public key.
pub struct PrivateKey {
    signer: Signer,
    kind: KeyKind,
    pkcs8: Zeroizing<Vec<u8>>,
    public: PublicKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("kind", &self.kind)
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

fn ecdsa_signing_alg(kind: KeyKind, hash: HashAlgorithm) -> Option<&'static EcdsaSigningAlgorithm> {
    match (kind, hash) {
        (KeyKind::EcdsaP256, HashAlgorithm::Sha256) => Some(&sig::ECDSA_P256_SHA256_ASN1_SIGNING),
        (KeyKind::EcdsaP384, HashAlgorithm::Sha384) => Some(&sig::ECDSA_P384_SHA384_ASN1_SIGNING),
        (KeyKind::EcdsaP521, HashAlgorithm::Sha256) => Some(&sig::ECDSA_P521_SHA256_ASN1_SIGNING),
        (KeyKind::EcdsaP521, HashAlgorithm::Sha384) => Some(&sig::ECDSA_P521_SHA384_ASN1_SIGNING),
        (KeyKind::EcdsaP521, HashAlgorithm::Sha512) => Some(&sig::ECDSA_P521_SHA512_ASN1_SIGNING),
        _ => None,
    }
}

fn default_ecdsa_alg(kind: KeyKind) -> Result<&'static EcdsaSigningAlgorithm, Error> {
    kind.default_scheme()
        .hash()
        .and_then(|h| ecdsa_signing_alg(kind, h))
        .ok_or_else(|| Error::Key(format!("{kind:?} is not an ECDSA key")))
}

fn rejected(what: &str) -> impl Fn(aws_lc_rs::error::KeyRejected) -> Error + '_ {
    move |e| Error::Key(format!("{what} rejected: {e}"))
}

impl PrivateKey {
    /// Generate a fresh key: P-256, P-384, P-521, Ed25519, or RSA of 2048/3072/4096 bits.
    pub fn generate(kind: KeyKind) -> Result<Self, Error> {
        let failed = |_| Error::Key(format!("{kind:?} key generation failed"));
        let signer = match kind {
            KeyKind::EcdsaP256 | KeyKind::EcdsaP384 | KeyKind::EcdsaP521 => {
                Signer::Ecdsa(EcdsaKeyPair::generate(default_ecdsa_alg(kind)?).map_err(failed)?)
            }
            KeyKind::Ed25519 => Signer::Ed25519(Ed25519KeyPair::generate().map_err(failed)?),
            KeyKind::Rsa { bits } => {
                let size = match bits {
                    2048 => KeySize::Rsa2048,
                    3072 => KeySize::Rsa3072,
                    4096 => KeySize::Rsa4096,
                    _ => {
                        return Err(Error::Key(format!(
                            "RSA key size {bits} not supported (2048, 3072, 4096)"
                        )));
                    }
                };
                Signer::Rsa(RsaKeyPair::generate(size).map_err(failed)?)
            }
        };
        Self::from_signer(signer)
    }

    /// Parse an unencrypted PKCS#8 `PrivateKeyInfo` (v1 or v2).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        let info = pkcs8::PrivateKeyInfoRef::try_from(der)
            .map_err(|e| Error::Key(format!("invalid PKCS#8 PrivateKeyInfo: {e}")))?;
        let oid = info.algorithm.oid;
        let signer = if oid == OID_EC_PUBLIC_KEY {
            let kind = curve_from_params(info.algorithm.parameters)?;
            Signer::Ecdsa(
                EcdsaKeyPair::from_pkcs8(default_ecdsa_alg(kind)?, der)
                    .map_err(rejected("PKCS#8 EC key"))?,
            )
        } else if oid == OID_ED25519 {
            Signer::Ed25519(
                Ed25519KeyPair::from_pkcs8(der).map_err(rejected("PKCS#8 Ed25519 key"))?,
            )
        } else if oid == OID_RSA {
            Signer::Rsa(RsaKeyPair::from_pkcs8(der).map_err(rejected("PKCS#8 RSA key"))?)
        } else {
            return Err(Error::Key(format!(
                "unsupported private key algorithm {oid}"
            )));
        };
        Self::from_signer(signer)
    }

    /// Parse one PEM block: `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) or
    /// `EC PRIVATE KEY` (SEC1 / RFC 5915). Encrypted keys are rejected.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let blocks = pem_blocks(pem).map_err(|e| Error::Key(format!("private key PEM: {e}")))?;
        let mut keys = blocks.iter().filter(|(l, _)| l != "EC PARAMETERS");
        let (Some((label, der)), None) = (keys.next(), keys.next()) else {
            return Err(Error::Key(
                "private key PEM must hold exactly one key block".into(),
            ));
        };
        match label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(der),
            "RSA PRIVATE KEY" => Self::from_signer(Signer::Rsa(
                RsaKeyPair::from_der(der).map_err(rejected("PKCS#1 RSA key"))?,
            )),
            "EC PRIVATE KEY" => {
                let signer = [KeyKind::EcdsaP256, KeyKind::EcdsaP384, KeyKind::EcdsaP521]
                    .into_iter()
                    .filter_map(|k| default_ecdsa_alg(k).ok())
                    .find_map(|alg| EcdsaKeyPair::from_private_key_der(alg, der).ok())
                    .ok_or_else(|| {
                        Error::Key("SEC1 EC private key is invalid or not on P-256/384/521".into())
                    })?;
                Self::from_signer(Signer::Ecdsa(signer))
            }
            "ENCRYPTED PRIVATE KEY" => Err(Error::Key(
                "encrypted PKCS#8 keys must be decrypted first".into(),
            )),
            other => Err(Error::Key(format!(
                "unsupported private key PEM label {other:?}"
            ))),
        }
    }

    fn from_signer(signer: Signer) -> Result<Self, Error> {
        let export = |_| Error::Key("key export failed".into());
        let (pkcs8, spki): (Zeroizing<Vec<u8>>, Vec<u8>) = match &signer {
            Signer::Ecdsa(k) => (
                Zeroizing::new(k.to_pkcs8v1().map_err(export)?.as_ref().to_vec()),
                AsDer::<PublicKeyX509Der>::as_der(k.public_key())
                    .map_err(export)?
                    .as_ref()
                    .to_vec(),
            ),
            Signer::Ed25519(k) => (
                Zeroizing::new(
                    AsDer::<Pkcs8V1Der>::as_der(k)
                        .map_err(export)?
                        .as_ref()
                        .to_vec(),
                ),
                AsDer::<PublicKeyX509Der>::as_der(k.public_key())
                    .map_err(export)?
                    .as_ref()
                    .to_vec(),
            ),
            Signer::Rsa(k) => (
                Zeroizing::new(
                    AsDer::<Pkcs8V1Der>::as_der(k)
                        .map_err(export)?
                        .as_ref()
                        .to_vec(),
                ),
                AsDer::<PublicKeyX509Der>::as_der(k.public_key())
                    .map_err(export)?
                    .as_ref()
                    .to_vec(),
            ),
        };
        let public = PublicKey::from_spki_der(&spki)?;
        Ok(Self {
            signer,
            kind: public.kind,
            pkcs8,
            public,
        })
    }

    /// The key kind.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// Unencrypted PKCS#8 v1 DER (zeroized when dropped).
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }

    /// Unencrypted PKCS#8 `PRIVATE KEY` PEM (zeroized when dropped).
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        // Encoding a valid byte slice into a String cannot fail except on allocation.
        Zeroizing::new(
            der::pem::encode_string("PRIVATE KEY", der::pem::LineEnding::LF, &self.pkcs8)
                .unwrap_or_default(),
        )
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// Sign `msg` with the default scheme (ECDSA signatures are DER).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        self.sign_with(self.kind.default_scheme(), msg)
    }

    /// Sign `msg` with `scheme`. ECDSA: P-256 signs with SHA-256 only, P-384 with SHA-384
    /// only, P-521 with SHA-256/384/512.
    pub fn sign_with(&self, scheme: SignatureScheme, msg: &[u8]) -> Result<Vec<u8>, Error> {
        // Reject scheme/kind mismatches with the same rule verification uses.
        verification_alg(self.kind, scheme)?;
        let failed = |_| Error::Signature(format!("{scheme:?} signing failed"));
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Ed25519(k) => Ok(k.sign(msg).as_ref().to_vec()),
            Signer::Ecdsa(k) => {
                let alg = scheme
                    .hash()
                    .and_then(|h| ecdsa_signing_alg(self.kind, h))
                    .ok_or_else(|| {
                        Error::Signature(format!(
                            "signing with {scheme:?} on a {:?} key is not supported",
                            self.kind
                        ))
                    })?;
                if std::ptr::eq(alg, k.algorithm()) {
                    Ok(k.sign(&rng, msg).map_err(failed)?.as_ref().to_vec())
                } else {
                    let k =
                        EcdsaKeyPair::from_pkcs8(alg, &self.pkcs8).map_err(rejected("EC key"))?;
                    Ok(k.sign(&rng, msg).map_err(failed)?.as_ref().to_vec())
                }
            }
            Signer::Rsa(k) => {
                let enc: &'static dyn sig::RsaEncoding = match scheme {
                    SignatureScheme::RsaPkcs1Sha256 => &sig::RSA_PKCS1_SHA256,
                    SignatureScheme::RsaPkcs1Sha384 => &sig::RSA_PKCS1_SHA384,
                    SignatureScheme::RsaPkcs1Sha512 => &sig::RSA_PKCS1_SHA512,
                    SignatureScheme::RsaPssSha256 => &sig::RSA_PSS_SHA256,
                    SignatureScheme::RsaPssSha384 => &sig::RSA_PSS_SHA384,
                    _ => &sig::RSA_PSS_SHA512,
                };
                let mut out = vec![0u8; k.public_modulus_len()];
                k.sign(enc, &rng, msg, &mut out).map_err(failed)?;
                Ok(out)
            }
        }
    }
}
