//! Self-made Sigstore worlds for verifier tests: a Fulcio-style CA (root, optional
//! intermediate, leaf with SAN, OIDC issuer extensions, key usage, EKU codeSigning and an
//! embedded SCT from its own CT log), a Rekor v1 log (SET, inclusion proof, checkpoint), a
//! Rekor v2 log (checkpoint, inclusion proof), an RFC 3161 TSA, the trusted root listing
//! them all, and a v0.3 bundle over an artifact.
//!
//! [`World::new`] makes the keys and authorities; [`World::bundle`] signs an honest bundle
//! that verifies. Every piece is public JSON (`serde_json::Value`) or a function that signs
//! one more piece (a log entry over any body, a timestamp by any TSA signer, a leaf with
//! any option), so that a test changes exactly one thing from the honest bundle.
//!
//! Certificates and SCTs come from `chainseal_authority::certs` / `::ct` (the CA the stack
//! runs), timestamps from `chainseal_crypto::rfc3161::TsaSigner`.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_authority::certs::{self, OID_KP_CODE_SIGNING, Template};
use chainseal_authority::ct::{CtLog, encode_sct_list};
use chainseal_crypto::keys::{HashAlgorithm, KeyKind, PrivateKey, sha256};
use chainseal_crypto::rfc3161::{TsaSigner, timestamp_request};
use chainseal_crypto::sct::OID_SCT_LIST;
use chainseal_crypto::x509::Certificate;
use chainseal_tlog::merkle;
use chainseal_tlog::note::{Note, NoteSignature};
use der::asn1::{Ia5String, ObjectIdentifier, OctetString, Utf8StringRef};
use der::{Any, Decode, Encode};
use serde_json::{Value, json};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::name::Name;

/// The identity (email SAN) of honest leaves.
pub const IDENTITY: &str = "forger@example.com";
/// The OIDC issuer of honest leaves.
pub const ISSUER: &str = "https://issuer.forged.test";
/// Rekor v1 log base URL.
pub const REKOR_V1_URL: &str = "https://rekor.forged.test";
/// Rekor v2 log base URL (its C2SP origin is `log2.forged.test`).
pub const REKOR_V2_URL: &str = "https://log2.forged.test";
/// Tree ID in the Rekor v1 checkpoint origin `<host> - <tree ID>`.
pub const REKOR_V1_TREE_ID: u64 = 4_242_424_242;
/// The TSA policy OID.
pub const TSA_POLICY: &str = "1.3.6.1.4.1.57264.2";
/// Fulcio's username otherName SAN.
pub const OID_FULCIO_USERNAME: &str = "1.3.6.1.4.1.57264.1.7";
const OID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");

/// Unix seconds now ([`crate::unix_now`]).
pub fn now() -> i64 {
    crate::unix_now()
}

/// RFC 3339 UTC of a Unix time.
pub fn rfc3339(t: i64) -> String {
    chainseal_authority::trustroot::rfc3339(t).expect("time in range")
}

fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

fn key() -> PrivateKey {
    PrivateKey::generate(KeyKind::EcdsaP256).expect("P-256 key")
}

/// How a leaf certificate is made.
#[derive(Clone, Debug)]
pub struct LeafOptions {
    /// The SAN entries (default: one email SAN [`IDENTITY`]).
    pub sans: Vec<San>,
    /// Whether the leaf carries keyUsage digitalSignature (default true).
    pub key_usage: bool,
    /// Issue the leaf with the root key directly, not the intermediate (default false).
    pub issued_by_root: bool,
}

impl Default for LeafOptions {
    fn default() -> Self {
        Self {
            sans: vec![San::Email(IDENTITY.into())],
            key_usage: true,
            issued_by_root: false,
        }
    }
}

/// One SAN entry of a test leaf.
#[derive(Clone, Debug)]
pub enum San {
    /// rfc822Name.
    Email(String),
    /// URI.
    Uri(String),
    /// otherName with a UTF8String value.
    OtherName {
        /// The type-id OID (dotted).
        oid: String,
        /// The value.
        value: String,
    },
}

/// A TSA signing certificate's extended key usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsaEku {
    /// timeStamping alone, critical (RFC 3161 §2.3).
    CriticalSole,
    /// timeStamping alone, not critical.
    NonCritical,
    /// timeStamping and codeSigning, critical.
    NotSole,
}

