//! Signing for chainseal: keys (generated, cosign's encrypted format, plain PEM) and
//! Sigstore v0.3 bundles made with a managed key or keyless (a short-lived certificate
//! from a Fulcio-compatible CA), logged in a Rekor v2 log and timestamped by an RFC 3161
//! TSA. Every bundle is verified with `chainseal-verify` before it is returned.
//!
//! Secrets (private keys, passwords, identity tokens) live in zeroized buffers and have
//! redacted `Debug` output; errors never carry them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod error;
mod fsio;
mod keyfile;
mod services;
mod sign;

pub use config::{CLIENT_TRUST_CONFIG_V01, SIGNING_CONFIG_V02, Service, SigningSetup, now_unix};
pub use error::Error;
pub use fsio::{WriteOptions, write_atomic};
pub use keyfile::{
    COSIGN_PEM_LABEL, KeyPairFiles, Password, SIGSTORE_PEM_LABEL, decrypt_private_key,
    encrypt_private_key, generate_key_pair, is_encrypted, load_private_key, load_private_key_file,
};
pub use services::{Http, csr_pem};
pub use sign::{
    BUNDLE_V03, CertifiedKey, Credential, IdentityToken, Payload, SignedBundle, Signer,
    public_key_hint, statement_for,
};
