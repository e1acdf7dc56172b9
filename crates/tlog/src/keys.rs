//! Note verifier and signer keys: Ed25519 (type 0x01), cosignature/v1 (type 0x04), and
//! the vkey / private-key string formats.
//!
//! - vkey: `<name>+<hex8 key ID>+<base64(type || public key)>`
//! - private key (Go form): `PRIVATE+KEY+<name>+<hex8 key ID>+<base64(type || seed)>`
//! - key ID = `SHA-256(name || 0x0A || type || public key)[:4]`, big-endian.

use aws_lc_rs::signature::{self as sig, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::note::{NoteSigner, NoteVerifier, is_valid_key_name};

/// Signature type byte of Ed25519 note signatures.
pub const TYPE_ED25519: u8 = 0x01;
/// Signature type byte of ECDSA note signatures (transparency-dev witness form).
pub const TYPE_ECDSA: u8 = 0x02;
/// Signature type byte of timestamped Ed25519 cosignatures (cosignature/v1).
pub const TYPE_COSIGNATURE_V1: u8 = 0x04;
/// Signature type byte of RFC 6962 TreeHeadSignature note signatures (static-ct-api).
pub const TYPE_RFC6962: u8 = 0x05;

/// The C2SP key ID: `SHA-256(name || "\n" || type_and_key)[:4]` as a big-endian u32,
/// where `type_and_key` is the signature type byte followed by the public key bytes.
pub fn key_id(name: &str, type_and_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(type_and_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// A parsed vkey string: name, key ID, and `type || key` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    /// Key name.
    pub name: String,
    /// Key ID as written in the vkey (checked against the computed one for known types).
    pub key_id: u32,
    /// Signature type byte.
    pub key_type: u8,
    /// Public key bytes after the type byte.
    pub public_key: Vec<u8>,
}

fn parse_hex8(s: &str) -> Result<u32> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::key(format!("key ID {s:?} is not 8 hex digits")));
    }
    u32::from_str_radix(s, 16).map_err(|_| Error::key("bad key ID"))
}

impl VerifierKey {
    /// Parses `<name>+<hex8>+<base64(type || key)>`. The key ID must equal the one computed
    /// from name, type and key.
    pub fn parse(vkey: &str) -> Result<Self> {
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::key("vkey must be <name>+<hex key ID>+<base64 key>"));
        };
        if !is_valid_key_name(name) {
            return Err(Error::key(format!("invalid key name {name:?}")));
        }
        let key_id = parse_hex8(id)?;
        let raw = STANDARD
            .decode(b64)
            .map_err(|e| Error::key(format!("vkey {name}: bad base64: {e}")))?;
        let Some((&key_type, public_key)) = raw.split_first() else {
            return Err(Error::key(format!("vkey {name}: empty key")));
        };
        if public_key.is_empty() {
            return Err(Error::key(format!("vkey {name}: empty key")));
        }
        if key_id != self::key_id(name, &raw) {
            return Err(Error::key(format!(
                "vkey {name}: key ID {key_id:08x} does not match the key"
            )));
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id,
            key_type,
            public_key: public_key.to_vec(),
        })
    }

    /// Formats as a vkey string.
    pub fn to_vkey(&self) -> String {
        let mut raw = vec![self.key_type];
        raw.extend_from_slice(&self.public_key);
        format!("{}+{:08x}+{}", self.name, self.key_id, STANDARD.encode(raw))
    }
}

/// Parses a vkey of a supported self-describing type (Ed25519 0x01 or cosignature/v1
/// 0x04) into a boxed verifier.
pub fn parse_vkey(vkey: &str) -> Result<Box<dyn NoteVerifier + Send + Sync>> {
    let k = VerifierKey::parse(vkey)?;
    match k.key_type {
        TYPE_ED25519 => Ok(Box::new(Ed25519Verifier::from_key(k)?)),
        TYPE_COSIGNATURE_V1 => Ok(Box::new(CosignatureV1Verifier::from_key(k)?)),
        t => Err(Error::key(format!(
            "vkey {}: unsupported key type 0x{t:02x}",
            k.name
        ))),
    }
}

