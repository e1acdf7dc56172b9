//! in-toto / securesystemslib keys: PEM and securesystemslib JSON forms, key IDs, and the
//! signature schemes in-toto uses.
//!
//! Key IDs are computed as in-toto 3.1.0 does (`sha256` of the canonical JSON of
//! `{keytype, scheme, keyval: {public}}`), but they are only ever used as hints and for
//! file names: verification tries every trusted key.

use std::fmt;
use std::path::Path;

use chainseal_crypto::keys::{KeyKind, PrivateKey, PublicKey, SignatureScheme};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::Error;
use crate::cjson::canonical_json;

/// A securesystemslib signature scheme name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// `rsassa-pss-sha256` (also sha384/sha512 variants below).
    RsassaPssSha256,
    /// `rsassa-pss-sha384`.
    RsassaPssSha384,
    /// `rsassa-pss-sha512`.
    RsassaPssSha512,
    /// `rsa-pkcs1v15-sha256`.
    RsaPkcs1v15Sha256,
    /// `rsa-pkcs1v15-sha384`.
    RsaPkcs1v15Sha384,
    /// `rsa-pkcs1v15-sha512`.
    RsaPkcs1v15Sha512,
    /// `ed25519`.
    Ed25519,
    /// `ecdsa-sha2-nistp256`.
    EcdsaSha2Nistp256,
    /// `ecdsa-sha2-nistp384`.
    EcdsaSha2Nistp384,
    /// `ecdsa-sha2-nistp521`.
    EcdsaSha2Nistp521,
}

impl Scheme {
    /// Parse a securesystemslib scheme name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "rsassa-pss-sha256" => Scheme::RsassaPssSha256,
            "rsassa-pss-sha384" => Scheme::RsassaPssSha384,
            "rsassa-pss-sha512" => Scheme::RsassaPssSha512,
            "rsa-pkcs1v15-sha256" => Scheme::RsaPkcs1v15Sha256,
            "rsa-pkcs1v15-sha384" => Scheme::RsaPkcs1v15Sha384,
            "rsa-pkcs1v15-sha512" => Scheme::RsaPkcs1v15Sha512,
            "ed25519" => Scheme::Ed25519,
            "ecdsa-sha2-nistp256" => Scheme::EcdsaSha2Nistp256,
            "ecdsa-sha2-nistp384" => Scheme::EcdsaSha2Nistp384,
            "ecdsa-sha2-nistp521" => Scheme::EcdsaSha2Nistp521,
            _ => return None,
        })
    }

    /// The securesystemslib name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::RsassaPssSha256 => "rsassa-pss-sha256",
            Scheme::RsassaPssSha384 => "rsassa-pss-sha384",
            Scheme::RsassaPssSha512 => "rsassa-pss-sha512",
            Scheme::RsaPkcs1v15Sha256 => "rsa-pkcs1v15-sha256",
            Scheme::RsaPkcs1v15Sha384 => "rsa-pkcs1v15-sha384",
            Scheme::RsaPkcs1v15Sha512 => "rsa-pkcs1v15-sha512",
            Scheme::Ed25519 => "ed25519",
            Scheme::EcdsaSha2Nistp256 => "ecdsa-sha2-nistp256",
            Scheme::EcdsaSha2Nistp384 => "ecdsa-sha2-nistp384",
            Scheme::EcdsaSha2Nistp521 => "ecdsa-sha2-nistp521",
        }
    }

    /// The securesystemslib key type this scheme belongs to.
    pub fn keytype(self) -> &'static str {
        match self {
            Scheme::Ed25519 => "ed25519",
            Scheme::EcdsaSha2Nistp256 | Scheme::EcdsaSha2Nistp384 | Scheme::EcdsaSha2Nistp521 => {
                "ecdsa"
            }
            _ => "rsa",
        }
    }

    fn crypto(self) -> SignatureScheme {
        match self {
            Scheme::RsassaPssSha256 => SignatureScheme::RsaPssSha256,
            Scheme::RsassaPssSha384 => SignatureScheme::RsaPssSha384,
            Scheme::RsassaPssSha512 => SignatureScheme::RsaPssSha512,
            Scheme::RsaPkcs1v15Sha256 => SignatureScheme::RsaPkcs1Sha256,
            Scheme::RsaPkcs1v15Sha384 => SignatureScheme::RsaPkcs1Sha384,
            Scheme::RsaPkcs1v15Sha512 => SignatureScheme::RsaPkcs1Sha512,
            Scheme::Ed25519 => SignatureScheme::Ed25519,
            Scheme::EcdsaSha2Nistp256 => SignatureScheme::EcdsaSha256,
            Scheme::EcdsaSha2Nistp384 => SignatureScheme::EcdsaSha384,
            Scheme::EcdsaSha2Nistp521 => SignatureScheme::EcdsaSha512,
        }
    }

    /// The scheme securesystemslib picks for a key of this kind.
    pub fn default_for(kind: KeyKind) -> Option<Self> {
        Some(match kind {
            KeyKind::Rsa { .. } => Scheme::RsassaPssSha256,
            KeyKind::Ed25519 => Scheme::Ed25519,
            KeyKind::EcdsaP256 => Scheme::EcdsaSha2Nistp256,
            KeyKind::EcdsaP384 => Scheme::EcdsaSha2Nistp384,
            KeyKind::EcdsaP521 => Scheme::EcdsaSha2Nistp521,
            #[allow(unreachable_patterns)]
            _ => return None,
        })
    }

    fn fits(self, kind: KeyKind) -> bool {
        matches!(
            (self, kind),
            (
                Scheme::RsassaPssSha256
                    | Scheme::RsassaPssSha384
                    | Scheme::RsassaPssSha512
                    | Scheme::RsaPkcs1v15Sha256
                    | Scheme::RsaPkcs1v15Sha384
                    | Scheme::RsaPkcs1v15Sha512,
                KeyKind::Rsa { .. }
            ) | (Scheme::Ed25519, KeyKind::Ed25519)
                | (Scheme::EcdsaSha2Nistp256, KeyKind::EcdsaP256)
                | (Scheme::EcdsaSha2Nistp384, KeyKind::EcdsaP384)
                | (Scheme::EcdsaSha2Nistp521, KeyKind::EcdsaP521)
        )
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER prefix of an Ed25519 PKCS#8 v1 private key; the 32 seed bytes follow.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A public key together with the securesystemslib scheme it verifies with.
#[derive(Clone)]
pub struct Key {
    public: PublicKey,
    scheme: Scheme,
    /// `keyval.public` exactly as given (PEM text or hex); it is what the key ID covers.
    keyval_public: String,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({}, {})", self.scheme, self.keyid())
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.public.spki_der() == other.public.spki_der() && self.scheme == other.scheme
    }
}