/// A signing certificate with its key.
pub struct Leaf {
    /// The certificate.
    pub cert: Certificate,
    /// Its private key.
    pub key: PrivateKey,
}

/// A self-made Sigstore instance.
pub struct World {
    /// Reference time of the world (Unix seconds); certificates start before it.
    pub now: i64,
    /// Fulcio root key and certificate.
    pub root_key: PrivateKey,
    /// Fulcio root certificate.
    pub root: Certificate,
    /// Fulcio intermediate key.
    pub intermediate_key: PrivateKey,
    /// Fulcio intermediate certificate (signed by the root).
    pub intermediate: Certificate,
    /// The CA's CT log.
    pub ct: Arc<CtLog>,
    /// Rekor v1 log key (ECDSA P-256).
    pub rekor_v1_key: PrivateKey,
    /// Rekor v2 log key (Ed25519).
    pub rekor_v2_key: PrivateKey,
    /// The origin line written into Rekor v1 checkpoints.
    pub rekor_v1_origin: String,
    /// The origin line written into Rekor v2 checkpoints.
    pub rekor_v2_origin: String,
    /// TSA root key.
    pub tsa_root_key: PrivateKey,
    /// TSA root certificate.
    pub tsa_root: Certificate,
    /// The trusted TSA's signer.
    pub tsa: TsaSigner,
    /// The trusted TSA's certificate.
    pub tsa_cert: Certificate,
    /// The artifact that is signed.
    pub artifact: Vec<u8>,
}

/// The pieces of one signed bundle.
pub struct Signed {
    /// The leaf that signed.
    pub leaf: Leaf,
    /// The signature over the artifact.
    pub signature: Vec<u8>,
}

impl World {
    /// Keys, CA, CT log, Rekor v1 and v2 logs and a TSA, all fresh.
    pub fn new() -> Self {
        let now = now();
        let start = now - 3600;
        let root_key = key();
        let root = certs::self_signed_ca(&root_key, "CN=forged root,O=chainseal", start, 10)
            .expect("root");
        let intermediate_key = key();
        let intermediate = certs::intermediate_ca(
            &intermediate_key,
            "CN=forged intermediate,O=chainseal",
            &root,
            &root_key,
            start,
            None,
        )
        .expect("intermediate");
        let ct = Arc::new(CtLog::new(key()).expect("CT log"));
        let tsa_root_key = key();
        let tsa_root =
            certs::self_signed_ca(&tsa_root_key, "CN=forged TSA root,O=chainseal", start, 10)
                .expect("TSA root");
        let tsa_key = key();
        let tsa_cert = tsa_certificate(
            &tsa_key,
            "CN=forged TSA,O=chainseal",
            &tsa_root,
            &tsa_root_key,
            start,
            TsaEku::CriticalSole,
        );
        let tsa = TsaSigner::new(
            tsa_key,
            vec![tsa_cert.clone(), tsa_root.clone()],
            TSA_POLICY,
        )
        .expect("TSA signer");
        let host = |u: &str| u.trim_start_matches("https://").to_string();
        World {
            now,
            root_key,
            root,
            intermediate_key,
            intermediate,
            ct,
            rekor_v1_key: key(),
            rekor_v2_key: PrivateKey::generate(KeyKind::Ed25519).expect("Ed25519 key"),
            rekor_v1_origin: format!("{} - {REKOR_V1_TREE_ID}", host(REKOR_V1_URL)),
            rekor_v2_origin: host(REKOR_V2_URL),
            tsa_root_key,
            tsa_root,
            tsa,
            tsa_cert,
            artifact: b"the artifact forged bundles are about\n".to_vec(),
        }
    }