fn ed25519_public(k: &VerifierKey, want: u8) -> Result<[u8; 32]> {
    if k.key_type != want {
        return Err(Error::key(format!(
            "vkey {}: key type 0x{:02x}, expected 0x{want:02x}",
            k.name, k.key_type
        )));
    }
    <[u8; 32]>::try_from(k.public_key.as_slice()).map_err(|_| {
        Error::key(format!(
            "vkey {}: Ed25519 key must be 32 bytes, got {}",
            k.name,
            k.public_key.len()
        ))
    })
}

fn ed25519_verify(public: &[u8; 32], msg: &[u8], signature: &[u8]) -> bool {
    signature.len() == 64
        && sig::UnparsedPublicKey::new(&sig::ED25519, public)
            .verify(msg, signature)
            .is_ok()
}

/// Verifies Ed25519 note signatures (type 0x01): 64-byte signature over the note text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ed25519Verifier {
    name: String,
    key_id: u32,
    public: [u8; 32],
}

impl Ed25519Verifier {
    /// From a vkey string of type 0x01.
    pub fn from_vkey(vkey: &str) -> Result<Self> {
        Self::from_key(VerifierKey::parse(vkey)?)
    }

    fn from_key(k: VerifierKey) -> Result<Self> {
        let public = ed25519_public(&k, TYPE_ED25519)?;
        Ok(Self {
            name: k.name,
            key_id: k.key_id,
            public,
        })
    }

    /// From a name and a raw 32-byte public key (key ID computed).
    pub fn new(name: &str, public: [u8; 32]) -> Result<Self> {
        if !is_valid_key_name(name) {
            return Err(Error::key(format!("invalid key name {name:?}")));
        }
        let mut tk = vec![TYPE_ED25519];
        tk.extend_from_slice(&public);
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, &tk),
            public,
        })
    }

    /// The vkey string.
    pub fn to_vkey(&self) -> String {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            key_type: TYPE_ED25519,
            public_key: self.public.to_vec(),
        }
        .to_vkey()
    }
}

impl NoteVerifier for Ed25519Verifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        ed25519_verify(&self.public, text, signature)
    }
}

/// The message a cosignature/v1 signs: `cosignature/v1\ntime <t>\n<note text>`.
pub fn cosignature_v1_message(timestamp: u64, text: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(text);
    m
}

/// Verifies cosignature/v1 signatures (type 0x04): `timestamp (u64 BE) || Ed25519 sig`
/// over [`cosignature_v1_message`]. Timestamps above 2^63-1 are rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureV1Verifier {
    name: String,
    key_id: u32,
    public: [u8; 32],
}

impl CosignatureV1Verifier {
    /// From a vkey string of type 0x04.
    pub fn from_vkey(vkey: &str) -> Result<Self> {
        Self::from_key(VerifierKey::parse(vkey)?)
    }

    fn from_key(k: VerifierKey) -> Result<Self> {
        let public = ed25519_public(&k, TYPE_COSIGNATURE_V1)?;
        Ok(Self {
            name: k.name,
            key_id: k.key_id,
            public,
        })
    }

    /// The vkey string.
    pub fn to_vkey(&self) -> String {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            key_type: TYPE_COSIGNATURE_V1,
            public_key: self.public.to_vec(),
        }
        .to_vkey()
    }
}

fn split_timestamp(signature: &[u8]) -> Option<(u64, &[u8])> {
    let (ts, rest) = signature.split_first_chunk::<8>()?;
    let ts = u64::from_be_bytes(*ts);
    (ts <= i64::MAX as u64).then_some((ts, rest))
}

impl NoteVerifier for CosignatureV1Verifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        let Some((ts, s)) = split_timestamp(signature) else {
            return false;
        };
        ed25519_verify(&self.public, &cosignature_v1_message(ts, text), s)
    }
    fn timestamp(&self, signature: &[u8]) -> Option<u64> {
        split_timestamp(signature).map(|(ts, _)| ts)
    }
}

/// An Ed25519 note signing key, for type 0x01 (log) or 0x04 (cosignature/v1) signatures.
pub struct Ed25519Signer {
    name: String,
    key_type: u8,
    key_id: u32,
    seed: [u8; 32],
    pair: sig::Ed25519KeyPair,
    /// Timestamp used by cosignature/v1 signing (seconds since the epoch).
    timestamp: u64,
}

impl Drop for Ed25519Signer {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.seed);
    }
}