impl Key {
    /// Wrap a crypto public key with securesystemslib's default scheme for its kind and its
    /// canonical `keyval.public` (PEM with trailing newline, or hex for Ed25519).
    pub fn from_public(public: PublicKey) -> Result<Self, Error> {
        let scheme = Scheme::default_for(public.kind())
            .ok_or_else(|| Error::key("public key", "unsupported key kind"))?;
        let keyval_public = if public.kind() == KeyKind::Ed25519 {
            hex::encode(public.raw_public_key())
        } else {
            public
                .to_pem()
                .map_err(|e| Error::key("public key", format!("PEM encoding: {e}")))?
        };
        Ok(Key {
            public,
            scheme,
            keyval_public,
        })
    }

    /// Parse a public key from a PEM (`PUBLIC KEY`) text, using the default scheme
    /// (RSA keys verify with `rsassa-pss-sha256`, as in-toto 3.1.0).
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let public =
            PublicKey::from_pem(pem).map_err(|e| Error::key("PEM public key", e.to_string()))?;
        // Re-serialised to canonical PEM as the reference does, so the key ID does not
        // depend on how the file was wrapped.
        Key::from_public(public)
    }

    /// Parse a securesystemslib key object (`{"keytype", "scheme", "keyval": {"public"}}`).
    pub fn from_json(value: &Value) -> Result<Self, Error> {
        let what = value
            .get("keyid")
            .and_then(Value::as_str)
            .unwrap_or("(no keyid)")
            .to_string();
        let obj = value
            .as_object()
            .ok_or_else(|| Error::key(&what, "key must be a JSON object"))?;
        let keytype = str_field(obj, "keytype", &what)?;
        let scheme_name = str_field(obj, "scheme", &what)?;
        let scheme = Scheme::parse(scheme_name)
            .ok_or_else(|| Error::key(&what, format!("unsupported scheme '{scheme_name}'")))?;
        let type_ok = keytype == scheme.keytype() || keytype == scheme.as_str();
        if !type_ok {
            return Err(Error::key(
                &what,
                format!("keytype '{keytype}' does not fit scheme '{scheme_name}'"),
            ));
        }
        let public_text = obj
            .get("keyval")
            .and_then(|v| v.get("public"))
            .and_then(Value::as_str)
            .ok_or_else(|| Error::key(&what, "missing keyval.public"))?;
        let public = if scheme == Scheme::Ed25519 {
            let raw = hex::decode(public_text.trim())
                .map_err(|e| Error::key(&what, format!("ed25519 keyval.public is not hex: {e}")))?;
            if raw.len() != 32 {
                return Err(Error::key(&what, "ed25519 public key must be 32 bytes"));
            }
            let mut der = ED25519_SPKI_PREFIX.to_vec();
            der.extend_from_slice(&raw);
            PublicKey::from_spki_der(&der).map_err(|e| Error::key(&what, e.to_string()))?
        } else {
            PublicKey::from_pem(public_text).map_err(|e| Error::key(&what, e.to_string()))?
        };
        if !scheme.fits(public.kind()) {
            return Err(Error::key(
                &what,
                format!("scheme '{scheme}' does not fit a {:?} key", public.kind()),
            ));
        }
        Ok(Key {
            public,
            scheme,
            keyval_public: public_text.to_string(),
        })
    }

    /// Parse a public key from file bytes: PEM, or securesystemslib JSON.
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<Self, Error> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| Error::key(what, "key file is not UTF-8"))?;
        if text.trim_start().starts_with('{') {
            let v: Value = serde_json::from_str(text).map_err(|e| Error::key(what, e))?;
            Key::from_json(&v).map_err(|e| Error::key(what, e))
        } else {
            Key::from_pem(text).map_err(|e| Error::key(what, e))
        }
    }

    /// Read a public key file (PEM or securesystemslib JSON).
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Key::from_bytes(&bytes, &path.display().to_string())
    }

    /// The signature scheme this key verifies with.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The underlying public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The securesystemslib JSON object without `keyid`.
    pub fn to_json(&self) -> Value {
        json!({
            "keytype": self.scheme.keytype(),
            "scheme": self.scheme.as_str(),
            "keyval": {"public": self.keyval_public},
        })
    }

    /// The securesystemslib JSON object including its `keyid`, as a layout's `keys` holds.
    pub fn to_json_with_keyid(&self) -> Value {
        let mut v = self.to_json();
        if let Some(o) = v.as_object_mut() {
            o.insert("keyid".into(), Value::String(self.keyid()));
        }
        v
    }

    /// The key ID in-toto 3.1.0 / securesystemslib ≥ 0.26 computes.
    pub fn keyid(&self) -> String {
        let bytes = canonical_json(&self.to_json()).unwrap_or_default();
        hex::encode(chainseal_crypto::keys::sha256(&bytes))
    }

    /// The key ID older securesystemslib and in-toto-golang compute (with
    /// `keyid_hash_algorithms` and the PEM stripped). Only ever used as a hint.
    pub fn legacy_keyid(&self) -> String {
        let v = json!({
            "keytype": self.scheme.keytype(),
            "scheme": self.scheme.as_str(),
            "keyid_hash_algorithms": ["sha256", "sha512"],
            "keyval": {"public": self.keyval_public.trim()},
        });
        let bytes = canonical_json(&v).unwrap_or_default();
        hex::encode(chainseal_crypto::keys::sha256(&bytes))
    }

    /// Verify `sig` over `msg` with this key's scheme.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        self.public
            .verify_with(self.scheme.crypto(), msg, sig)
            .map_err(|e| Error::SignatureVerification {
                what: format!("key {}", self.keyid()),
                reason: e.to_string(),
            })
    }

    /// True if both are the same public key (scheme aside): identifies a functionary.
    pub fn same_public_key(&self, other: &Key) -> bool {
        self.public.spki_der() == other.public.spki_der()
    }
}