    /// A Fulcio-style leaf (short-lived, SAN, issuer extensions, EKU codeSigning, SCT).
    pub fn leaf(&self, opts: &LeafOptions) -> Leaf {
        let key = key();
        let (issuer, issuer_key) = if opts.issued_by_root {
            (&self.root, &self.root_key)
        } else {
            (&self.intermediate, &self.intermediate_key)
        };
        let issuer_name = Name::from_der(&issuer.subject_der()).expect("issuer name");
        let issuer_spki = issuer.spki_der().expect("issuer SPKI");
        let spki = key.public_key().spki_der().to_vec();
        let [ski, aki] = certs::key_ids(&spki, &issuer_spki).expect("key ids");
        let [iss_v1, iss_v2] = certs::fulcio_issuer(ISSUER).expect("issuer extensions");
        let mut extensions = Vec::new();
        if opts.key_usage {
            extensions.push(certs::key_usage(false).expect("KU"));
        }
        extensions.extend([
            certs::extended_key_usage(OID_KP_CODE_SIGNING, false).expect("EKU"),
            ski,
            aki,
            san_extension(&opts.sans),
            iss_v1,
            iss_v2,
        ]);
        let not_before = self.now - 60;
        let mut template = Template {
            serial: certs::random_serial().expect("serial"),
            subject: Name::default(),
            not_before,
            not_after: not_before + 599,
            spki_der: spki,
            extensions,
        };
        // RFC 6962 flow, as the authority's CA issues: the SCT signs the final TBS without
        // the SCT list.
        let tbs_plain = certs::tbs_der(&template, &issuer_name, issuer_key).expect("TBS");
        template.extensions.push(
            certs::ext(
                certs::OID_CT_POISON,
                true,
                der::asn1::Null.to_der().expect("DER"),
            )
            .expect("poison"),
        );
        let precert_tbs = certs::tbs_der(&template, &issuer_name, issuer_key).expect("TBS");
        let precert = certs::sign_tbs(&precert_tbs, issuer_key).expect("precertificate");
        template.extensions.pop();
        let chain: Vec<&[u8]> = if opts.issued_by_root {
            vec![self.root.der()]
        } else {
            vec![self.intermediate.der(), self.root.der()]
        };
        let sct = self
            .ct
            .add_precert(
                &sha256(&issuer_spki),
                &tbs_plain,
                u64::try_from(not_before).unwrap_or(0) * 1000,
                precert.der(),
                &chain,
            )
            .expect("SCT");
        let list = OctetString::new(encode_sct_list(&[sct]).expect("SCT list")).expect("octets");
        template.extensions.push(
            certs::ext(OID_SCT_LIST, false, list.to_der().expect("DER")).expect("SCT extension"),
        );
        let cert = certs::issue(&template, &issuer_name, issuer_key).expect("leaf");
        Leaf { cert, key }
    }

    /// Sign the artifact with a new leaf made with `opts`.
    pub fn sign(&self, opts: &LeafOptions) -> Signed {
        let leaf = self.leaf(opts);
        let signature = leaf.key.sign(&self.artifact).expect("signature");
        Signed { leaf, signature }
    }

    /// The artifact's SHA-256.
    pub fn artifact_sha256(&self) -> [u8; 32] {
        sha256(&self.artifact)
    }