impl std::fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Ed25519Signer {{ name: {:?}, type: 0x{:02x}, key_id: {:08x} }}",
            self.name, self.key_type, self.key_id
        )
    }
}

impl Ed25519Signer {
    fn from_seed(name: &str, key_type: u8, seed: [u8; 32]) -> Result<Self> {
        if !is_valid_key_name(name) {
            return Err(Error::key(format!("invalid key name {name:?}")));
        }
        if key_type != TYPE_ED25519 && key_type != TYPE_COSIGNATURE_V1 {
            return Err(Error::key(format!(
                "unsupported Ed25519 key type 0x{key_type:02x}"
            )));
        }
        let pair = sig::Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|e| Error::key(format!("Ed25519 seed rejected: {e}")))?;
        let mut tk = vec![key_type];
        tk.extend_from_slice(pair.public_key().as_ref());
        Ok(Self {
            name: name.to_owned(),
            key_type,
            key_id: key_id(name, &tk),
            seed,
            pair,
            timestamp: 0,
        })
    }

    /// Generates a new Ed25519 note signing key (type 0x01) from the system RNG.
    pub fn generate(name: &str) -> Result<Self> {
        Self::generate_typed(name, TYPE_ED25519)
    }

    /// Generates a new cosignature/v1 signing key (type 0x04) from the system RNG.
    pub fn generate_cosigner(name: &str) -> Result<Self> {
        Self::generate_typed(name, TYPE_COSIGNATURE_V1)
    }

    fn generate_typed(name: &str, key_type: u8) -> Result<Self> {
        let mut seed = [0u8; 32];
        aws_lc_rs::rand::fill(&mut seed).map_err(|_| Error::key("RNG failure"))?;
        let s = Self::from_seed(name, key_type, seed);
        zeroize::Zeroize::zeroize(&mut seed);
        s
    }

    /// Parses `PRIVATE+KEY+<name>+<hex8>+<base64(type || seed)>` (type 0x01 or 0x04); the
    /// key ID must match the derived public key.
    pub fn from_private_key(skey: &str) -> Result<Self> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| Error::key("private key must start with PRIVATE+KEY+"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::key(
                "private key must be PRIVATE+KEY+<name>+<hex>+<base64>",
            ));
        };
        let id = parse_hex8(id)?;
        let raw = STANDARD
            .decode(b64)
            .map_err(|e| Error::key(format!("private key {name}: bad base64: {e}")))?;
        let Some((&key_type, seed)) = raw.split_first() else {
            return Err(Error::key("empty private key"));
        };
        let seed =
            <[u8; 32]>::try_from(seed).map_err(|_| Error::key("Ed25519 seed must be 32 bytes"))?;
        let s = Self::from_seed(name, key_type, seed)?;
        if s.key_id != id {
            return Err(Error::key(format!(
                "private key {name}: key ID {id:08x} does not match the key"
            )));
        }
        Ok(s)
    }

    /// The Go-form private key string. Treat it as a secret.
    pub fn to_private_key(&self) -> String {
        let mut raw = vec![self.key_type];
        raw.extend_from_slice(&self.seed);
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(raw)
        )
    }

    /// The matching vkey string.
    pub fn to_vkey(&self) -> String {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            key_type: self.key_type,
            public_key: self.pair.public_key().as_ref().to_vec(),
        }
        .to_vkey()
    }

    /// The signature type byte (0x01 or 0x04).
    pub fn key_type(&self) -> u8 {
        self.key_type
    }

    /// Sets the timestamp embedded in cosignature/v1 signatures (ignored for type 0x01).
    /// Must be at most 2^63-1.
    pub fn set_timestamp(&mut self, timestamp: u64) -> Result<()> {
        if timestamp > i64::MAX as u64 {
            return Err(Error::Signing {
                reason: "cosignature timestamp exceeds 2^63-1".into(),
            });
        }
        self.timestamp = timestamp;
        Ok(())
    }
}

impl NoteSigner for Ed25519Signer {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>> {
        if self.key_type == TYPE_COSIGNATURE_V1 {
            let msg = cosignature_v1_message(self.timestamp, text);
            let mut out = self.timestamp.to_be_bytes().to_vec();
            out.extend_from_slice(self.pair.sign(&msg).as_ref());
            Ok(out)
        } else {
            Ok(self.pair.sign(text).as_ref().to_vec())
        }
    }
}