fn str_field<'a>(obj: &'a Map<String, Value>, field: &str, what: &str) -> Result<&'a str, Error> {
    obj.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::key(what, format!("missing or non-string '{field}'")))
}

/// A private signing key and its public half in securesystemslib form.
pub struct SigningKey {
    private: PrivateKey,
    public: Key,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({:?})", self.public)
    }
}

impl SigningKey {
    /// Wrap a crypto private key with securesystemslib's default scheme.
    pub fn from_private(private: PrivateKey) -> Result<Self, Error> {
        let public = Key::from_public(private.public_key())?;
        Ok(SigningKey { private, public })
    }

    /// Parse a private key: PEM (PKCS#8, PKCS#1 RSA, SEC1 EC) or a securesystemslib
    /// JSON Ed25519 key with `keyval.private` (hex seed).
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<Self, Error> {
        let text = Zeroizing::new(
            String::from_utf8(bytes.to_vec())
                .map_err(|_| Error::key(what, "key file is not UTF-8"))?,
        );
        if text.trim_start().starts_with('{') {
            let v: Value = serde_json::from_str(&text).map_err(|e| Error::key(what, e))?;
            let keytype = v.get("keytype").and_then(Value::as_str).unwrap_or("");
            if keytype != "ed25519" {
                return Err(Error::key(
                    what,
                    format!(
                        "securesystemslib JSON private keys of type '{keytype}' are not supported; use PEM"
                    ),
                ));
            }
            let seed_hex = v
                .get("keyval")
                .and_then(|k| k.get("private"))
                .and_then(Value::as_str)
                .ok_or_else(|| Error::key(what, "missing keyval.private"))?;
            let seed = Zeroizing::new(
                hex::decode(seed_hex.trim())
                    .map_err(|_| Error::key(what, "keyval.private is not hex"))?,
            );
            if seed.len() != 32 {
                return Err(Error::key(what, "ed25519 private seed must be 32 bytes"));
            }
            let mut der = Zeroizing::new(ED25519_PKCS8_PREFIX.to_vec());
            der.extend_from_slice(&seed);
            let private =
                PrivateKey::from_pkcs8_der(&der).map_err(|e| Error::key(what, e.to_string()))?;
            return SigningKey::from_private(private);
        }
        let private = PrivateKey::from_pem(&text).map_err(|e| Error::key(what, e.to_string()))?;
        SigningKey::from_private(private)
    }