    /// The hashedrekord 0.0.1 body naming `verifier_pem` (a certificate or key PEM).
    pub fn hashedrekord_v001_body(&self, signature: &[u8], verifier_pem: &str) -> Vec<u8> {
        let body = json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(self.artifact_sha256())}},
                "signature": {"content": b64(signature), "publicKey": {"content": b64(verifier_pem.as_bytes())}}
            }
        });
        serde_json::to_vec(&body).expect("JSON")
    }

    /// The dsse 0.0.1 body over `payload` naming `verifier_pem` (certificate or key PEM).
    pub fn dsse_v001_body(&self, payload: &[u8], signature: &[u8], verifier_pem: &str) -> Vec<u8> {
        let body = json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": hex::encode(sha256(&dsse_envelope_json(payload, signature)))},
                "payloadHash": {"algorithm": "sha256", "value": hex::encode(sha256(payload))},
                "signatures": [{"signature": b64(signature), "verifier": b64(verifier_pem.as_bytes())}]
            }
        });
        serde_json::to_vec(&body).expect("JSON")
    }

    /// The hashedrekord 0.0.2 body naming the certificate `cert_der`.
    pub fn hashedrekord_v002_body(&self, signature: &[u8], cert_der: &[u8]) -> Vec<u8> {
        let body = json!({
            "apiVersion": "0.0.2",
            "kind": "hashedrekord",
            "spec": {"hashedRekordV002": {
                "data": {"algorithm": "SHA2_256", "digest": b64(&self.artifact_sha256())},
                "signature": {"content": b64(signature), "verifier": {
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "x509Certificate": {"rawBytes": b64(cert_der)}
                }}
            }}
        });
        serde_json::to_vec(&body).expect("JSON")
    }

    /// The Rekor v1 log ID (SHA-256 of its SPKI).
    pub fn rekor_v1_log_id(&self) -> [u8; 32] {
        sha256(self.rekor_v1_key.public_key().spki_der())
    }

    /// The Rekor v2 log ID: the C2SP key ID `SHA-256(name || 0x0A || 0x01 || key)`.
    pub fn rekor_v2_log_id(&self) -> [u8; 32] {
        let spki = self.rekor_v2_key.public_key().spki_der().to_vec();
        let raw = &spki[spki.len() - 32..];
        let mut msg = REKOR_V2_URL
            .trim_start_matches("https://")
            .as_bytes()
            .to_vec();
        msg.extend_from_slice(&[0x0A, 0x01]);
        msg.extend_from_slice(raw);
        sha256(&msg)
    }

    /// A two-leaf tree (a filler entry, then `body`): proof, root, index 1, size 2.
    fn tree(body: &[u8]) -> (Vec<u8>, [u8; 32]) {
        let filler = merkle::leaf_hash(b"an earlier entry");
        let ours = merkle::leaf_hash(body);
        (filler.to_vec(), merkle::node_hash(&filler, &ours))
    }

    fn checkpoint(
        &self,
        origin: &str,
        name: &str,
        key: &PrivateKey,
        key_id: [u8; 4],
        root: &[u8; 32],
    ) -> String {
        let text = format!("{origin}\n2\n{}\n", b64(root));
        let mut note = Note::new(text.clone()).expect("note");
        note.add_signature(NoteSignature {
            name: name.into(),
            key_id: u32::from_be_bytes(key_id),
            signature: key.sign(text.as_bytes()).expect("checkpoint signature"),
        })
        .expect("signature line");
        String::from_utf8(note.to_bytes()).expect("UTF-8")
    }

    /// A Rekor v1 entry over `body` (kind/version as given): SET, inclusion proof and
    /// checkpoint, all signed by the Rekor v1 key, integrated at `integrated_time`.
    pub fn rekor_v1_entry(
        &self,
        kind: &str,
        version: &str,
        body: &[u8],
        integrated_time: i64,
    ) -> Value {
        let log_id = self.rekor_v1_log_id();
        let log_index = 1;
        let set_payload = json!({
            "body": b64(body),
            "integratedTime": integrated_time,
            "logID": hex::encode(log_id),
            "logIndex": log_index,
        });
        let set = self
            .rekor_v1_key
            .sign(
                serde_json::to_string(&set_payload)
                    .expect("JSON")
                    .as_bytes(),
            )
            .expect("SET");
        let (proof_hash, root) = Self::tree(body);
        let host = REKOR_V1_URL.trim_start_matches("https://");
        let mut hint = [0u8; 4];
        hint.copy_from_slice(&log_id[..4]);
        json!({
            "logIndex": log_index.to_string(),
            "logId": {"keyId": b64(&log_id)},
            "kindVersion": {"kind": kind, "version": version},
            "integratedTime": integrated_time.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": b64(&set)},
            "inclusionProof": {
                "logIndex": "1",
                "rootHash": b64(&root),
                "treeSize": "2",
                "hashes": [b64(&proof_hash)],
                "checkpoint": {"envelope": self.checkpoint(&self.rekor_v1_origin, host, &self.rekor_v1_key, hint, &root)}
            },
            "canonicalizedBody": b64(body),
        })
    }

    /// A Rekor v2 entry over `body`: inclusion proof and checkpoint signed by the v2 key.
    pub fn rekor_v2_entry(&self, kind: &str, version: &str, body: &[u8]) -> Value {
        let log_id = self.rekor_v2_log_id();
        let (proof_hash, root) = Self::tree(body);
        let mut hint = [0u8; 4];
        hint.copy_from_slice(&log_id[..4]);
        let name = REKOR_V2_URL.trim_start_matches("https://");
        json!({
            "logIndex": "1",
            "logId": {"keyId": b64(&log_id)},
            "kindVersion": {"kind": kind, "version": version},
            "inclusionProof": {
                "logIndex": "1",
                "rootHash": b64(&root),
                "treeSize": "2",
                "hashes": [b64(&proof_hash)],
                "checkpoint": {"envelope": self.checkpoint(&self.rekor_v2_origin, name, &self.rekor_v2_key, hint, &root)}
            },
            "canonicalizedBody": b64(body),
        })
    }

    /// A DER `TimeStampResp` by `tsa` over `signature` at `gen_time` (certificates embedded).
    pub fn timestamp_by(&self, tsa: &TsaSigner, signature: &[u8], gen_time: i64) -> Vec<u8> {
        let req = timestamp_request(signature, HashAlgorithm::Sha256, Some(&[7, 7, 7]), true)
            .expect("TimeStampReq");
        tsa.respond(&req, gen_time, &[0x42, 0x17])
            .expect("TimeStampResp")
    }

    /// A new TSA signing certificate and signer under the TSA root.
    pub fn new_tsa(&self, subject: &str, eku: TsaEku) -> (TsaSigner, Certificate) {
        let key = key();
        let cert = tsa_certificate(
            &key,
            subject,
            &self.tsa_root,
            &self.tsa_root_key,
            self.now - 3600,
            eku,
        );
        let signer = TsaSigner::new(key, vec![cert.clone(), self.tsa_root.clone()], TSA_POLICY)
            .expect("TSA signer");
        (signer, cert)
    }

    /// A v0.3 bundle: the leaf, message signature over the artifact, the given tlog
    /// entries and RFC 3161 timestamps (DER `TimeStampResp`s).
    pub fn bundle_json(
        &self,
        signed: &Signed,
        entries: Vec<Value>,
        timestamps: &[Vec<u8>],
    ) -> Value {
        let mut vm = json!({
            "certificate": {"rawBytes": b64(signed.leaf.cert.der())},
            "tlogEntries": entries,
        });
        if !timestamps.is_empty() {
            vm["timestampVerificationData"] = json!({"rfc3161Timestamps":
                timestamps.iter().map(|t| json!({"signedTimestamp": b64(t)})).collect::<Vec<_>>()});
        }
        json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": vm,
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": b64(&self.artifact_sha256())},
                "signature": b64(&signed.signature)
            }
        })
    }

    /// An in-toto statement naming the artifact as its subject.
    pub fn statement(&self) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "artifact", "digest": {"sha256": hex::encode(self.artifact_sha256())}}],
            "predicateType": "https://example.com/forged/v1",
            "predicate": {}
        }))
        .expect("JSON")
    }

    /// Sign `payload` as a DSSE in-toto envelope with a new leaf.
    pub fn sign_dsse(&self, opts: &LeafOptions, payload: &[u8]) -> Signed {
        let leaf = self.leaf(opts);
        let signature = leaf
            .key
            .sign(&dsse_pae(DSSE_TYPE, payload))
            .expect("DSSE signature");
        Signed { leaf, signature }
    }

    /// A Rekor v2 body with a `dsseV002` spec, under the body kind `kind`.
    pub fn dsse_v002_body(
        &self,
        kind: &str,
        payload: &[u8],
        signature: &[u8],
        cert_der: &[u8],
    ) -> Vec<u8> {
        let body = json!({
            "apiVersion": "0.0.2",
            "kind": kind,
            "spec": {"dsseV002": {
                "payloadHash": {"algorithm": "SHA2_256", "digest": b64(&sha256(payload))},
                "signatures": [{"content": b64(signature), "verifier": {
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "x509Certificate": {"rawBytes": b64(cert_der)}
                }}]
            }}
        });
        serde_json::to_vec(&body).expect("JSON")
    }

    /// A v0.3 DSSE bundle over `payload`.
    pub fn dsse_bundle_json(
        &self,
        signed: &Signed,
        payload: &[u8],
        entries: Vec<Value>,
        timestamps: &[Vec<u8>],
    ) -> Value {
        let mut b = self.bundle_json(signed, entries, timestamps);
        let obj = b.as_object_mut().expect("object");
        obj.remove("messageSignature");
        obj.insert(
            "dsseEnvelope".into(),
            serde_json::from_slice(&dsse_envelope_json(payload, &signed.signature)).expect("JSON"),
        );
        b
    }

    /// The honest Rekor v1 bundle: hashedrekord 0.0.1 naming the leaf certificate, SET,
    /// proof and checkpoint; no timestamp.
    pub fn honest_v1(&self, opts: &LeafOptions) -> (Signed, Value) {
        let signed = self.sign(opts);
        let body = self.hashedrekord_v001_body(&signed.signature, &certs::pem(&signed.leaf.cert));
        let entry = self.rekor_v1_entry("hashedrekord", "0.0.1", &body, self.now - 30);
        let bundle = self.bundle_json(&signed, vec![entry], &[]);
        (signed, bundle)
    }

    /// The honest Rekor v2 bundle: hashedrekord 0.0.2 entry and a timestamp by the TSA.
    pub fn honest_v2(&self, opts: &LeafOptions) -> (Signed, Value) {
        let signed = self.sign(opts);
        let body = self.hashedrekord_v002_body(&signed.signature, signed.leaf.cert.der());
        let entry = self.rekor_v2_entry("hashedrekord", "0.0.2", &body);
        let ts = self.timestamp_by(&self.tsa, &signed.signature, self.now - 30);
        let bundle = self.bundle_json(&signed, vec![entry], &[ts]);
        (signed, bundle)
    }

    /// A `validFor` from an hour before `now`, open-ended.
    pub fn valid_for(&self) -> Value {
        json!({"start": rfc3339(self.now - 3600)})
    }

    /// A TSA entry of the trusted root: chain `[leaf, root]`.
    pub fn tsa_entry(&self, cert: &Certificate, valid_for: Value) -> Value {
        json!({
            "subject": {"organization": "chainseal", "commonName": cert.subject_string()},
            "uri": "https://tsa.forged.test",
            "certChain": {"certificates": [{"rawBytes": b64(cert.der())}, {"rawBytes": b64(self.tsa_root.der())}]},
            "validFor": valid_for,
        })
    }

    /// The trusted root listing the CA `[intermediate, root]`, the CT log, both Rekor logs
    /// and the TSA.
    pub fn trusted_root(&self) -> Value {
        let key_json = |k: &PrivateKey, details: &str| json!({"rawBytes": b64(k.public_key().spki_der()), "keyDetails": details, "validFor": self.valid_for()});
        let ct_spki = self.ct.public_key().spki_der().to_vec();
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [
                {"baseUrl": REKOR_V1_URL, "hashAlgorithm": "SHA2_256",
                 "publicKey": key_json(&self.rekor_v1_key, "PKIX_ECDSA_P256_SHA_256"),
                 "logId": {"keyId": b64(&self.rekor_v1_log_id())}},
                {"baseUrl": REKOR_V2_URL, "hashAlgorithm": "SHA2_256",
                 "publicKey": key_json(&self.rekor_v2_key, "PKIX_ED25519"),
                 "logId": {"keyId": b64(&self.rekor_v2_log_id())}}
            ],
            "certificateAuthorities": [{
                "subject": {"organization": "chainseal", "commonName": "forged root"},
                "uri": "https://fulcio.forged.test",
                "certChain": {"certificates": [{"rawBytes": b64(self.intermediate.der())}, {"rawBytes": b64(self.root.der())}]},
                "validFor": self.valid_for(),
            }],
            "ctlogs": [{
                "baseUrl": "https://ct.forged.test", "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": b64(&ct_spki), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": self.valid_for()},
                "logId": {"keyId": b64(&self.ct.log_id())}
            }],
            "timestampAuthorities": [self.tsa_entry(&self.tsa_cert, self.valid_for())],
        })
    }

    /// A client trust config (trusted root + a signing config) as sigstore-python's
    /// `--trust-config` takes it.
    pub fn client_trust_config(&self, trusted_root: &Value) -> Value {
        let signing = chainseal_authority::trustroot::signing_config(
            "https://fulcio.forged.test",
            REKOR_V2_URL,
            self.now - 3600,
        )
        .expect("signing config");
        chainseal_authority::trustroot::client_trust_config(trusted_root, &signing)
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

/// The in-toto DSSE payload type.
pub const DSSE_TYPE: &str = "application/vnd.in-toto+json";

/// The DSSE envelope JSON (as logged and bundled) over `payload` with one signature.
pub fn dsse_envelope_json(payload: &[u8], signature: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&json!({"payload": b64(payload), "payloadType": DSSE_TYPE,
                               "signatures": [{"sig": b64(signature)}]}))
    .expect("JSON")
}

