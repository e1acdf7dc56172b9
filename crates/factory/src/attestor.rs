//! Who signs the factory's attestations, and where they are recorded.
//!
//! The observer hands each in-toto Statement (a step's link, the run's provenance) to an
//! [`Attestor`]; steps never see it. Two implementations:
//!
//! - [`KeylessAttestor`]: the production path. One ephemeral P-256 key per run, certified
//!   by the authority for the factory's workload identity
//!   `spiffe://<trust-domain>/factory/<pipeline>`; every attestation becomes a Sigstore
//!   bundle v0.3 with an RFC 3161 timestamp and a transparency-log entry, verified before
//!   it is handed back.
//! - [`KeySigner`]: a local key, offline; DSSE envelopes only (no certificate, no log).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::x509::SubjectAltName;
use chainseal_intoto::{Key, SigningKey};
use chainseal_model::dsse;
use chainseal_sign::{CertifiedKey, Credential, IdentityToken, Payload, SigningSetup};
use serde_json::Value;

use crate::Error;

/// Where a signed attestation was recorded.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// The Sigstore bundle (v0.3 JSON), when the attestor records in a log.
    pub bundle: Option<Vec<u8>>,
    /// The transparency-log index of the entry, when logged.
    pub log_index: Option<i64>,
}

/// Signs the factory's attestations. Implementations are the only holders of the
/// factory's signing key.
pub trait Attestor: Send + Sync {
    /// The in-toto key ID of the (first) signing key.
    fn key_id(&self) -> String;
    /// The public key of the (first) signing key, once there is one; an attestor that
    /// renews its key during a long run names each envelope's key in its signature's
    /// `keyid`.
    fn public_key(&self) -> Option<&Key>;
    /// The certificate identity (URI SAN) the key is bound to, for keyless attestors
    /// (known once [`Attestor::begin`] has succeeded).
    fn identity(&self) -> Option<&str>;
    /// Bind the run: obtain the key for `identity` with the run's `build` facts bound into
    /// its certificate, and check that they are (keyless attestors). Called once, after the
    /// source is retrieved and before any step runs.
    fn begin(&self, identity: &str, build: &BuildClaims) -> Result<(), Error>;
    /// The trusted root (JSON) the attestations verify under, for keyless attestors.
    fn trusted_root(&self) -> Option<&[u8]>;
    /// Sign `statement` (in-toto Statement v1 JSON bytes, signed exactly as given) as a
    /// DSSE envelope; fast and local. `what` names it in errors.
    fn sign(&self, statement: &[u8], what: &str) -> Result<dsse::Envelope, Error>;
    /// Timestamp, log and bundle an envelope made by [`Attestor::sign`], where supported
    /// (slow: waits for the log). The bundle is verified before it is returned.
    fn record(&self, envelope: &dsse::Envelope, what: &str) -> Result<Recorded, Error>;
}

/// Sign an in-toto `statement` as a single-signature DSSE envelope: `sign` signs the PAE,
/// `keyid` names the key (a hint verifiers never trust).
fn sign_statement(
    statement: &[u8],
    keyid: String,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, String>,
    what: &str,
) -> Result<dsse::Envelope, Error> {
    let pae = dsse::pae(dsse::INTOTO_PAYLOAD_TYPE, statement);
    let sig = sign(&pae).map_err(|e| signing_err(what, e))?;
    Ok(dsse::Envelope {
        payload: statement.to_vec(),
        payload_type: dsse::INTOTO_PAYLOAD_TYPE.to_string(),
        signatures: vec![dsse::Signature {
            sig,
            keyid: Some(keyid),
        }],
    })
}

/// The build facts a run's certificate carries, as Fulcio extensions: claim name (in the
/// identity token) and the arc `N` of the extension `1.3.6.1.4.1.57264.1.N` the CA copies
/// it into (Fulcio's meanings; see the crate README).
pub const BUILD_CLAIM_ARCS: [(&str, u32); 10] = [
    ("build_signer_uri", 9),
    ("build_signer_digest", 10),
    ("runner_environment", 11),
    ("source_repository_uri", 12),
    ("source_repository_digest", 13),
    ("source_repository_ref", 14),
    ("build_config_uri", 18),
    ("build_config_digest", 19),
    ("build_trigger", 20),
    ("run_invocation_uri", 21),
];