    /// Read a private key file.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| Error::io(path, e))?);
        SigningKey::from_bytes(&bytes, &path.display().to_string())
    }

    /// The public half.
    pub fn public(&self) -> &Key {
        &self.public
    }

    /// Sign `msg` with the key's securesystemslib default scheme.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        self.private
            .sign_with(self.public.scheme.crypto(), msg)
            .map_err(|e| Error::Signing {
                reason: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/intoto/intoto-demo-generated"
    );
    const PY: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/intoto/intoto-python-upstream/demo_files"
    );

    #[test]
    fn keyid_of_pem_key_matches_reference_in_toto_3_1() {
        // The reference signed the demo layout with alice's key and wrote this key ID.
        let key = Key::from_file(Path::new(&format!("{DEMO}/keys/alice.pub"))).unwrap();
        assert_eq!(
            key.keyid(),
            "c8ef46bd3ccb95e2617a80e447d0c8c6338f85334c2f6c6cb640e140fc183763"
        );
        // And named bob's link files with this prefix.
        let bob = Key::from_file(Path::new(&format!("{DEMO}/keys/bob.pub"))).unwrap();
        assert!(bob.keyid().starts_with("210dcc50"));
    }

    #[test]
    fn legacy_keyid_matches_older_reference_layouts() {
        // The python upstream template names bob's key 776a00e2… (legacy derivation).
        let bob = Key::from_file(Path::new(&format!("{PY}/bob.pub"))).unwrap();
        assert!(bob.legacy_keyid().starts_with("776a00e2"));
        assert_ne!(bob.legacy_keyid(), bob.keyid());
    }

    #[test]
    fn securesystemslib_json_ed25519_key_parses_and_rejects_bad_hex() {
        let k = Key::from_file(Path::new(&format!("{PY}/danny.pub"))).unwrap();
        assert_eq!(k.scheme(), Scheme::Ed25519);
        let bad = json!({"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"zz"}});
        assert!(Key::from_json(&bad).is_err());
    }

    #[test]
    fn rejects_key_whose_scheme_does_not_fit_its_type() {
        let k = Key::from_file(Path::new(&format!("{PY}/danny.pub"))).unwrap();
        let mut v = k.to_json();
        v["scheme"] = json!("rsassa-pss-sha256");
        assert!(Key::from_json(&v).is_err());
    }

    #[test]
    fn json_private_ed25519_key_signs_verifiably() {
        let sk = SigningKey::from_file(Path::new(&format!("{PY}/danny"))).unwrap();
        let pk = Key::from_file(Path::new(&format!("{PY}/danny.pub"))).unwrap();
        assert!(sk.public().same_public_key(&pk));
        let sig = sk.sign(b"msg").unwrap();
        pk.verify(b"msg", &sig).unwrap();
        assert!(pk.verify(b"msg2", &sig).is_err());
    }
}
