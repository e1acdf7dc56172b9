//! Private key files: cosign's encrypted format (scrypt + NaCl secretbox around PKCS#8
//! DER, PEM label `ENCRYPTED SIGSTORE PRIVATE KEY`, also read under the older
//! `ENCRYPTED COSIGN PRIVATE KEY`), and plain PKCS#8 / SEC1 / PKCS#1 PEM.
//!
//! The format (sigstore `pkg/encrypted`, go-tuf `encrypted`): the PEM body is JSON
//! `{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":B64},
//!   "cipher":{"name":"nacl/secretbox","nonce":B64},"ciphertext":B64}` where the key is
//! `scrypt(password, salt, N, r, p, 32)` and `ciphertext = secretbox(pkcs8_der)` (tag first).

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::{KeyKind, PrivateKey, PublicKey};
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Key, Nonce, XSalsa20Poly1305};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::Error;
use crate::fsio::{WriteOptions, write_atomic};

/// PEM label cosign writes (and we write).
pub const SIGSTORE_PEM_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM label of older cosign releases (read only).
pub const COSIGN_PEM_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

/// scrypt cost cosign uses: N = 2^15, r = 8, p = 1.
const WRITE_LOG_N: u8 = 15;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
/// Largest cost accepted when reading (2^17 × 1 KiB = 128 MiB of scrypt memory), so a key
/// file cannot make us allocate without bound.
const MAX_LOG_N: u8 = 17;
/// Smallest cost accepted when reading (cheaper keys are refused as too weak).
const MIN_LOG_N: u8 = 12;
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// A password, wiped on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct Password(Zeroizing<Vec<u8>>);

impl Password {
    /// Takes ownership of the bytes (the caller's copy should itself be zeroized).
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Password(bytes)
    }

    /// From a string (e.g. an environment variable); the string is consumed.
    pub fn from_string(s: String) -> Self {
        let s = Zeroizing::new(s);
        Password(Zeroizing::new(s.as_bytes().to_vec()))
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

fn derive_key(
    password: &Password,
    salt: &[u8],
    log_n: u8,
    r: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>, Error> {
    let params = scrypt::Params::new(log_n, r, p, 32)
        .map_err(|e| Error::KeyParams(format!("scrypt parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password.bytes(), salt, &params, key.as_mut())
        .map_err(|e| Error::KeyParams(format!("scrypt: {e}")))?;
    Ok(key)
}

fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| Error::Key("system RNG failed".into()))?;
    Ok(b)
}

/// Encrypts `key` under `password` in cosign's format; returns the PEM text.
pub fn encrypt_private_key(key: &PrivateKey, password: &Password) -> Result<String, Error> {
    let salt: [u8; SALT_LEN] = random()?;
    let nonce: [u8; NONCE_LEN] = random()?;
    let k = derive_key(password, &salt, WRITE_LOG_N, SCRYPT_R, SCRYPT_P)?;
    let cipher = XSalsa20Poly1305::new(Key::from_slice(k.as_ref()));
    let pkcs8 = key.to_pkcs8_der();
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), pkcs8.as_slice())
        .map_err(|_| Error::Key("secretbox encryption failed".into()))?;
    let sealed = Sealed {
        kdf: Kdf {
            name: "scrypt".into(),
            params: ScryptParams {
                n: 1u64 << WRITE_LOG_N,
                r: SCRYPT_R,
                p: SCRYPT_P,
            },
            salt: STANDARD.encode(salt),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: STANDARD.encode(nonce),
        },
        ciphertext: STANDARD.encode(ct),
    };
    let json = serde_json::to_vec(&sealed).map_err(|e| Error::Key(format!("encoding: {e}")))?;
    der::pem::encode_string(SIGSTORE_PEM_LABEL, der::pem::LineEnding::LF, &json)
        .map_err(|e| Error::Key(format!("PEM encoding: {e}")))
}

/// The label of the first PEM block, if the text is PEM.
fn pem_label(pem: &str) -> Option<&str> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = pem.get(start..)?;
    let end = rest.find("-----")?;
    rest.get(..end)
}

/// Whether `pem` is an encrypted key in cosign's format (a password is needed).
pub fn is_encrypted(pem: &str) -> bool {
    matches!(pem_label(pem), Some(SIGSTORE_PEM_LABEL | COSIGN_PEM_LABEL))
}

