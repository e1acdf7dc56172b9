//! Note verifiers for keys given as X.509 `SubjectPublicKeyInfo` (ECDSA / RSA):
//!
//! - [`PkixVerifier`]: Sigstore Rekor v1 checkpoints (and the transparency-dev ECDSA note
//!   form, type 0x02): key ID = `SHA-256(SPKI DER)[:4]`, signature = the key's standard
//!   signature (ASN.1 DER ECDSA, or RSA PKCS#1 v1.5 SHA-256) over the note text. The key
//!   name is the log's host, e.g. `rekor.sigstore.dev`.
//! - [`Rfc6962Verifier`]: static-ct-api checkpoints (type 0x05): signature =
//!   `timestamp (u64 BE) || TLS DigitallySigned` over the RFC 6962 `TreeHeadSignature`
//!   built from the checkpoint; key ID = `SHA-256(name || "\n" || 0x05 || SHA-256(SPKI))[:4]`.

use chainseal_crypto::keys::{KeyKind, PublicKey};
use sha2::{Digest, Sha256};

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::keys::{TYPE_RFC6962, key_id};
use crate::note::{NoteVerifier, is_valid_key_name};

fn check_name(name: &str) -> Result<()> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(Error::key(format!("invalid key name {name:?}")))
    }
}

/// Verifies note signatures made directly with an ECDSA or RSA key (Rekor v1 checkpoints).
#[derive(Debug, Clone)]
pub struct PkixVerifier {
    name: String,
    key_id: u32,
    key: PublicKey,
}

impl PkixVerifier {
    /// A verifier named `name` (e.g. `rekor.sigstore.dev`) for `key`. Ed25519 keys are
    /// refused: use [`crate::keys::Ed25519Verifier`].
    pub fn new(name: &str, key: PublicKey) -> Result<Self> {
        check_name(name)?;
        if key.kind() == KeyKind::Ed25519 {
            return Err(Error::key("PKIX note verifier: Ed25519 keys use type 0x01"));
        }
        let d = Sha256::digest(key.spki_der());
        Ok(Self {
            name: name.to_owned(),
            key_id: u32::from_be_bytes([d[0], d[1], d[2], d[3]]),
            key,
        })
    }

    /// From an SPKI DER public key.
    pub fn from_spki_der(name: &str, spki: &[u8]) -> Result<Self> {
        let key = PublicKey::from_spki_der(spki).map_err(|e| Error::key(e.to_string()))?;
        Self::new(name, key)
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }
}

impl NoteVerifier for PkixVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn verify(&self, text: &[u8], sig: &[u8]) -> bool {
        self.key.verify(text, sig).is_ok()
    }
}

/// Verifies RFC 6962 TreeHeadSignature note signatures (static-ct-api, type 0x05).
///
/// The signature does not cover the origin or extension lines, so this verifier also
/// requires the checkpoint's origin to equal the key name and rejects extension lines.
#[derive(Debug, Clone)]
pub struct Rfc6962Verifier {
    name: String,
    key_id: u32,
    key: PublicKey,
}

impl Rfc6962Verifier {
    /// A verifier named `name` (the log's origin) for the log key `key` (P-256 or RSA).
    pub fn new(name: &str, key: PublicKey) -> Result<Self> {
        check_name(name)?;
        if !matches!(key.kind(), KeyKind::EcdsaP256 | KeyKind::Rsa { .. }) {
            return Err(Error::key(
                "RFC 6962 note verifier: key must be ECDSA P-256 or RSA",
            ));
        }
        let log_id = Sha256::digest(key.spki_der());
        let mut tk = vec![TYPE_RFC6962];
        tk.extend_from_slice(&log_id);
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, &tk),
            key,
        })
    }

    /// From an SPKI DER public key.
    pub fn from_spki_der(name: &str, spki: &[u8]) -> Result<Self> {
        let key = PublicKey::from_spki_der(spki).map_err(|e| Error::key(e.to_string()))?;
        Self::new(name, key)
    }

    /// The RFC 6962 log ID: SHA-256 of the SPKI DER.
    pub fn log_id(&self) -> [u8; 32] {
        Sha256::digest(self.key.spki_der()).into()
    }
}

/// The RFC 6962 `TreeHeadSignature` input: version v1 (0), signature type tree_hash (1),
/// timestamp, tree size, root hash.
pub fn tree_head_signature_input(timestamp: u64, size: u64, root: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(50);
    m.extend_from_slice(&[0, 1]);
    m.extend_from_slice(&timestamp.to_be_bytes());
    m.extend_from_slice(&size.to_be_bytes());
    m.extend_from_slice(root);
    m
}

impl NoteVerifier for Rfc6962Verifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn verify(&self, text: &[u8], sig: &[u8]) -> bool {
        let Some(ts) = self.timestamp(sig) else {
            return false;
        };
        // DigitallySigned: hash alg (4 = sha256), sig alg (3 = ecdsa, 1 = rsa), u16 length.
        let Some([hash_alg, sig_alg, l1, l2]) = sig.get(8..12).and_then(|s| s.first_chunk::<4>())
        else {
            return false;
        };
        let want_sig_alg = if self.key.kind() == KeyKind::EcdsaP256 {
            3
        } else {
            1
        };
        if *hash_alg != 4 || *sig_alg != want_sig_alg {
            return false;
        }
        let len = usize::from(u16::from_be_bytes([*l1, *l2]));
        let Some(signature) = sig.get(12..).filter(|s| s.len() == len) else {
            return false;
        };
        let Ok(text) = std::str::from_utf8(text) else {
            return false;
        };
        let Ok(cp) = Checkpoint::parse(text) else {
            return false;
        };
        if cp.origin != self.name || !cp.extensions.is_empty() {
            return false;
        }
        let msg = tree_head_signature_input(ts, cp.size, &cp.root_hash);
        self.key.verify(&msg, signature).is_ok()
    }
    fn timestamp(&self, sig: &[u8]) -> Option<u64> {
        let ts = u64::from_be_bytes(*sig.first_chunk::<8>()?);
        (ts <= i64::MAX as u64).then_some(ts)
    }
}