pub use crate::dsse_pae;

fn san_extension(sans: &[San]) -> x509_cert::ext::Extension {
    let names = sans
        .iter()
        .map(|s| match s {
            San::Email(e) => GeneralName::Rfc822Name(Ia5String::new(e).expect("ASCII")),
            San::Uri(u) => {
                GeneralName::UniformResourceIdentifier(Ia5String::new(u).expect("ASCII"))
            }
            San::OtherName { oid, value } => GeneralName::OtherName(OtherName {
                type_id: ObjectIdentifier::new(oid).expect("OID"),
                value: Any::encode_from(&Utf8StringRef::new(value).expect("UTF-8")).expect("value"),
            }),
        })
        .collect();
    certs::ext(OID_SAN, true, SubjectAltName(names).to_der().expect("SAN")).expect("SAN extension")
}

/// A TSA certificate under `issuer` with KU digitalSignature and the given EKU form.
pub fn tsa_certificate(
    key: &PrivateKey,
    subject: &str,
    issuer: &Certificate,
    issuer_key: &PrivateKey,
    not_before: i64,
    eku: TsaEku,
) -> Certificate {
    let spki = key.public_key().spki_der().to_vec();
    let issuer_name = Name::from_der(&issuer.subject_der()).expect("issuer name");
    let [ski, aki] = certs::key_ids(&spki, issuer_key.public_key().spki_der()).expect("key ids");
    let eku_ext = match eku {
        TsaEku::CriticalSole => certs::extended_key_usage(OID_KP_TIME_STAMPING, true),
        TsaEku::NonCritical => certs::extended_key_usage(OID_KP_TIME_STAMPING, false),
        TsaEku::NotSole => certs::ext(
            OID_EXT_KEY_USAGE,
            true,
            vec![OID_KP_TIME_STAMPING, OID_KP_CODE_SIGNING]
                .to_der()
                .expect("EKU"),
        ),
    }
    .expect("EKU");
    let template = Template {
        serial: certs::random_serial().expect("serial"),
        subject: certs::name(subject).expect("name"),
        not_before,
        not_after: issuer.not_after_unix(),
        spki_der: spki,
        extensions: vec![
            certs::basic_constraints(false, None).expect("BC"),
            certs::key_usage(false).expect("KU"),
            eku_ext,
            ski,
            aki,
        ],
    };
    certs::issue(&template, &issuer_name, issuer_key).expect("TSA certificate")
}