/// Decrypts a cosign-format encrypted key. A wrong password and a modified file both give
/// [`Error::Decrypt`].
pub fn decrypt_private_key(pem: &str, password: &Password) -> Result<PrivateKey, Error> {
    let (label, body) = der::pem::decode_vec(pem.trim().as_bytes())
        .map_err(|e| Error::Key(format!("encrypted key PEM: {e}")))?;
    if label != SIGSTORE_PEM_LABEL && label != COSIGN_PEM_LABEL {
        return Err(Error::Key(format!(
            "expected an {SIGSTORE_PEM_LABEL} block, found {label:?}"
        )));
    }
    let sealed: Sealed = serde_json::from_slice(&body)
        .map_err(|e| Error::Key(format!("encrypted key JSON: {e}")))?;
    if sealed.kdf.name != "scrypt" {
        return Err(Error::KeyParams(format!("kdf {:?}", sealed.kdf.name)));
    }
    if sealed.cipher.name != "nacl/secretbox" {
        return Err(Error::KeyParams(format!("cipher {:?}", sealed.cipher.name)));
    }
    let ScryptParams { n, r, p } = sealed.kdf.params;
    if !n.is_power_of_two() || r != SCRYPT_R || p != SCRYPT_P {
        return Err(Error::KeyParams(format!("scrypt N={n} r={r} p={p}")));
    }
    let log_n = u8::try_from(n.trailing_zeros()).unwrap_or(u8::MAX);
    if !(MIN_LOG_N..=MAX_LOG_N).contains(&log_n) {
        return Err(Error::KeyParams(format!(
            "scrypt N={n} outside 2^{MIN_LOG_N}..=2^{MAX_LOG_N}"
        )));
    }
    let b64 = |what: &str, s: &str| {
        STANDARD
            .decode(s)
            .map_err(|e| Error::Key(format!("encrypted key {what}: {e}")))
    };
    let salt = b64("salt", &sealed.kdf.salt)?;
    let nonce = b64("nonce", &sealed.cipher.nonce)?;
    let ct = b64("ciphertext", &sealed.ciphertext)?;
    if nonce.len() != NONCE_LEN {
        return Err(Error::Key(format!(
            "secretbox nonce must be {NONCE_LEN} bytes, got {}",
            nonce.len()
        )));
    }
    let k = derive_key(password, &salt, log_n, r, p)?;
    let cipher = XSalsa20Poly1305::new(Key::from_slice(k.as_ref()));
    let der = Zeroizing::new(
        cipher
            .decrypt(Nonce::from_slice(&nonce), ct.as_slice())
            .map_err(|_| Error::Decrypt)?,
    );
    match PrivateKey::from_pkcs8_der(&der) {
        Ok(k) => Ok(k),
        Err(_) => {
            // Some cosign releases sealed SEC1 `EC PRIVATE KEY` DER instead of PKCS#8.
            let pem = Zeroizing::new(
                der::pem::encode_string("EC PRIVATE KEY", der::pem::LineEnding::LF, &der)
                    .map_err(|e| Error::Key(format!("PEM encoding: {e}")))?,
            );
            PrivateKey::from_pem(&pem)
                .map_err(|_| Error::Key("decrypted key is neither PKCS#8 nor a SEC1 EC key".into()))
        }
    }
}

/// Reads a private key from PEM text: cosign's encrypted format (asks `password` for the
/// password, only then), or a plain `PRIVATE KEY` / `EC PRIVATE KEY` / `RSA PRIVATE KEY`.
pub fn load_private_key(
    pem: &str,
    password: impl FnOnce() -> Result<Password, Error>,
) -> Result<PrivateKey, Error> {
    if is_encrypted(pem) {
        decrypt_private_key(pem, &password()?)
    } else {
        PrivateKey::from_pem(pem).map_err(Error::from)
    }
}

/// Reads a private key file (see [`load_private_key`]).
pub fn load_private_key_file(
    path: &Path,
    password: impl FnOnce() -> Result<Password, Error>,
) -> Result<PrivateKey, Error> {
    let text =
        Zeroizing::new(std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?);
    load_private_key(&text, password)
}

/// The two files [`generate_key_pair`] wrote.
#[derive(Debug, Clone)]
pub struct KeyPairFiles {
    /// `<prefix>.key`: the encrypted private key (mode 0600).
    pub private_key: PathBuf,
    /// `<prefix>.pub`: the SPKI `PUBLIC KEY` PEM.
    pub public_key: PathBuf,
    /// The public key written.
    pub public: PublicKey,
}

/// Generates a key of `kind` (ECDSA P-256 or Ed25519) and writes `<prefix>.key` (encrypted
/// under `password`, 0600) and `<prefix>.pub`. Refuses to replace either file unless
/// `force`. Both are written tmp → fsync → rename.
pub fn generate_key_pair(
    kind: KeyKind,
    password: &Password,
    prefix: &Path,
    force: bool,
) -> Result<KeyPairFiles, Error> {
    if !matches!(kind, KeyKind::EcdsaP256 | KeyKind::Ed25519) {
        return Err(Error::Key(format!(
            "{kind:?}: generate-key-pair makes ECDSA P-256 or Ed25519 keys"
        )));
    }
    let with_ext = |ext: &str| {
        let mut s = prefix.as_os_str().to_os_string();
        s.push(ext);
        PathBuf::from(s)
    };
    let (priv_path, pub_path) = (with_ext(".key"), with_ext(".pub"));
    if !force {
        for p in [&priv_path, &pub_path] {
            if p.exists() {
                return Err(Error::Exists(p.clone()));
            }
        }
    }
    let key = PrivateKey::generate(kind)?;
    let sealed = encrypt_private_key(&key, password)?;
    let public = key.public_key();
    let pub_pem = public.to_pem()?;
    write_atomic(
        &priv_path,
        sealed.as_bytes(),
        WriteOptions {
            overwrite: force,
            secret: true,
        },
    )?;
    write_atomic(
        &pub_path,
        pub_pem.as_bytes(),
        WriteOptions {
            overwrite: force,
            secret: false,
        },
    )?;
    Ok(KeyPairFiles {
        private_key: priv_path,
        public_key: pub_path,
        public,
    })
}