/// The build facts of one run, by claim name (see [`BUILD_CLAIM_ARCS`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildClaims(pub std::collections::BTreeMap<String, String>);

impl BuildClaims {
    /// The claims as a JSON object, to put into an identity token.
    pub fn to_json(&self) -> serde_json::Map<String, Value> {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect()
    }

    /// Check that `cert` binds this build: each of [`REQUIRED_BUILD_CLAIMS`] present with
    /// this run's value, and every other build extension it carries equal to this run's
    /// claim. (An issuer the factory controls sets them all; an external CI's token must
    /// carry at least the required ones, which a consumer's verification requires too.)
    pub fn check_certificate(
        &self,
        cert: &chainseal_crypto::x509::Certificate,
    ) -> Result<(), String> {
        let ext = cert
            .fulcio_identity()
            .map_err(|e| format!("certificate extensions: {e}"))?;
        for (name, arc) in BUILD_CLAIM_ARCS {
            let ours = self.0.get(name);
            match (ext.all.get(&arc), ours) {
                (Some(v), Some(want)) if v == want => {}
                (Some(v), Some(want)) => {
                    return Err(format!(
                        "the certificate's {name} (1.3.6.1.4.1.57264.1.{arc}) is {v:?}, this run's is {want:?}"
                    ));
                }
                (Some(v), None) => {
                    return Err(format!(
                        "the certificate carries {name} (1.3.6.1.4.1.57264.1.{arc}) {v:?}, which this run does not have"
                    ));
                }
                (None, Some(want)) if REQUIRED_BUILD_CLAIMS.contains(&name) => {
                    return Err(format!(
                        "the certificate does not bind this build: it has no {name} (1.3.6.1.4.1.57264.1.{arc}), this run's is {want:?}; the identity token must carry the build claims"
                    ));
                }
                (None, _) => {}
            }
        }
        Ok(())
    }
}

/// The build claims a run's certificate must carry: what was built (the pipeline file)
/// from what (the source and its digest).
pub const REQUIRED_BUILD_CLAIMS: [&str; 3] = [
    "build_config_digest",
    "source_repository_uri",
    "source_repository_digest",
];

/// An [`Attestor`] over a local private key (PEM or securesystemslib JSON): DSSE only.
pub struct KeySigner {
    key: SigningKey,
}

impl std::fmt::Debug for KeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material: only the public key ID.
        write!(f, "KeySigner({})", self.key.public().keyid())
    }
}

impl KeySigner {
    /// Wrap an in-toto signing key.
    pub fn new(key: SigningKey) -> Self {
        KeySigner { key }
    }

    /// Read a private key file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, Error> {
        Ok(KeySigner::new(SigningKey::from_file(path)?))
    }
}

impl Attestor for KeySigner {
    fn key_id(&self) -> String {
        self.key.public().keyid()
    }
    fn public_key(&self) -> Option<&Key> {
        Some(self.key.public())
    }
    fn identity(&self) -> Option<&str> {
        None
    }
    fn begin(&self, _identity: &str, _build: &BuildClaims) -> Result<(), Error> {
        // A local key carries no identity and no certificate to bind the build into.
        Ok(())
    }
    fn trusted_root(&self) -> Option<&[u8]> {
        None
    }
    fn sign(&self, statement: &[u8], what: &str) -> Result<dsse::Envelope, Error> {
        let key = &self.key;
        sign_statement(
            statement,
            key.public().keyid(),
            |pae| key.sign(pae).map_err(|e| e.to_string()),
            what,
        )
    }
    fn record(&self, _envelope: &dsse::Envelope, _what: &str) -> Result<Recorded, Error> {
        // A local key has no log: the envelope is the whole attestation.
        Ok(Recorded::default())
    }
}

/// Supplies identity tokens to a [`KeylessAttestor`]: once at the start, and again each
/// time the run's certificate nears expiry (a fresh token, e.g. a re-read SPIFFE JWT-SVID
/// file or one minted by the stack's issuer). It gets the run's build claims: an issuer
/// the factory controls (the stack's) puts them into the token; an external token must
/// already carry them, and the run is refused if its certificate does not.
pub type TokenSource = Box<dyn Fn(&BuildClaims) -> Result<IdentityToken, String> + Send + Sync>;