/// Write `value` as JSON to `dir/name`; returns the path.
pub fn write_json(dir: &Path, name: &str, value: &Value) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).expect("JSON")).expect("write");
    path
}

/// The outcome of `sigstore verify identity --offline` (sigstore-python) on a bundle.
pub struct PythonVerdict {
    /// Whether it exited 0.
    pub accepted: bool,
    /// Its stderr and stdout.
    pub output: String,
}

/// Run sigstore-python (`.venv/bin/sigstore` of the workspace) on `bundle` over the
/// world's artifact with `trusted_root`, identity [`IDENTITY`] and issuer [`ISSUER`].
/// `None` if sigstore-python is not installed.
pub fn sigstore_python(
    world: &World,
    trusted_root: &Value,
    bundle: &Value,
) -> Option<PythonVerdict> {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/sigstore");
    if !bin.exists() {
        return None;
    }
    let dir = std::env::temp_dir().join(format!(
        "chainseal-forged-{}-{}",
        std::process::id(),
        hex::encode(sha256(&serde_json::to_vec(bundle).unwrap_or_default()))
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = write_json(
        &dir,
        "client_trust_config.json",
        &world.client_trust_config(trusted_root),
    );
    let bundle_path = write_json(&dir, "artifact.sigstore.json", bundle);
    let artifact = dir.join("artifact");
    std::fs::write(&artifact, &world.artifact).expect("artifact");
    let out = std::process::Command::new(&bin)
        .arg("--trust-config")
        .arg(&config)
        .arg("verify")
        .arg("identity")
        .arg("--offline")
        .arg("--bundle")
        .arg(&bundle_path)
        .arg("--cert-identity")
        .arg(IDENTITY)
        .arg("--cert-oidc-issuer")
        .arg(ISSUER)
        .arg(&artifact)
        .output()
        .expect("run sigstore-python");
    let _ = std::fs::remove_dir_all(&dir);
    Some(PythonVerdict {
        accepted: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ),
    })
}