/// How long before its certificate expires a key is replaced (the CA issues 10 minutes).
pub const DEFAULT_RENEWAL_MARGIN: Duration = Duration::from_secs(120);

/// One certified key of a run.
struct RunKey {
    certified: Arc<CertifiedKey>,
    key: Key,
    not_after: i64,
}

/// The keyless [`Attestor`]: run keys certified by the authority for the factory's
/// workload identity; every attestation is timestamped, logged and bundled. A run longer
/// than a certificate's life gets a new key and certificate for the same identity before
/// the old one expires; every link names the key that signed it.
pub struct KeylessAttestor {
    signer: chainseal_sign::Signer,
    tokens: TokenSource,
    margin: Duration,
    /// Set by [`Attestor::begin`]: the run's identity and build claims.
    bound: OnceLock<(String, BuildClaims)>,
    /// Every key of the run by in-toto key ID; the last issued is current.
    keys: Mutex<Vec<Arc<RunKey>>>,
    current: OnceLock<Key>,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for KeylessAttestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeylessAttestor")
            .field("identity", &self.bound.get().map(|b| &b.0))
            .field("key", &self.current.get().map(Key::keyid))
            .finish_non_exhaustive()
    }
}

fn signing_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Signing {
        what: what.to_string(),
        reason: e.to_string(),
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Certify a fresh key with a token from `tokens` for the run's build `claims`, and check
/// that the certificate binds them; returns the key and the certificate's URI SAN.
fn certify(
    rt: &tokio::runtime::Runtime,
    signer: &chainseal_sign::Signer,
    tokens: &TokenSource,
    claims: &BuildClaims,
) -> Result<(RunKey, String), Error> {
    let what = "the run certificate";
    let token = tokens(claims).map_err(|e| signing_err(what, format!("identity token: {e}")))?;
    let certified = rt
        .block_on(signer.certify(&token))
        .map_err(|e| signing_err(what, e))?;
    let leaf = certified
        .chain()
        .first()
        .ok_or_else(|| signing_err(what, "the CA returned no certificate"))?;
    let identity = leaf
        .subject_alt_names()
        .into_iter()
        .find_map(|s| match s {
            SubjectAltName::Uri(u) => Some(u),
            _ => None,
        })
        .ok_or_else(|| {
            signing_err(
                what,
                "the certificate has no URI SAN: the token's subject must be the workload's SPIFFE ID",
            )
        })?;
    claims
        .check_certificate(leaf)
        .map_err(|e| signing_err(what, e))?;
    let not_after = leaf.not_after_unix();
    let key = Key::from_public(certified.public_key())?;
    Ok((
        RunKey {
            certified: Arc::new(certified),
            key,
            not_after,
        },
        identity,
    ))
}

impl KeylessAttestor {
    /// An attestor that certifies its run keys at the CA in `setup` with tokens from
    /// `tokens` (whose subject is the workload identity). No key exists until
    /// [`Attestor::begin`]. Blocking; use it outside any async runtime.
    pub fn new(setup: SigningSetup, tokens: TokenSource) -> Result<Self, Error> {
        Self::with_renewal_margin(setup, tokens, DEFAULT_RENEWAL_MARGIN)
    }

    /// As [`KeylessAttestor::new`], replacing the key `margin` before its certificate
    /// expires.
    pub fn with_renewal_margin(
        setup: SigningSetup,
        tokens: TokenSource,
        margin: Duration,
    ) -> Result<Self, Error> {
        let what = "the run certificate";
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("chainseal-attest")
            .enable_all()
            .build()
            .map_err(|e| signing_err(what, e))?;
        let signer = chainseal_sign::Signer::new(setup).map_err(|e| signing_err(what, e))?;
        Ok(KeylessAttestor {
            signer,
            tokens,
            margin,
            bound: OnceLock::new(),
            keys: Mutex::new(Vec::new()),
            current: OnceLock::new(),
            rt,
        })
    }

    /// The current certificate chain, leaf first.
    pub fn chain(&self) -> Vec<chainseal_crypto::x509::Certificate> {
        self.lock()
            .last()
            .map(|k| k.certified.chain().to_vec())
            .unwrap_or_default()
    }

    /// How many keys the run has used so far.
    pub fn keys_used(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<RunKey>>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current key, replaced first if its certificate expires within the margin.
    fn fresh_key(&self, what: &str) -> Result<Arc<RunKey>, Error> {
        let mut keys = self.lock();
        let margin = i64::try_from(self.margin.as_secs()).unwrap_or(i64::MAX);
        if let Some(k) = keys.last()
            && k.not_after.saturating_sub(unix_now()) > margin
        {
            return Ok(Arc::clone(k));
        }
        let (run_identity, claims) = self
            .bound
            .get()
            .ok_or_else(|| signing_err(what, "the run has not begun: no key yet"))?;
        let (k, identity) = certify(&self.rt, &self.signer, &self.tokens, claims)?;
        if identity != *run_identity {
            return Err(signing_err(
                what,
                format!(
                    "the renewed certificate is for {identity}, the run's identity is {run_identity}"
                ),
            ));
        }
        let k = Arc::new(k);
        keys.push(Arc::clone(&k));
        Ok(k)
    }

    fn key_by_id(&self, keyid: &str) -> Option<Arc<RunKey>> {
        self.lock().iter().find(|k| k.key.keyid() == keyid).cloned()
    }
}

/// The DSSE signature inside a bundle's JSON.
fn bundle_signature(bundle: &[u8], what: &str) -> Result<Vec<u8>, Error> {
    let v: Value = serde_json::from_slice(bundle).map_err(|e| signing_err(what, e))?;
    let sig = v
        .pointer("/dsseEnvelope/signatures/0/sig")
        .and_then(Value::as_str)
        .ok_or_else(|| signing_err(what, "the bundle has no DSSE signature"))?;
    STANDARD.decode(sig).map_err(|e| signing_err(what, e))
}

impl Attestor for KeylessAttestor {
    fn key_id(&self) -> String {
        self.current.get().map(Key::keyid).unwrap_or_default()
    }
    fn public_key(&self) -> Option<&Key> {
        self.current.get()
    }
    fn identity(&self) -> Option<&str> {
        self.bound.get().map(|b| b.0.as_str())
    }
    fn begin(&self, identity: &str, build: &BuildClaims) -> Result<(), Error> {
        let what = "the run certificate";
        if self.bound.get().is_some() {
            return Err(signing_err(what, "this attestor already signs another run"));
        }
        let (first, got) = certify(&self.rt, &self.signer, &self.tokens, build)?;
        if got != identity {
            return Err(signing_err(
                what,
                format!("it is issued to {got}, but this run's builder id is {identity}"),
            ));
        }
        let _ = self.current.set(first.key.clone());
        self.lock().push(Arc::new(first));
        let _ = self.bound.set((identity.to_string(), build.clone()));
        Ok(())
    }
    fn trusted_root(&self) -> Option<&[u8]> {
        Some(&self.signer.setup().trusted_root_json)
    }
    fn sign(&self, statement: &[u8], what: &str) -> Result<dsse::Envelope, Error> {
        let k = self.fresh_key(what)?;
        sign_statement(
            statement,
            k.key.keyid(),
            |pae| k.certified.sign_raw(pae).map_err(|e| e.to_string()),
            what,
        )
    }

    fn record(&self, envelope: &dsse::Envelope, what: &str) -> Result<Recorded, Error> {
        let [sig] = envelope.signatures.as_slice() else {
            return Err(signing_err(what, "expected exactly one signature"));
        };
        if envelope.payload_type != dsse::INTOTO_PAYLOAD_TYPE {
            return Err(signing_err(what, "not an in-toto envelope"));
        }
        let k = sig
            .keyid
            .as_deref()
            .and_then(|id| self.key_by_id(id))
            .ok_or_else(|| signing_err(what, "the envelope was not signed by a key of this run"))?;
        let cred = Credential::Certified(Arc::clone(&k.certified));
        let signed = self
            .rt
            .handle()
            .block_on(self.signer.record_signed_async(
                &cred,
                Payload::Statement(&envelope.payload),
                &sig.sig,
            ))
            .map_err(|e| signing_err(what, e))?;
        if bundle_signature(&signed.json, what)? != sig.sig {
            return Err(signing_err(what, "the bundle carries another signature"));
        }
        let log_index = signed
            .report
            .tlog_entries
            .first()
            .and_then(|e| e.log_index.or(e.proof_index));
        Ok(Recorded {
            bundle: Some(signed.json),
            log_index,
        })
    }
}
